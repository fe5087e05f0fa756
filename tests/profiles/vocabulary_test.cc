#include "profiles/vocabulary.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace gc {
namespace {

using ::testing::HasSubstr;

TEST(MacTest, Normalizes) {
  EXPECT_EQ(*NormalizeMac("52:54:00:AB:cd:01"), "52:54:00:ab:cd:01");
  EXPECT_EQ(*NormalizeMac("52-54-00-ab-cd-01"), "52:54:00:ab:cd:01");
  EXPECT_EQ(*NormalizeMac("FF:FF:FF:FF:FF:FF"), "ff:ff:ff:ff:ff:ff");  // syntax only
  for (const char* bad : {"", "52:54:00:ab:cd", "52:54:00:ab:cd:01:02", "52:54-00:ab:cd:01",
                          "5:54:00:ab:cd:01:0", "52:54:00:ab:cd:0g", "525400abcd01",
                          "52.54.00.ab.cd.01", " 52:54:00:ab:cd:01", "52:54:00:ab:cd:01 "}) {
    auto mac = NormalizeMac(bad);
    EXPECT_FALSE(mac.ok()) << bad;
    if (!mac.ok()) {
      EXPECT_THAT(mac.status().message(), HasSubstr("is not a MAC address")) << bad;
    }
  }
}

TEST(Ipv4Test, ParsesStrictly) {
  EXPECT_EQ(*ParseIpv4("0.0.0.0"), 0u);
  EXPECT_EQ(*ParseIpv4("255.255.255.255"), 0xffffffffu);
  EXPECT_EQ(*ParseIpv4("10.77.0.1"), 0x0a4d0001u);
  EXPECT_EQ(*ParseIpv4("192.168.100.20"), 0xc0a86414u);
  for (const char* bad :
       {"",           "1.2.3",      "1.2.3.4.",  "1.2.3.4.5", ".1.2.3",
        "1..2.3",     "256.0.0.1",  "1.2.3.256", "01.2.3.4",  "1.2.3.00",
        "1.2.3.0004", " 1.2.3.4",   "1.2.3.4 ",  "+1.2.3.4",  "1.2.3.-4",
        "0x1.2.3.4",  "1.2.3.4/24", "a.b.c.d",   "1.2.3.4\n", "99999999999.1.1.1"}) {
    auto address = ParseIpv4(bad);
    EXPECT_FALSE(address.ok()) << bad;
    if (!address.ok()) {
      EXPECT_THAT(address.status().message(), HasSubstr("is not an IPv4 address")) << bad;
    }
  }
}

TEST(Ipv4Test, FormatRoundTrips) {
  for (const char* text : {"0.0.0.0", "10.77.0.1", "172.16.254.3", "255.255.255.255"}) {
    auto address = ParseIpv4(text);
    ASSERT_TRUE(address.ok()) << text;
    EXPECT_EQ(FormatIpv4(*address), text);
  }
  Ipv4Range range{*ParseIpv4("10.0.0.10"), *ParseIpv4("10.0.0.19")};
  EXPECT_EQ(range.size(), 10u);
  EXPECT_TRUE(range.Contains(*ParseIpv4("10.0.0.19")));
  EXPECT_FALSE(range.Contains(*ParseIpv4("10.0.0.20")));
  EXPECT_EQ((Ipv4Range{0, 0xffffffffu}.size()), uint64_t{1} << 32);
}

TEST(BootModeTest, NamesRoundTrip) {
  for (BootMode mode : {BootMode::kInstall, BootMode::kDiskless, BootMode::kLocal}) {
    auto parsed = ParseBootMode(BootModeName(mode));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, mode);
  }
  EXPECT_STREQ(BootModeName(BootMode::kDiskless), "diskless");
  auto bad = ParseBootMode("Install");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "'Install' is not one of install, diskless, local");
}

TEST(Ipv4RangeTest, ParsesAndFormats) {
  auto range = ParseIpv4Range("10.77.0.100-10.77.0.199");
  ASSERT_TRUE(range.ok()) << range.status().message();
  EXPECT_EQ(range->size(), 100u);
  EXPECT_EQ(FormatIpv4Range(*range), "10.77.0.100-10.77.0.199");
  range = ParseIpv4Range("10.77.0.101 - 10.77.0.101");  // spaces around '-', one address
  ASSERT_TRUE(range.ok()) << range.status().message();
  EXPECT_EQ(range->size(), 1u);
  for (const char* bad : {"", "10.77.0.100", "10.77.0.100-", "-10.77.0.1", "10.77.0.1-10.77.0.x",
                          "10.77.0.1--10.77.0.2"}) {
    auto parsed = ParseIpv4Range(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    if (!parsed.ok()) {
      EXPECT_THAT(parsed.status().message(), HasSubstr("is not an address range")) << bad;
    }
  }
  EXPECT_EQ(ParseIpv4Range("10.77.0.200-10.77.0.100").status().message(),
            "'10.77.0.200-10.77.0.100' runs backwards (expected the lower address first)");
}

TEST(DhcpModeTest, NamesRoundTrip) {
  for (DhcpMode mode : {DhcpMode::kAuthoritative, DhcpMode::kProxy}) {
    auto parsed = ParseDhcpMode(DhcpModeName(mode));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, mode);
  }
  EXPECT_STREQ(DhcpModeName(DhcpMode::kProxy), "proxy");
  EXPECT_EQ(ParseDhcpMode("authorative").status().message(),
            "'authorative' is not one of authoritative, proxy");
}

}  // namespace
}  // namespace gc
