// POST /v1/node/redeem (docs/node-api.md): a booting node trades the
// one-time install token of its boot script (cluster/install_tokens.h) for
// its long-term secret. The request has no body: the node's name and the
// token travel as the headers every node API call has (X-Goldcast-Node,
// Authorization: Bearer). The answer is this object.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace gc {

constexpr char kRedeemPath[] = "/v1/node/redeem";

struct RedeemAnswer {
  std::string secret;  // 32 lowercase hex digits
};

std::string EncodeRedeemAnswer(const RedeemAnswer& answer);
// Network input: a secret that is not 32 lowercase hex digits is
// kInvalidArgument "redeem answer: field secret: ...".
Result<RedeemAnswer> DecodeRedeemAnswer(std::string_view body);

}  // namespace gc
