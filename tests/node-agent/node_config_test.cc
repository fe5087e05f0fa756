#include "node-agent/node_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace gc {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kSecret[] = "00ff7a9c";

std::string ValidJson() {
  return R"({"format": 1, "server": "http://10.77.0.1:8470", "node": "mosix3",
             "secret": "00ff7a9c", "image": "compute@2", "kernel": "migration-6.1@1",
             "cluster_files": ["etc/openmosix.map", "etc/calib"]})";
}

// Replaces the first occurrence of `from` in the valid document.
std::string ValidJsonWith(const std::string& from, const std::string& to) {
  std::string text = ValidJson();
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(ParseNodeConfigTest, ReadsEveryField) {
  Result<NodeConfig> config = ParseNodeConfig(ValidJson(), "/etc/goldcast/node.json");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->server, "http://10.77.0.1:8470");
  EXPECT_EQ(config->node, "mosix3");
  EXPECT_EQ(config->secret, kSecret);
  EXPECT_EQ(config->image, "compute@2");
  EXPECT_EQ(config->kernel, "migration-6.1@1");
  EXPECT_THAT(config->cluster_files, ElementsAre("etc/openmosix.map", "etc/calib"));
}

TEST(ParseNodeConfigTest, OptionalFieldsMayBeAbsentOrNull) {
  Result<NodeConfig> config = ParseNodeConfig(
      R"({"format": 1, "server": "https://srv", "node": "n1", "secret": "ab", "kernel": null})",
      "node.json");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->image, "");
  EXPECT_EQ(config->kernel, "");
  EXPECT_TRUE(config->cluster_files.empty());
}

TEST(ParseNodeConfigTest, RoundTripsThroughSerialize) {
  Result<NodeConfig> config = ParseNodeConfig(ValidJson(), "a");
  ASSERT_TRUE(config.ok());
  std::string text = SerializeNodeConfig(*config);
  EXPECT_EQ(text.back(), '\n');
  EXPECT_LT(text.find("\"format\""), text.find("\"server\"")) << "documented field order";
  Result<NodeConfig> again = ParseNodeConfig(text, "b");
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->server, config->server);
  EXPECT_EQ(again->node, config->node);
  EXPECT_EQ(again->secret, config->secret);
  EXPECT_EQ(again->image, config->image);
  EXPECT_EQ(again->kernel, config->kernel);
  EXPECT_EQ(again->cluster_files, config->cluster_files);
}

struct BadCase {
  std::string text;
  std::string expected;  // substring of the error
};

TEST(ParseNodeConfigTest, RejectsWithSourceAndField) {
  const BadCase cases[] = {
      {"{", "not valid JSON"},
      {"[1]", "expected a JSON object"},
      {ValidJsonWith("\"format\": 1", "\"format\": 2"), "field 'format'"},
      {ValidJsonWith("\"format\": 1", "\"format\": \"1\""), "field 'format'"},
      {ValidJsonWith("\"format\": 1,", ""), "field 'format': missing"},
      {ValidJsonWith("\"server\": \"http://10.77.0.1:8470\",", ""), "field 'server': missing"},
      {ValidJsonWith("\"node\": \"mosix3\"", "\"node\": 3"), "field 'node': expected a string"},
      {ValidJsonWith("\"secret\": \"00ff7a9c\",", ""), "field 'secret': missing"},
      {ValidJsonWith("00ff7a9c", "not-hex"), "field 'secret': is not hexadecimal"},
      {ValidJsonWith("http://10.77.0.1:8470", "ftp://x"), "field 'server'"},
      {ValidJsonWith("http://10.77.0.1:8470", "http://"), "names no host"},
      {ValidJsonWith("mosix3", "mosix 3"), "field 'node'"},
      {ValidJsonWith("mosix3", ""), "field 'node': is empty"},
      {ValidJsonWith("compute@2", "compute"), "field 'image'"},
      {ValidJsonWith("migration-6.1@1", "tiny@x"), "field 'kernel'"},
      {ValidJsonWith("\"image\": \"compute@2\"", "\"image\": []"), "field 'image'"},
      {ValidJsonWith("[\"etc/openmosix.map\", \"etc/calib\"]", "\"etc/x\""),
       "field 'cluster_files': expected an array"},
      {ValidJsonWith("\"etc/calib\"", "7"), "field 'cluster_files': item 1"},
      {ValidJsonWith("etc/calib", "../etc/shadow"), "field 'cluster_files'"},
      {ValidJsonWith("etc/calib", "/etc/calib"), "field 'cluster_files'"},
  };
  for (const BadCase& c : cases) {
    Result<NodeConfig> config = ParseNodeConfig(c.text, "/etc/goldcast/node.json");
    ASSERT_FALSE(config.ok()) << c.text;
    EXPECT_EQ(config.status().code(), Code::kInvalidArgument) << c.text;
    EXPECT_THAT(config.status().message(), HasSubstr("/etc/goldcast/node.json: ")) << c.text;
    EXPECT_THAT(config.status().message(), HasSubstr(c.expected)) << c.text;
  }
}

TEST(NodeConfigFromCmdlineTest, ReadsGoldcastWords) {
  Result<NodeConfig> config = NodeConfigFromCmdline(
      "BOOT_IMAGE=/vmlinuz console=ttyS0 goldcast.server=http://10.77.0.1:8470/ "
      "goldcast.node=mosix3\tgoldcast.token=00FF goldcast.image=compute@2 "
      "goldcast.kernel=\"tiny@1\" quiet\n");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->server, "http://10.77.0.1:8470/");
  EXPECT_EQ(config->node, "mosix3");
  EXPECT_EQ(config->token, "00FF");
  EXPECT_EQ(config->secret, "");  // a command line never holds the secret
  EXPECT_EQ(config->image, "compute@2");
  EXPECT_EQ(config->kernel, "tiny@1");
  EXPECT_TRUE(config->cluster_files.empty());
  // The token is not the node's configuration.
  EXPECT_EQ(SerializeNodeConfig(*config).find("00FF"), std::string::npos);
}

TEST(NodeConfigFromCmdlineTest, ThePinOfTheServersKey) {
  const std::string pin = "sha256//8Rfh6IpDwPAC0NuB1spZaUjnhwOYY3eekH1O3wH7zbY=";
  Result<NodeConfig> config = NodeConfigFromCmdline(
      "goldcast.server=https://10.77.0.1:8471 goldcast.node=n goldcast.token=aa goldcast.pin=" +
      pin);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->pin, pin);
  // It is kept in node.json.
  config->secret = "00ff";
  Result<NodeConfig> again = ParseNodeConfig(SerializeNodeConfig(*config), "node.json");
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->pin, pin);
  // Two pins while the server changes its key.
  EXPECT_TRUE(NodeConfigFromCmdline("goldcast.server=https://a goldcast.node=n goldcast.token=aa "
                                    "goldcast.pin=" +
                                    pin + ";" + pin)
                  .ok());
  struct Case {
    std::string cmdline, problem;
  } cases[] = {
      {"goldcast.server=http://a goldcast.node=n goldcast.token=aa goldcast.pin=" + pin,
       "goldcast.pin=: is set, but server 'http://a' is not https://"},
      {"goldcast.server=https://a goldcast.node=n goldcast.token=aa goldcast.pin=sha256//x",
       "goldcast.pin=: 'sha256//x' is not sha256//<44 base64 characters>"},
      {"goldcast.server=https://a goldcast.node=n goldcast.token=aa goldcast.pin=/etc/passwd",
       "is not sha256//"},
  };
  for (const Case& c : cases) {
    Result<NodeConfig> bad = NodeConfigFromCmdline(c.cmdline);
    ASSERT_FALSE(bad.ok()) << c.cmdline;
    EXPECT_THAT(bad.status().message(), HasSubstr(c.problem));
  }
}

TEST(NodeConfigFromCmdlineTest, LastRepeatWinsAndOptionalsMayMiss) {
  Result<NodeConfig> config = NodeConfigFromCmdline(
      "goldcast.server=http://a goldcast.node=n goldcast.token=aa goldcast.node=m");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->node, "m");
  EXPECT_EQ(config->image, "");
  EXPECT_EQ(config->kernel, "");
}

TEST(NodeConfigFromCmdlineTest, NamesTheMissingWord) {
  struct Case {
    const char* cmdline;
    const char* missing;
  } cases[] = {
      {"quiet goldcast.node=n goldcast.token=aa", "goldcast.server="},
      {"goldcast.server=http://a goldcast.token=aa", "goldcast.node="},
      {"goldcast.server=http://a goldcast.node=n", "goldcast.token="},
      {"goldcast.server=http://a goldcast.node=n goldcast.token=", "goldcast.token="},
      // The secret on a command line was the old way: no longer read.
      {"goldcast.server=http://a goldcast.node=n goldcast.secret=aa", "goldcast.token="},
      {"", "goldcast.server="},
  };
  for (const Case& c : cases) {
    Result<NodeConfig> config = NodeConfigFromCmdline(c.cmdline);
    ASSERT_FALSE(config.ok()) << c.cmdline;
    EXPECT_THAT(config.status().message(),
                HasSubstr("kernel command line: no " + std::string(c.missing)));
  }
}

TEST(NodeConfigFromCmdlineTest, ValidatesValuesNamingTheWord) {
  Result<NodeConfig> config =
      NodeConfigFromCmdline("goldcast.server=10.0.0.1 goldcast.node=n goldcast.token=aa");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("goldcast.server="));
  config = NodeConfigFromCmdline("goldcast.server=http://a goldcast.node=a/b goldcast.token=aa");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("goldcast.node="));
  config = NodeConfigFromCmdline("goldcast.server=http://a goldcast.node=n goldcast.token=zz");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("goldcast.token=: is not hexadecimal"));
}

}  // namespace
}  // namespace gc
