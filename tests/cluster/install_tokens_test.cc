#include "cluster/install_tokens.h"

#include <gtest/gtest.h>

namespace gc {
namespace {

constexpr int64_t kNow = 1'000'000'000'000;

TEST(InstallTokensTest, ATokenIsSpentOnceAndOnlyByItsNode) {
  InstallTokens tokens;
  std::string one = tokens.Issue("mosix1", kNow);
  std::string two = tokens.Issue("mosix2", kNow);
  EXPECT_EQ(one.size(), 32u);
  EXPECT_NE(one, two);
  EXPECT_EQ(tokens.outstanding(), 2u);
  Status wrong = tokens.Redeem("mosix1", two, kNow);
  EXPECT_EQ(wrong.code(), Code::kUnauthorized);
  // A node without a token and one with another token answer alike: no
  // one learns which nodes are booting.
  Status none = tokens.Redeem("mosix9", two, kNow);
  EXPECT_EQ(none.message(), wrong.message().substr(0, wrong.message().find("mosix1")) + "mosix9" +
                                wrong.message().substr(wrong.message().find("mosix1") + 6));
  EXPECT_EQ(tokens.Redeem("mosix3", one, kNow).code(), Code::kUnauthorized);
  EXPECT_EQ(tokens.Redeem("mosix1", "", kNow).code(), Code::kUnauthorized);
  EXPECT_TRUE(tokens.Redeem("mosix1", one, kNow).ok());
  Status again = tokens.Redeem("mosix1", one, kNow);
  EXPECT_EQ(again.code(), Code::kUnauthorized);
  EXPECT_NE(again.message().find("reboot the node"), std::string::npos) << again.message();
  EXPECT_EQ(tokens.outstanding(), 1u);
}

TEST(InstallTokensTest, OnlyTheLatestTokenCountsAndTokensExpire) {
  InstallTokens tokens;
  std::string first = tokens.Issue("mosix1", kNow);
  std::string second = tokens.Issue("mosix1", kNow + 1);
  EXPECT_EQ(tokens.outstanding(), 1u);
  EXPECT_EQ(tokens.Redeem("mosix1", first, kNow + 2).code(), Code::kUnauthorized);
  // The wrong guess above did not spend the right one.
  EXPECT_TRUE(tokens.Redeem("mosix1", second, kNow + 2).ok());

  std::string late = tokens.Issue("mosix2", kNow);
  Status expired = tokens.Redeem("mosix2", late, kNow + kInstallTokenLifetimeNs);
  EXPECT_EQ(expired.code(), Code::kUnauthorized);
  EXPECT_NE(expired.message().find("expired"), std::string::npos) << expired.message();
  EXPECT_EQ(tokens.outstanding(), 0u);

  // Expired tokens of nodes that never came back are dropped.
  tokens.Issue("mosix3", kNow);
  tokens.Issue("mosix4", kNow + 2 * kInstallTokenLifetimeNs);
  EXPECT_EQ(tokens.outstanding(), 1u);
}

}  // namespace
}  // namespace gc
