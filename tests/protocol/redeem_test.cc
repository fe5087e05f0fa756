#include "protocol/redeem.h"

#include <gtest/gtest.h>

namespace gc {
namespace {

TEST(RedeemAnswerTest, RoundTrip) {
  auto answer = DecodeRedeemAnswer(EncodeRedeemAnswer({"00112233445566778899aabbccddeeff"}));
  ASSERT_TRUE(answer.ok()) << answer.status().message();
  EXPECT_EQ(answer->secret, "00112233445566778899aabbccddeeff");
}

TEST(RedeemAnswerTest, RefusesWhatIsNotASecret) {
  for (const char* body :
       {R"({})", R"({"secret": 5})", R"({"secret": ""})", R"({"secret": "../../etc/passwd"})",
        R"({"secret": "00112233445566778899AABBCCDDEEFF"})",
        R"({"secret": "00112233445566778899aabbccddeeff00"})", "not json", "[]"}) {
    auto answer = DecodeRedeemAnswer(body);
    ASSERT_FALSE(answer.ok()) << body;
    EXPECT_EQ(answer.status().code(), Code::kInvalidArgument) << body;
    EXPECT_NE(answer.status().message().find("redeem answer"), std::string::npos)
        << answer.status().message();
  }
}

}  // namespace
}  // namespace gc
