#include "pxe/dnsmasq.h"

#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "common/child_process.h"
#include "common/env.h"
#include "tests/testing/lab_profile.h"
#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

// The lab cluster on a /24 with one group.
ClusterProfile TestProfile(DhcpMode mode) {
  ClusterProfile p = testing::LabProfile(mode);
  p.network.http_port = 8470;
  p.network.prefix_length = 24;
  if (mode == DhcpMode::kAuthoritative) {
    p.network.pool = Ipv4Range{testing::Ip("10.77.0.200"), testing::Ip("10.77.0.250")};
    p.network.node_addresses = Ipv4Range{testing::Ip("10.77.0.101"), testing::Ip("10.77.0.199")};
    p.network.lease_time = "2h";
  }
  p.groups.erase("render");
  return p;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != '#') lines.push_back(line);
  }
  return lines;
}

bool DnsmasqInstalled() {
  return ::access("/usr/sbin/dnsmasq", X_OK) == 0 ||
         ProcessRunner::Default()->Run({"dnsmasq", "--version"}).ok();
}

class DnsmasqTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  DnsmasqFiles files_ = DnsmasqFilesIn(dir_.path(), dir_.Sub("run"));
};

// What dnsmasq opens as root at its start stays in the (private) state
// directory; what it reads later as its own user, in a runtime directory of
// this state directory's own.
TEST_F(DnsmasqTest, FilesLiveUnderStatePxeAndARuntimeDirectory) {
  EXPECT_EQ(files_.config, dir_.Sub("pxe/dnsmasq.conf"));
  EXPECT_EQ(files_.leases, dir_.Sub("pxe/dnsmasq.leases"));
  EXPECT_EQ(files_.log, dir_.Sub("pxe/dnsmasq.log"));
  EXPECT_EQ(files_.runtime_dir.rfind(dir_.Sub("run/pxe-"), 0), 0u) << files_.runtime_dir;
  EXPECT_EQ(files_.hosts_dir, files_.runtime_dir + "/hosts.d");
  EXPECT_EQ(files_.tftp_root, files_.runtime_dir + "/tftp");
  EXPECT_EQ(DnsmasqFilesIn(dir_.path() + "/.", dir_.Sub("run")).runtime_dir, files_.runtime_dir);
  EXPECT_NE(DnsmasqFilesIn(dir_.Sub("other"), dir_.Sub("run")).runtime_dir, files_.runtime_dir);
}

TEST_F(DnsmasqTest, AuthoritativeConfigHasTheProvenLines) {
  std::vector<std::string> lines =
      Lines(RenderDnsmasqConfig(TestProfile(DhcpMode::kAuthoritative), files_));
  for (const std::string& expected : {
           std::string("port=0"),
           std::string("interface=br0"),
           std::string("bind-interfaces"),
           std::string("except-interface=lo"),
           std::string("no-resolv"),
           std::string("no-hosts"),
           std::string("user=dnsmasq"),
           std::string("pid-file"),
           std::string("dhcp-authoritative"),
           std::string("dhcp-range=10.77.0.200,10.77.0.250,255.255.255.0,2h"),
           "dhcp-hostsdir=" + files_.hosts_dir,
           "dhcp-leasefile=" + files_.leases,
           std::string("no-ping"),
           std::string("dhcp-option=option:router"),
           std::string("dhcp-option=option:dns-server"),
           std::string("enable-tftp"),
           "tftp-root=" + files_.tftp_root,
           std::string("tftp-secure"),
           std::string("dhcp-userclass=set:ipxe,iPXE"),
           std::string("dhcp-match=set:ipxe,175"),
           std::string("dhcp-match=set:efi64,option:client-arch,7"),
           std::string("dhcp-match=set:efi64,option:client-arch,9"),
           std::string("dhcp-boot=tag:!ipxe,tag:!efi64,undionly.kpxe,,10.77.0.1"),
           std::string("dhcp-boot=tag:!ipxe,tag:efi64,snponly.efi,,10.77.0.1"),
           std::string("dhcp-boot=tag:ipxe,http://10.77.0.1:8470/boot/start.ipxe"),
           std::string("dhcp-option=vendor:PXEClient,6,8"),
           std::string("log-dhcp"),
           "log-facility=" + files_.log,
       }) {
    EXPECT_THAT(lines, Contains(expected));
  }
  // No router advertisements unless the interface has a ULA to announce.
  EXPECT_THAT(lines, Not(Contains("enable-ra")));
  EXPECT_THAT(lines, Not(Contains(HasSubstr("proxy"))));
  EXPECT_THAT(lines, Not(Contains(HasSubstr("pxe-service"))));
}

TEST_F(DnsmasqTest, RouterAdvertisementsOnlyWithAPrefix) {
  DnsmasqOptions options;
  options.ipv6_ra_prefix = "fd77::";
  std::vector<std::string> lines =
      Lines(RenderDnsmasqConfig(TestProfile(DhcpMode::kAuthoritative), files_, options));
  EXPECT_THAT(lines, Contains("enable-ra"));
  EXPECT_THAT(lines, Contains("dhcp-range=fd77::,ra-only,64,2h"));
  EXPECT_THAT(lines, Contains("ra-param=br0,10,0"));  // router lifetime 0
  // Never on someone else's network.
  std::vector<std::string> proxy =
      Lines(RenderDnsmasqConfig(TestProfile(DhcpMode::kProxy), files_, options));
  EXPECT_THAT(proxy, Not(Contains("enable-ra")));
  EXPECT_THAT(proxy, Not(Contains(HasSubstr("ra-only"))));
  EXPECT_THAT(proxy, Not(Contains(HasSubstr("ra-param"))));
}

TEST_F(DnsmasqTest, ProxyConfigOnlyAddsBootInformation) {
  std::vector<std::string> lines =
      Lines(RenderDnsmasqConfig(TestProfile(DhcpMode::kProxy), files_));
  for (const std::string& expected : {
           std::string("port=0"),
           std::string("interface=br0"),
           std::string("bind-interfaces"),
           std::string("dhcp-range=10.77.0.0,proxy,255.255.255.0"),
           std::string("enable-tftp"),
           std::string("tftp-secure"),
           std::string("dhcp-userclass=set:ipxe,iPXE"),
           std::string("pxe-service=tag:!ipxe,x86PC,\"goldcast (BIOS)\",undionly.kpxe"),
           std::string("pxe-service=tag:!ipxe,X86-64_EFI,\"goldcast (UEFI)\",snponly.efi"),
           // With next-server, or BIOS iPXE ignores the offer (tested with QEMU).
           std::string("dhcp-boot=tag:ipxe,http://10.77.0.1:8470/boot/start.ipxe,,10.77.0.1"),
       }) {
    EXPECT_THAT(lines, Contains(expected));
  }
  EXPECT_THAT(lines, Not(Contains("dhcp-authoritative")));
  EXPECT_THAT(lines, Not(Contains(HasSubstr("dhcp-hostsdir"))));
  EXPECT_THAT(lines, Not(Contains(HasSubstr("option:router"))));
  EXPECT_THAT(lines, Not(Contains(HasSubstr("PXEClient,6,8"))));
  // Exactly one address-giving range: the proxy one.
  int ranges = 0;
  for (const std::string& line : lines) ranges += line.rfind("dhcp-range=", 0) == 0;
  EXPECT_EQ(ranges, 1);
}

TEST_F(DnsmasqTest, DomainIsSentWhenTheProfileHasOne) {
  ClusterProfile profile = TestProfile(DhcpMode::kAuthoritative);
  profile.naming.domain = "cluster.local";
  EXPECT_THAT(Lines(RenderDnsmasqConfig(profile, files_)), Contains("domain=cluster.local"));
}

// `dnsmasq --test` only parses: strace shows no socket(), bind() or file
// access beyond the config, so it runs anywhere, outside a namespace too.
TEST_F(DnsmasqTest, RealDnsmasqAcceptsBothModes) {
  if (!DnsmasqInstalled()) GTEST_SKIP() << "dnsmasq is not installed";
  DnsmasqOptions ra;
  ra.ipv6_ra_prefix = "fd77::";
  ClusterProfile no_pool = TestProfile(DhcpMode::kAuthoritative);
  no_pool.network.pool.reset();
  no_pool.naming.domain = "cluster.local";
  struct Case {
    const char* name;
    ClusterProfile profile;
    DnsmasqOptions options;
  } cases[] = {
      {"authoritative", TestProfile(DhcpMode::kAuthoritative), {}},
      {"authoritative-ra", TestProfile(DhcpMode::kAuthoritative), ra},
      {"static-only", no_pool, {}},
      {"proxy", TestProfile(DhcpMode::kProxy), ra},
  };
  for (const Case& c : cases) {
    std::string path = dir_.Sub(std::string(c.name) + ".conf");
    testing::WriteTestFile(path, RenderDnsmasqConfig(c.profile, files_, c.options));
    Status status = CheckDnsmasqConfig(ProcessRunner::Default(), path);
    EXPECT_TRUE(status.ok()) << c.name << ": " << status.message();
  }
}

TEST_F(DnsmasqTest, RejectedConfigQuotesDnsmasq) {
  if (!DnsmasqInstalled()) GTEST_SKIP() << "dnsmasq is not installed";
  std::string path = dir_.Sub("bad.conf");
  testing::WriteTestFile(path, "port=0\ndhcp-range=10.77.0.9,bogus-mode-x\nno-such-option=1\n");
  Status status = CheckDnsmasqConfig(ProcessRunner::Default(), path);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), Code::kInvalidArgument);
  EXPECT_THAT(status.message(), AllOf(HasSubstr(path), HasSubstr("at line 2 of")));
}

size_t CountOf(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

bool WaitForLog(const std::string& path, const std::string& needle, size_t count) {
  for (int i = 0; i < 500; ++i) {
    if (CountOf(testing::ReadTestFile(path), needle) >= count) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// The whole life of the supervised dnsmasq as serve runs it, in a network
// namespace of a forked child (a bridge only it sees): the rendered config
// starts for real, SIGHUP re-reads the hosts file, SIGTERM ends it cleanly.
TEST_F(DnsmasqTest, RealDnsmasqRunsRereadsHostsOnSighupAndStops) {
  if (!DnsmasqInstalled()) GTEST_SKIP() << "dnsmasq is not installed";
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for a private network namespace";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Returns instead of exiting on failure, so the ChildProcess destructor
    // stops dnsmasq: nothing outlives the test.
    auto run = [&]() -> int {
      auto fail = [](int code, const std::string& why) {
        std::fprintf(stderr, "dnsmasq child: %s\n", why.c_str());
        return code;
      };
      if (::unshare(CLONE_NEWNET) != 0) return 77;
      if (std::system("ip link set lo up && ip link add br0 type bridge && "
                      "ip addr add 10.77.0.1/24 dev br0 && "
                      "ip addr add fd77::1/64 dev br0 nodad && ip link set br0 up") != 0) {
        return 77;
      }
      if (!Env::Default()->CreateDirs(files_.tftp_root).ok()) return fail(2, "mkdir");
      if (!Env::Default()->CreateDirs(files_.hosts_dir).ok()) return fail(2, "mkdir");
      // dnsmasq reads the hosts and TFTP root as its own user, as serve
      // lays them out: reachable by it, unlike the state directory.
      for (const std::string& dir :
           {dir_.path(), dir_.Sub("run"), files_.runtime_dir, files_.tftp_root, files_.hosts_dir}) {
        if (::chmod(dir.c_str(), dir == dir_.path() ? 0711 : 0755) != 0) return fail(2, "chmod");
      }
      DnsmasqOptions options;
      options.ipv6_ra_prefix = FindUlaPrefix("br0").value_or("");
      if (options.ipv6_ra_prefix != "fd77::") {
        return fail(3, "ULA not found: " + options.ipv6_ra_prefix);
      }
      testing::WriteTestFile(
          files_.config,
          RenderDnsmasqConfig(TestProfile(DhcpMode::kAuthoritative), files_, options));
      std::string first = files_.hosts_dir + "/hosts-0";
      testing::WriteTestFile(first, "");
      Status check = CheckDnsmasqConfig(ProcessRunner::Default(), files_.config);
      if (!check.ok()) return fail(4, check.message());
      std::string stderr_log = dir_.Sub("dnsmasq.stderr");
      auto child = ChildProcess::Start(DnsmasqCommand(files_), stderr_log);
      if (!child.ok()) return fail(5, child.status().message());
      if (!WaitForLog(files_.log, "read " + first, 1)) {
        return fail(6, "no start: " + testing::ReadTestFile(stderr_log) +
                           testing::ReadTestFile(files_.log));
      }
      // A new file is read without a signal (HostsSync adds nodes so).
      std::string added = files_.hosts_dir + "/hosts-1";
      testing::WriteTestFile(files_.hosts_dir + "/.hosts-1",
                             "52:54:00:00:00:01,10.77.0.101,mosix1\n");
      if (::rename((files_.hosts_dir + "/.hosts-1").c_str(), added.c_str()) != 0) {
        return fail(7, "rename");
      }
      if (!WaitForLog(files_.log, "read " + added, 1)) {
        return fail(8, "new hosts file not read: " + testing::ReadTestFile(files_.log));
      }
      // SIGHUP reads them all again (after a change or a removal).
      if (!(*child)->Signal(SIGHUP).ok()) return fail(7, "SIGHUP");
      if (!WaitForLog(files_.log, "read " + first, 2)) {
        return fail(8, "hosts not re-read: " + testing::ReadTestFile(files_.log));
      }
      if ((*child)->Poll()) return fail(9, "exited: " + testing::ReadTestFile(stderr_log));
      int status = (*child)->Stop(std::chrono::seconds(5));
      if (status != 0) return fail(10, "exit status " + std::to_string(status));
      return 0;
    };
    ::_exit(run());
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "cannot create a network namespace here";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "see the child's message above";
}

class MissingProgramRunner : public ProcessRunner {
 public:
  Result<ProcessResult> Run(const std::vector<std::string>& argv) override {
    argv_ = argv;
    return NotFound("'" + argv[0] + "' was not found in PATH");
  }
  std::vector<std::string> argv_;
};

TEST_F(DnsmasqTest, MissingDnsmasqNamesThePackage) {
  MissingProgramRunner runner;
  Status status = CheckDnsmasqConfig(&runner, "/x/dnsmasq.conf");
  EXPECT_EQ(status.code(), Code::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("install the Debian package dnsmasq"));
  ASSERT_EQ(runner.argv_.size(), 3u);
  EXPECT_THAT(runner.argv_[0], HasSubstr("dnsmasq"));
  EXPECT_EQ(runner.argv_[1], "--test");
  EXPECT_EQ(runner.argv_[2], "--conf-file=/x/dnsmasq.conf");
}

TEST_F(DnsmasqTest, PrepareTftpRootCopiesTheIpxeBinaries) {
  std::string ipxe = dir_.Sub("ipxe");
  for (const char* name : {"undionly.kpxe", "snponly.efi", "ipxe.efi", "ipxe.lkrn"}) {
    testing::WriteTestFile(ipxe + "/" + name, std::string("binary of ") + name);
  }
  ASSERT_TRUE(PrepareTftpRoot(files_.tftp_root, ipxe).ok());
  for (const char* name : {"undionly.kpxe", "snponly.efi", "ipxe.efi"}) {
    EXPECT_EQ(testing::ReadTestFile(files_.tftp_root + "/" + name),
              std::string("binary of ") + name);
  }
  EXPECT_NE(::access((files_.tftp_root + "/ipxe.lkrn").c_str(), F_OK), 0);  // only what is needed
  // Again, over the existing copies.
  EXPECT_TRUE(PrepareTftpRoot(files_.tftp_root, ipxe).ok());
}

TEST_F(DnsmasqTest, MissingIpxeBinariesNameThePackage) {
  std::string ipxe = dir_.Sub("ipxe");
  testing::WriteTestFile(ipxe + "/undionly.kpxe", "x");
  Status status = PrepareTftpRoot(files_.tftp_root, ipxe);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), Code::kNotFound);
  EXPECT_THAT(status.message(), AllOf(HasSubstr(ipxe + "/snponly.efi"),
                                      HasSubstr("install the Debian package ipxe")));
  EXPECT_NE(::access(files_.tftp_root.c_str(), F_OK), 0);  // nothing half-done
}

TEST_F(DnsmasqTest, RealIpxePackage) {
  if (::access("/usr/lib/ipxe/undionly.kpxe", R_OK) != 0) GTEST_SKIP() << "ipxe not installed";
  ASSERT_TRUE(PrepareTftpRoot(files_.tftp_root).ok());
  EXPECT_EQ(testing::ReadTestFile(files_.tftp_root + "/snponly.efi"),
            testing::ReadTestFile("/usr/lib/ipxe/snponly.efi"));
}

TEST(FindUlaPrefixTest, NoneOnLoopbackOrMissingInterface) {
  EXPECT_EQ(FindUlaPrefix("lo"), std::nullopt);
  EXPECT_EQ(FindUlaPrefix("goldcast-none0"), std::nullopt);
}

// Bridges (no dummy module on every kernel) in a network namespace of a forked child: nothing of
// the host's network is seen or touched.
TEST(FindUlaPrefixTest, FindsTheSlash64UlaOfTheInterface) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for a private network namespace";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::unshare(CLONE_NEWNET) != 0) ::_exit(77);
    const char* setup =
        "ip link add gcula0 type bridge && ip link set gcula0 up && "
        "ip addr add 2001:db8::5/64 dev gcula0 nodad && "
        "ip addr add fd77:1:2:3::1/64 dev gcula0 nodad && "
        "ip link add gcula1 type bridge && ip link set gcula1 up && "
        "ip addr add fd00:aa::1/48 dev gcula1 nodad";
    if (std::system(setup) != 0) ::_exit(77);
    int failures = 0;
    failures += FindUlaPrefix("gcula0") != std::optional<std::string>("fd77:1:2:3::");
    failures += FindUlaPrefix("gcula1") != std::nullopt;  // not a /64
    ::_exit(failures == 0 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "cannot create a network namespace here";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace gc
