#include "profiles/yaml_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>

namespace gc {
namespace {

using ::testing::StartsWith;

// The one format both loaders report in: FILE:LINE:COL: FIELD.PATH: problem.
TEST(YamlReaderTest, SectionsRefuseUnknownKeysAndNameMissingOnes) {
  YamlReader yaml("x.yaml");
  auto top = yaml.LoadDocument("a: 1\nsub:\n  b: x\n  c: y\n", 1024, "a test", {"a", "sub"});
  ASSERT_TRUE(top.ok()) << top.status().message();
  const YamlField* sub = top->Get("sub");
  ASSERT_NE(sub, nullptr);
  EXPECT_EQ(yaml.Map(*sub, {"b"}).status().message(),
            "x.yaml:4:3: sub.c: unknown key (allowed: b; check the spelling)");
  auto section = yaml.Map(*sub, {"b", "c", "d"});
  ASSERT_TRUE(section.ok());
  EXPECT_EQ(yaml.Require(*section, "d", "a d").status().message(),
            "x.yaml:2:1: sub.d: missing (required: a d)");
  EXPECT_EQ(*yaml.Number(*top->Get("a"), 0, 9), 1);
  EXPECT_EQ(yaml.Number(*top->Get("a"), 2, 9).status().message(),
            "x.yaml:1:4: a: 1 is out of range (expected a number from 2 to 9)");
  EXPECT_THAT(yaml.LoadDocument("- 1\n", 1024, "a test", {"a"}).status().message(),
              StartsWith("x.yaml:1:1: expected a map (with keys a), got a list"));
}

TEST(YamlReaderTest, ItemsAreNamedByPosition) {
  YamlReader yaml("x.yaml");
  auto top = yaml.LoadDocument("l: [a, [b]]\nm: x\n", 1024, "a test", {"l", "m"});
  ASSERT_TRUE(top.ok()) << top.status().message();
  auto items = yaml.Items(*top->Get("l"), "words");
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 2u);
  EXPECT_EQ((*items)[0].path, "l[0]");
  EXPECT_EQ(yaml.Text((*items)[1], "a word").status().message(),
            "x.yaml:1:8: l[1]: expected a word, got a list");
  EXPECT_EQ(yaml.Items(*top->Get("m"), "words").status().message(),
            "x.yaml:2:4: m: expected a list of words, got a single value");
}

TEST(YamlReaderTest, GuardKeepsExceptionsInside) {
  YamlReader yaml("x.yaml");
  auto result = yaml.Guard<int>("thing", []() -> Result<int> { throw std::runtime_error("boom"); });
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(), "x.yaml:1:1: cannot read the thing: boom");
  EXPECT_EQ(*yaml.Guard<int>("thing", []() -> Result<int> { return 7; }), 7);
}

TEST(YamlReaderTest, ValuesAndKeysInMessagesAreEscaped) {
  EXPECT_EQ(QuoteValue("a\x1b[0m"), "'a\\x1b[0m'");
  EXPECT_EQ(QuoteValue(std::string(100, 'x')), "'" + std::string(80, 'x') + "...'");
  EXPECT_EQ(ChildPath("a", "b"), "a.b");
  EXPECT_EQ(ChildPath("", "b c"), "'b c'");
  EXPECT_EQ(ChildPath("a", "\xff"), "a.'\\xff'");
  int64_t value = 0;
  EXPECT_TRUE(ParsePlainDecimal("120", &value));
  EXPECT_EQ(value, 120);
  EXPECT_FALSE(ParsePlainDecimal("010", &value));  // YAML 1.1 octal: ambiguous
  EXPECT_FALSE(ParsePlainDecimal("1234567890", &value));
}

}  // namespace
}  // namespace gc
