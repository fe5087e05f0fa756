#include "kernel-build/kconfig.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace gc {
namespace {

using ::testing::HasSubstr;

TEST(DotConfigTest, ParsesValuesAndNotSetLines) {
  DotConfig config = ParseDotConfig(
      "#\n# Automatically generated file; DO NOT EDIT.\n#\nCONFIG_64BIT=y\nCONFIG_E1000=m\n"
      "CONFIG_LOG_BUF_SHIFT=17\nCONFIG_LOCALVERSION=\"-om1\"\n# CONFIG_MODULES is not set\n"
      "# CONFIG_X86_32 is a comment, not a setting\n");
  EXPECT_EQ(config.size(), 5u);
  EXPECT_EQ(config["CONFIG_64BIT"], "y");
  EXPECT_EQ(config["CONFIG_E1000"], "m");
  EXPECT_EQ(config["CONFIG_LOG_BUF_SHIFT"], "17");
  EXPECT_EQ(config["CONFIG_LOCALVERSION"], "\"-om1\"");
  EXPECT_EQ(config["CONFIG_MODULES"], "n");
  EXPECT_EQ(config.count("CONFIG_X86_32"), 0u);
}

TEST(KconfigExprTest, EvaluatesTristateLogic) {
  DotConfig config = ParseDotConfig(
      "CONFIG_PCI=y\nCONFIG_NET=y\nCONFIG_VIRTIO=m\n# CONFIG_MODULES is not set\n"
      "CONFIG_LOG_BUF_SHIFT=17\nCONFIG_STR=\"abc\"\n");
  EXPECT_EQ(EvalKconfigExpr("PCI", config), 2);
  EXPECT_EQ(EvalKconfigExpr("VIRTIO", config), 1);
  EXPECT_EQ(EvalKconfigExpr("MODULES", config), 0);
  EXPECT_EQ(EvalKconfigExpr("ABSENT", config), 0);
  EXPECT_EQ(EvalKconfigExpr("PCI && VIRTIO", config), 1);
  EXPECT_EQ(EvalKconfigExpr("PCI && !MODULES", config), 2);
  EXPECT_EQ(EvalKconfigExpr("MODULES || VIRTIO", config), 1);
  EXPECT_EQ(EvalKconfigExpr("!(PCI && NET)", config), 0);
  EXPECT_EQ(EvalKconfigExpr("VIRTIO = m", config), 2);
  EXPECT_EQ(EvalKconfigExpr("PCI != y", config), 0);
  EXPECT_EQ(EvalKconfigExpr("LOG_BUF_SHIFT >= 12", config), 2);
  EXPECT_EQ(EvalKconfigExpr("LOG_BUF_SHIFT < 12", config), 0);
  EXPECT_EQ(EvalKconfigExpr("STR = \"abc\"", config), 2);
  EXPECT_EQ(EvalKconfigExpr("y", config), 2);
  EXPECT_FALSE(EvalKconfigExpr("$(cc-option,-mfoo)", config).has_value());
  EXPECT_FALSE(EvalKconfigExpr("PCI &&", config).has_value());
  EXPECT_FALSE(EvalKconfigExpr("(PCI", config).has_value());
}

TEST(KconfigExprTest, DescribesTheSymbolsOfAnExpression) {
  DotConfig config = ParseDotConfig("CONFIG_PCI=y\n# CONFIG_NET is not set\n");
  EXPECT_EQ(DescribeSymbols("PCI && (NET || HAS_IOPORT) && m", config),
            "PCI=y, NET=n, HAS_IOPORT=n (absent)");
  EXPECT_EQ(DescribeSymbols("$CONFIG_NET $CONFIG_PCI", config), "NET=n, PCI=y");
}

const std::map<std::string, std::string> kTree = {
    {"Kconfig",
     "mainmenu \"Linux/$(ARCH) Kernel Configuration\"\n"
     "source \"arch/$(SRCARCH)/Kconfig\"\n"
     "config MODULES\n\tbool \"Enable loadable module support\"\n"
     "\thelp\n\t  if you say Y here\n\n\t  config FAKE_FROM_HELP\n\t  depends on NOTHING\n"
     "menu \"Networking\"\n\tdepends on MODULES || !MODULES\n"
     "config NET\n\tbool \"Networking support\"\n"
     "if NET\n"
     "config PACKET\n\ttristate \"Packet socket\"\n"
     "endif # NET\n"
     "endmenu\n"
     "source \"drivers/*/Kconfig\"\n"
     "config WIRED\n\tdef_bool y\n\tselect NEEDED if NET\n"
     "config NEEDED\n\tbool\n"
     "config SHIFT\n\tint \"Buffer shift\"\n\trange 12 25\n\tdefault 17\n"},
    {"arch/x86/Kconfig", "config X86\n\tdef_bool y\n\tselect PCI_DOMAINS\n"},
    {"arch/arm/Kconfig", "config ARM_ONLY\n\tbool \"arm\"\n"},
    {"drivers/net/Kconfig",
     "menuconfig NETDEVICES\n\tbool \"Network device support\"\n\tdepends on NET\n"
     "if NETDEVICES\n"
     "config E1000\n\ttristate \"Intel(R) PRO/1000 Gigabit Ethernet support\"\n"
     "\tdepends on PCI && HAS_IOPORT\n"
     "\t---help---\n\t  This driver supports Intel(R) PRO/1000 gigabit ethernet family of\n"
     "\t  adapters.\n"
     "endif\n"},
};

TEST(KconfigIndexTest, FollowsSourcesAndCollectsConditions) {
  KconfigIndex index = KconfigIndex::FromFiles(kTree, "Kconfig", "x86");
  EXPECT_FALSE(index.legacy());
  EXPECT_EQ(index.Find("X86").size(), 1u);
  EXPECT_TRUE(index.Find("ARM_ONLY").empty()) << "arch/arm is not sourced for x86";
  EXPECT_TRUE(index.Find("FAKE_FROM_HELP").empty()) << "help text is not parsed as Kconfig";
  ASSERT_EQ(index.Find("PACKET").size(), 1u);
  const auto& packet = index.Find("PACKET")[0];
  EXPECT_EQ(packet.type, "tristate");
  EXPECT_TRUE(packet.has_prompt);
  ASSERT_EQ(packet.conditions.size(), 2u);
  EXPECT_EQ(packet.conditions[0].kind, "menu depends on");
  EXPECT_EQ(packet.conditions[1].kind, "if");
  EXPECT_EQ(packet.conditions[1].expr, "NET");
  EXPECT_EQ(packet.where, "Kconfig:15");

  ASSERT_EQ(index.Find("E1000").size(), 1u);
  const auto& e1000 = index.Find("E1000")[0];
  EXPECT_EQ(e1000.where, "drivers/net/Kconfig:5");
  ASSERT_EQ(e1000.conditions.size(), 2u);
  EXPECT_EQ(e1000.conditions[0].expr, "NETDEVICES");
  EXPECT_EQ(e1000.conditions[1].kind, "depends on");
  EXPECT_EQ(e1000.conditions[1].expr, "PCI && HAS_IOPORT");
  EXPECT_EQ(e1000.conditions[1].where, "drivers/net/Kconfig:7");

  ASSERT_EQ(index.Find("NEEDED").size(), 1u);
  EXPECT_FALSE(index.Find("NEEDED")[0].has_prompt);
  ASSERT_EQ(index.SelectedBy("NEEDED").size(), 1u);
  EXPECT_EQ(index.SelectedBy("NEEDED")[0].by, "WIRED");
  EXPECT_EQ(index.Find("SHIFT")[0].ranges, std::vector<std::string>{"12 25"});
}

TEST(KconfigIndexTest, ReadsLegacyConfigIn) {
  std::map<std::string, std::string> tree = {
      {"arch/i386/config.in",
       "mainmenu_name \"Linux Kernel Configuration\"\n"
       "bool 'Prompt for development and/or incomplete code/drivers' CONFIG_EXPERIMENTAL\n"
       "source hpc/Config.in\n"},
      {"hpc/Config.in",
       "mainmenu_option next_comment\ncomment 'openMosix'\n"
       "bool 'openMosix process migration support' CONFIG_MOSIX\n"
       "if [ \"$CONFIG_MOSIX\" = \"y\" ]; then\n"
       "   bool 'Stricter security on openMosix ports' CONFIG_MOSIX_SECUREPORTS\n"
       "   int 'Level of process-identity disclosure (0-3)' CONFIG_MOSIX_DISCLOSURE 1\n"
       "   dep_bool 'Direct File-System Access' CONFIG_MOSIX_DFSA $CONFIG_MOSIX_FS\n"
       "fi\nendmenu\n"},
  };
  KconfigIndex index = KconfigIndex::FromFiles(tree, "arch/i386/config.in", "i386");
  EXPECT_TRUE(index.legacy());
  EXPECT_EQ(index.Find("EXPERIMENTAL").size(), 1u);
  ASSERT_EQ(index.Find("MOSIX_DISCLOSURE").size(), 1u);
  EXPECT_EQ(index.Find("MOSIX_DISCLOSURE")[0].type, "int");
  ASSERT_EQ(index.Find("MOSIX_DFSA").size(), 1u);
  const auto& dfsa = index.Find("MOSIX_DFSA")[0];
  ASSERT_EQ(dfsa.conditions.size(), 2u);
  EXPECT_EQ(dfsa.conditions[0].kind, "if");
  EXPECT_THAT(dfsa.conditions[0].expr, HasSubstr("$CONFIG_MOSIX"));
  EXPECT_EQ(dfsa.conditions[0].where, "hpc/Config.in:4");
  EXPECT_EQ(dfsa.conditions[1].expr, "$CONFIG_MOSIX_FS");
  EXPECT_TRUE(index.Find("MOSIX_FS").empty());
}

}  // namespace
}  // namespace gc
