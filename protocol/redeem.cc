#include "protocol/redeem.h"

#include "protocol/json_fields.h"

namespace gc {

namespace {
constexpr size_t kSecretDigits = 32;
constexpr size_t kMaxAnswerBytes = 4096;
}  // namespace

std::string EncodeRedeemAnswer(const RedeemAnswer& answer) {
  OrderedJson doc;
  doc["secret"] = answer.secret;
  return DumpJson(doc);
}

Result<RedeemAnswer> DecodeRedeemAnswer(std::string_view body) {
  GC_ASSIGN_OR_RETURN(Json doc, ParseJsonObject(body, "redeem answer", kMaxAnswerBytes));
  JsonFields fields(doc, "redeem answer");
  RedeemAnswer answer;
  GC_RETURN_IF_ERROR(fields.String("secret", &answer.secret, JsonFields::kRequired));
  bool hex = answer.secret.size() == kSecretDigits;
  for (char c : answer.secret) hex = hex && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (!hex) return fields.Bad("secret", "is not 32 lowercase hex digits");
  return answer;
}

}  // namespace gc
