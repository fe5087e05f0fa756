#include "kernel-build/config_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace gc {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// A small tree in the shape of the real one: E1000 depends on PCI inside
// `if NETDEVICES`; VIRTIO_NET is a tristate that a tristate dependency can
// hold at m; NEEDED has no prompt and is selected by WIRED.
const std::map<std::string, std::string> kTree = {
    {"Kconfig",
     "config MODULES\n\tbool \"modules\"\n"
     "config PCI\n\tbool \"PCI support\"\n"
     "config NET\n\tbool \"Networking\"\n"
     "menuconfig NETDEVICES\n\tbool \"Network devices\"\n\tdepends on NET\n"
     "if NETDEVICES\n"
     "config E1000\n\ttristate \"e1000\"\n\tdepends on PCI\n"
     "config VIRTIO_NET\n\ttristate \"virtio net\"\n\tdepends on VIRTIO\n"
     "endif\n"
     "config VIRTIO\n\ttristate \"virtio\"\n\tdepends on MODULES || PCI\n"
     "config WIRED\n\tbool \"wired\"\n\tselect NEEDED\n"
     "config NEEDED\n\tbool\n"
     "config LOG_BUF_SHIFT\n\tint \"Kernel log buffer size\"\n\trange 12 25\n"
     "config PHYSICAL_START\n\thex \"Physical address\"\n"
     "config LOCALVERSION\n\tstring \"Local version\"\n"},
};

KconfigIndex Index() { return KconfigIndex::FromFiles(kTree, "Kconfig", "x86"); }

RequiredOption Option(const std::string& name, RequiredKind kind, const std::string& value) {
  RequiredOption option;
  option.name = name;
  option.kind = kind;
  option.value = value;
  option.line = 12;
  return option;
}

std::vector<std::string> Verify(const std::vector<RequiredOption>& required,
                                const std::string& resolved) {
  return VerifyRequiredOptions(required, ParseDotConfig(resolved), Index());
}

TEST(ConfigCheckTest, AllSatisfied) {
  auto problems =
      Verify({Option("CONFIG_PCI", RequiredKind::kBuiltIn, "y"),
              Option("CONFIG_E1000", RequiredKind::kModule, "m"),
              Option("CONFIG_MODULES", RequiredKind::kOff, "n"),
              Option("CONFIG_WIRED", RequiredKind::kOff, "n"),
              Option("CONFIG_LOG_BUF_SHIFT", RequiredKind::kNumber, "17"),
              Option("CONFIG_PHYSICAL_START", RequiredKind::kNumber, "0x1000000"),
              Option("CONFIG_LOCALVERSION", RequiredKind::kString, "-om \"1\"")},
             "CONFIG_PCI=y\nCONFIG_E1000=m\n# CONFIG_MODULES is not set\nCONFIG_LOG_BUF_SHIFT=17\n"
             "CONFIG_PHYSICAL_START=0x1000000\nCONFIG_LOCALVERSION=\"-om \\\"1\\\"\"\n");
  // WIRED is absent: "n required" accepts absent as well as "is not set".
  EXPECT_THAT(problems, IsEmpty());
}

TEST(ConfigCheckTest, ModuleWhenBuiltInRequiredNamesTheLimitingDependency) {
  auto problems = Verify({Option("CONFIG_VIRTIO_NET", RequiredKind::kBuiltIn, "y")},
                         "CONFIG_MODULES=y\nCONFIG_NET=y\nCONFIG_NETDEVICES=y\nCONFIG_VIRTIO=m\n"
                         "CONFIG_VIRTIO_NET=m\n");
  ASSERT_THAT(problems, SizeIs(1));
  EXPECT_THAT(problems[0],
              HasSubstr("CONFIG_VIRTIO_NET resolved to m (module); it must be built in (=y)"));
  EXPECT_THAT(problems[0], HasSubstr("limited to m by 'depends on VIRTIO' (Kconfig:16)"));
  EXPECT_THAT(problems[0], HasSubstr("VIRTIO=m"));
}

TEST(ConfigCheckTest, AbsentOptionNamesItsUnmetDependency) {
  auto problems = Verify({Option("CONFIG_E1000", RequiredKind::kBuiltIn, "y")},
                         "CONFIG_NET=y\nCONFIG_NETDEVICES=y\n# CONFIG_PCI is not set\n");
  ASSERT_THAT(problems, SizeIs(1));
  EXPECT_THAT(problems[0], HasSubstr("CONFIG_E1000 (required =y) is absent from the resolved"));
  EXPECT_THAT(problems[0], HasSubstr("unmet: 'depends on PCI' (Kconfig:13) with PCI=n"));
  EXPECT_THAT(problems[0], ::testing::Not(HasSubstr("NETDEVICES")))
      << "only the unmet conditions are listed";
}

TEST(ConfigCheckTest, AbsentBecauseOfAnEnclosingIf) {
  auto problems = Verify({Option("CONFIG_E1000", RequiredKind::kBuiltIn, "y")},
                         "CONFIG_PCI=y\n# CONFIG_NET is not set\n");
  ASSERT_THAT(problems, SizeIs(1));
  EXPECT_THAT(problems[0],
              HasSubstr("unmet: 'if NETDEVICES' (Kconfig:10) with NETDEVICES=n (absent)"));
}

TEST(ConfigCheckTest, UnknownSymbolPointsAtTheMissingPatch) {
  std::vector<RequiredOption> required = {Option("CONFIG_MOSIX", RequiredKind::kBuiltIn, "y"),
                                          Option("CONFIG_MOSIX_FS", RequiredKind::kOff, "n")};
  EXPECT_THAT(UnknownRequiredOptions(required, Index()),
              ElementsAre("CONFIG_MOSIX (recipe line 12) does not exist in this tree (is the "
                          "patch that adds it in the series?)"));
  auto problems = Verify(required, "CONFIG_PCI=y\n");
  ASSERT_THAT(problems, SizeIs(1));
  EXPECT_THAT(problems[0], HasSubstr("CONFIG_MOSIX does not exist in this tree"));
}

TEST(ConfigCheckTest, OffRequiredButSelected) {
  auto problems = Verify({Option("CONFIG_NEEDED", RequiredKind::kOff, "n")},
                         "CONFIG_WIRED=y\nCONFIG_NEEDED=y\n");
  ASSERT_THAT(problems, SizeIs(1));
  EXPECT_THAT(problems[0], HasSubstr("CONFIG_NEEDED (required =n) must be off but resolved to y"));
  EXPECT_THAT(problems[0], HasSubstr("selected by WIRED=y"));
}

TEST(ConfigCheckTest, PromptlessOptionExplainsWhyItCannotBeSet) {
  auto problems =
      Verify({Option("CONFIG_NEEDED", RequiredKind::kBuiltIn, "y")}, "# CONFIG_WIRED is not set\n");
  ASSERT_THAT(problems, SizeIs(1));
  EXPECT_THAT(problems[0], HasSubstr("it has no prompt"));
  EXPECT_THAT(problems[0], HasSubstr("selected by WIRED"));
}

TEST(ConfigCheckTest, NumbersAndStrings) {
  auto problems = Verify(
      {Option("CONFIG_LOG_BUF_SHIFT", RequiredKind::kNumber, "17"),
       Option("CONFIG_PHYSICAL_START", RequiredKind::kNumber, "16777216"),
       Option("CONFIG_LOCALVERSION", RequiredKind::kString, "-om1")},
      "CONFIG_LOG_BUF_SHIFT=12\nCONFIG_PHYSICAL_START=0x1000000\nCONFIG_LOCALVERSION=\"-om2\"\n");
  ASSERT_THAT(problems, SizeIs(2));
  // 0x1000000 == 16777216: numbers compare by value.
  EXPECT_THAT(problems[0],
              HasSubstr("CONFIG_LOG_BUF_SHIFT (required =17) resolved to 12; its Kconfig allows "
                        "range 12 25 (Kconfig:26)"));
  EXPECT_THAT(problems[1], HasSubstr("CONFIG_LOCALVERSION (required =\"-om1\") resolved to "
                                     "\"-om2\""));
}

TEST(ConfigCheckTest, MergeReplacesExistingLinesAndAppendsRequired) {
  std::string merged = MergeRequiredOptions(
      "CONFIG_PCI=y\n# CONFIG_MODULES is not set\nCONFIG_E1000=m\nCONFIG_NETX=y\n",
      {Option("CONFIG_E1000", RequiredKind::kBuiltIn, "y"),
       Option("CONFIG_MODULES", RequiredKind::kOff, "n"),
       Option("CONFIG_LOCALVERSION", RequiredKind::kString, "a\"b")});
  EXPECT_EQ(merged,
            "CONFIG_PCI=y\nCONFIG_NETX=y\n# goldcast: required options of the recipe\n"
            "CONFIG_E1000=y\n# CONFIG_MODULES is not set\nCONFIG_LOCALVERSION=\"a\\\"b\"\n");
}

TEST(ConfigCheckTest, ProblemsBecomeOneMessage) {
  EXPECT_TRUE(ProblemsToStatus({}, "x").ok());
  Status status = ProblemsToStatus({"first", "second"}, "required options failed");
  EXPECT_EQ(status.code(), Code::kInvalidArgument);
  EXPECT_EQ(status.message(), "required options failed:\n  - first\n  - second");
}

}  // namespace
}  // namespace gc
