// Heartbeat sampling from a fake /proc, the JSON body, and `run` against a
// fake server on 127.0.0.1.
#include "node-agent/heartbeat.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/env.h"
#include "common/hash.h"
#include "common/http_server.h"
#include "common/log.h"
#include "tests/testing/http_test_support.h"
#include "tests/testing/temp_dir.h"

namespace gc {
namespace {

using ::gc::testing::TempDir;
using ::gc::testing::WriteTestFile;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kSecret[] = "5ec7e7";
constexpr char kMeminfo[] =
    "MemTotal:        2041828 kB\n"
    "MemFree:          100000 kB\n"
    "MemAvailable:    1871234 kB\n"
    "Buffers:           12345 kB\n";
constexpr char kCpuinfo[] =
    "processor\t: 0\n"
    "model name\t: Fake CPU\n"
    "cpu MHz\t\t: 2000.000\n"
    "\n"
    "processor\t: 1\n"
    "model name\t: Fake CPU\n"
    "cpu MHz\t\t: 2789.000\n"
    "\n";

// A fake /proc and file system root for one test.
class FakeNode {
 public:
  FakeNode() {
    WriteProc("loadavg", "0.12 0.08 0.01 1/123 4567\n");
    WriteProc("meminfo", kMeminfo);
    WriteProc("cpuinfo", kCpuinfo);
    WriteProc("uptime", "812.40 790.12\n");
    WriteProc("cmdline",
              "BOOT_IMAGE=/vmlinuz goldcast.kernel=tiny@1 goldcast.server=http://x quiet\n");
    WriteTestFile(dir_.Sub("root/etc/openmosix.map"), "1 10.77.0.10 4\n");
    paths_.proc_root = dir_.Sub("proc");
    paths_.fs_root = dir_.Sub("root");
    paths_.uname_release = "6.1.176";
    paths_.uname_version = "#1 SMP PREEMPT_DYNAMIC test";
  }

  void WriteProc(const std::string& name, const std::string& text) {
    WriteTestFile(dir_.Sub("proc/" + name), text);
  }
  void RemoveProc(const std::string& name) { ::unlink(dir_.Sub("proc/" + name).c_str()); }

  const SamplePaths& paths() const { return paths_; }
  const TempDir& dir() const { return dir_; }

 private:
  TempDir dir_;
  SamplePaths paths_;
};

NodeConfig TestConfig() {
  NodeConfig config;
  config.server = "http://127.0.0.1:1";
  config.node = "mosix3";
  config.secret = kSecret;
  config.image = "compute@2";
  config.kernel = "tiny@1";
  config.cluster_files = {"etc/openmosix.map", "etc/missing.conf"};
  return config;
}

TEST(SampleNodeTest, ReadsEverySource) {
  FakeNode node;
  Result<HeartbeatSample> sample = SampleNode(node.paths(), TestConfig(), BootKind::kInstalled);
  ASSERT_TRUE(sample.ok()) << sample.status().message();
  const HeartbeatReport& report = sample->report;
  EXPECT_EQ(report.boot, "installed");
  EXPECT_EQ(report.image, "compute@2");
  EXPECT_EQ(report.kernel_release, "6.1.176");
  EXPECT_EQ(report.kernel_version, "#1 SMP PREEMPT_DYNAMIC test");
  EXPECT_EQ(report.kernel_artifact, "tiny@1");
  EXPECT_DOUBLE_EQ(report.uptime_s.value(), 812.4);
  EXPECT_THAT(report.load.value(), ElementsAre(0.12, 0.08, 0.01));
  EXPECT_EQ(report.cpus, 2u);
  EXPECT_DOUBLE_EQ(report.cpu_mhz.value(), 2394.5);
  EXPECT_EQ(report.mem_total_kb, 2041828u);
  EXPECT_EQ(report.mem_available_kb, 1871234u);
  ASSERT_EQ(report.cluster_files.size(), 2u);
  EXPECT_EQ(report.cluster_files.at("etc/openmosix.map"), Sha256Hex("1 10.77.0.10 4\n"));
  EXPECT_EQ(report.cluster_files.at("etc/missing.conf"), "");
  ASSERT_EQ(sample->notes.size(), 1u);
  EXPECT_THAT(sample->notes[0], HasSubstr("etc/missing.conf"));
}

TEST(SampleNodeTest, RealUnameWhenNotInjected) {
  FakeNode node;
  SamplePaths paths = node.paths();
  paths.uname_release.clear();
  paths.uname_version.clear();
  Result<HeartbeatSample> sample = SampleNode(paths, TestConfig(), BootKind::kDiskless);
  ASSERT_TRUE(sample.ok()) << sample.status().message();
  EXPECT_FALSE(sample->report.kernel_release.empty());
  EXPECT_FALSE(sample->report.kernel_version.empty());
  EXPECT_EQ(sample->report.boot, "diskless");
}

TEST(SampleNodeTest, MissingOptionalFactsBecomeNotes) {
  FakeNode node;
  node.WriteProc("cpuinfo", "processor : 0\nprocessor : 1\nprocessor : 2\n");  // like ARM
  node.WriteProc("meminfo", "MemTotal: 1000 kB\nMemFree: 400 kB\n");           // before 3.14
  node.RemoveProc("cmdline");
  NodeConfig config = TestConfig();
  config.cluster_files.clear();
  Result<HeartbeatSample> sample = SampleNode(node.paths(), config, BootKind::kInstalled);
  ASSERT_TRUE(sample.ok()) << sample.status().message();
  EXPECT_EQ(sample->report.cpus, 3u);
  EXPECT_EQ(sample->report.cpu_mhz, 0);
  EXPECT_EQ(sample->report.mem_available_kb, 400u);
  EXPECT_EQ(sample->report.kernel_artifact, "");
  EXPECT_EQ(sample->notes.size(), 3u);
}

TEST(SampleNodeTest, BrokenProcFilesAreErrorsNamingTheFile) {
  struct Case {
    const char* file;
    const char* text;  // nullptr: remove the file
  } cases[] = {
      {"loadavg", "0.1 zero 0.3\n"},  {"loadavg", nullptr},
      {"uptime", "-5 1\n"},           {"uptime", ""},
      {"meminfo", "MemFree: 1 kB\n"}, {"meminfo", nullptr},
      {"cpuinfo", "model : x\n"},
  };
  for (const Case& c : cases) {
    FakeNode node;
    if (c.text == nullptr) {
      node.RemoveProc(c.file);
    } else {
      node.WriteProc(c.file, c.text);
    }
    Result<HeartbeatSample> sample = SampleNode(node.paths(), TestConfig(), BootKind::kInstalled);
    ASSERT_FALSE(sample.ok()) << c.file;
    EXPECT_THAT(sample.status().message(), HasSubstr(node.dir().Sub("proc/") + c.file));
  }
}

// The body sent for a sample: every documented field (protocol/heartbeat.h
// encodes it).
TEST(HeartbeatBodyTest, MatchesTheDocumentedShape) {
  FakeNode node;
  Result<HeartbeatSample> sample = SampleNode(node.paths(), TestConfig(), BootKind::kDiskless);
  ASSERT_TRUE(sample.ok()) << sample.status().message();
  std::string text = EncodeHeartbeat(sample->report);
  json doc = json::parse(text);
  std::vector<std::string> keys;
  for (auto it = doc.begin(); it != doc.end(); ++it) keys.push_back(it.key());
  EXPECT_THAT(keys, ::testing::UnorderedElementsAre("format", "boot", "image", "kernel", "uptime_s",
                                                    "load", "cpus", "cpu_mhz", "mem_total_kb",
                                                    "mem_available_kb", "cluster_files"));
  EXPECT_EQ(doc["format"], 1);
  EXPECT_EQ(doc["boot"], "diskless");
  EXPECT_EQ(doc["image"], "compute@2");
  EXPECT_EQ(doc["kernel"], json({{"release", "6.1.176"},
                                 {"version", "#1 SMP PREEMPT_DYNAMIC test"},
                                 {"artifact", "tiny@1"}}));
  EXPECT_TRUE(doc["uptime_s"].is_number_float());
  EXPECT_DOUBLE_EQ(doc["uptime_s"].get<double>(), 812.4);
  ASSERT_TRUE(doc["load"].is_array());
  EXPECT_EQ(doc["load"].size(), 3u);
  EXPECT_DOUBLE_EQ(doc["load"][0].get<double>(), 0.12);
  EXPECT_TRUE(doc["cpus"].is_number_unsigned());
  EXPECT_EQ(doc["cpus"], 2);
  EXPECT_DOUBLE_EQ(doc["cpu_mhz"].get<double>(), 2394.5);
  EXPECT_EQ(doc["mem_total_kb"], 2041828);
  EXPECT_EQ(doc["mem_available_kb"], 1871234);
  EXPECT_EQ(doc["cluster_files"],
            json({{"etc/openmosix.map", Sha256Hex("1 10.77.0.10 4\n")}, {"etc/missing.conf", ""}}));
  EXPECT_EQ(text.find('\n'), std::string::npos) << "one line";

  sample->report.kernel_version = "bad \xff utf-8";
  EXPECT_NO_THROW(json::parse(EncodeHeartbeat(sample->report)));
}

TEST(WriteClusterFileTest, WritesOnlyTheConfiguredFilesBeneathTheRoot) {
  FakeNode node;
  const std::string root = node.paths().fs_root;
  NodeConfig config = TestConfig();
  config.cluster_files.push_back("etc/goldcast/calibration");
  // The mode is the node's: 0644, whatever the server asks (here 0777, so
  // every user could rewrite the map that heartbeats spread).
  Status status = WriteClusterFile(root, config, {"etc/openmosix.map", 0777, "1 10.77.0.10 9\n"});
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(Env::Default()->ReadFile(root + "/etc/openmosix.map").value(), "1 10.77.0.10 9\n");
  struct stat st {};
  ASSERT_EQ(::stat((root + "/etc/openmosix.map").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  // Missing directories are made; only the calibration script, run at
  // boot, is executable, and only by its mode of 0755.
  status = WriteClusterFile(root, config, {"etc/goldcast/calibration", 0777, "#!/bin/sh\n"});
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_EQ(::stat((root + "/etc/goldcast/calibration").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);

  status = WriteClusterFile(root, config, {"etc/passwd", 0644, "root::0:0::/:/bin/sh\n"});
  EXPECT_EQ(status.code(), Code::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("etc/passwd, which is not one of node.json's"));
  EXPECT_FALSE(Env::Default()->Exists(root + "/etc/passwd"));

  // "../x" is refused even should a config list it.
  config.cluster_files.push_back("../x");
  status = WriteClusterFile(root, config, {"../x", 0644, "escaped"});
  EXPECT_EQ(status.code(), Code::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("'../x' from the server"));
  EXPECT_FALSE(Env::Default()->Exists(node.dir().Sub("x")));

  // A symlink on the way is never followed out of the root.
  WriteTestFile(node.dir().Sub("outside/keep"), "");
  ASSERT_EQ(::symlink(node.dir().Sub("outside").c_str(), (root + "/etc/goldcast2").c_str()), 0);
  config.cluster_files.push_back("etc/goldcast2/calibration");
  status = WriteClusterFile(root, config, {"etc/goldcast2/calibration", 0644, "evil"});
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("is a symlink"));
  EXPECT_FALSE(Env::Default()->Exists(node.dir().Sub("outside/calibration")));
}

// A fake node API that records heartbeats; `status_for(n)` picks the answer
// to the n-th heartbeat (0-based).
class RunAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ =
        http_testing::StartOrDie([this](const HttpRequest& request) { return Handle(request); });
    url_ = http_testing::Url(*server_, "");
  }

  HttpResponse Handle(const HttpRequest& request) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (request.method != "POST" || request.path != "/v1/node/heartbeat") {
      return HttpResponse::Text(404, "unexpected " + request.method + " " + request.path);
    }
    auto header = [&](const char* name) {
      auto it = request.headers.find(name);
      return it == request.headers.end() ? std::string() : it->second;
    };
    size_t n = beats_.size();
    beats_.push_back(request.body);
    nodes_.push_back(header("x-goldcast-node"));
    if (on_beat_) on_beat_(n);
    if (header("authorization") != std::string("Bearer ") + kSecret || n < fail_first_) {
      return HttpResponse::Text(401, "unknown node or wrong secret\n");
    }
    if (header("content-type") != "application/json") return HttpResponse::Text(400, "not JSON");
    return HttpResponse::Json(200, answer_);
  }

  // Writes node.json for the fake server; returns its path.
  std::string WriteConfig(const std::string& secret = kSecret) {
    NodeConfig config = TestConfig();
    config.server = url_;
    config.secret = secret;
    std::string path = node_.dir().Sub("etc/goldcast/node.json");
    WriteTestFile(path, SerializeNodeConfig(config));
    return path;
  }

  RunOptions Options(const std::string& config_path) {
    RunOptions options;
    options.config_path = config_path;
    options.paths = node_.paths();
    options.interval_s = 1;
    return options;
  }

  size_t Beats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return beats_.size();
  }

  FakeNode node_;
  std::unique_ptr<HttpServer> server_;
  std::string url_;
  std::mutex mutex_;
  std::vector<std::string> beats_;
  std::vector<std::string> nodes_;
  size_t fail_first_ = 0;
  std::string answer_ = R"({"ok":true,"time_ns":1})";
  std::function<void(size_t)> on_beat_;
};

TEST_F(RunAgentTest, OncePostsOneHeartbeat) {
  RunOptions options = Options(WriteConfig());
  options.once = true;
  Status status = RunAgent(options);
  ASSERT_TRUE(status.ok()) << status.message();
  std::lock_guard<std::mutex> lock(mutex_);
  ASSERT_EQ(beats_.size(), 1u);
  EXPECT_EQ(nodes_[0], "mosix3");
  json body = json::parse(beats_[0]);
  EXPECT_EQ(body["boot"], "installed");
  EXPECT_EQ(body["image"], "compute@2");
  EXPECT_EQ(body["kernel"]["artifact"], "tiny@1");
  EXPECT_EQ(body["mem_total_kb"], 2041828);
}

TEST_F(RunAgentTest, OnceWritesTheClusterFilesOfTheAnswer) {
  answer_ =
      json({{"ok", true},
            {"time_ns", 1},
            {"cluster_files",
             {{{"path", "etc/openmosix.map"}, {"mode", 0644}, {"content", "1 10.77.0.10 2\n"}},
              {{"path", "etc/shadow"}, {"mode", 0644}, {"content", "root::1::::::\n"}}}}})
          .dump();
  RunOptions options = Options(WriteConfig());
  options.once = true;
  ::testing::internal::CaptureStderr();
  Status status = RunAgent(options);
  std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(status.ok()) << status.message() << "\n" << log;
  const std::string root = node_.paths().fs_root;
  EXPECT_EQ(Env::Default()->ReadFile(root + "/etc/openmosix.map").value(), "1 10.77.0.10 2\n");
  EXPECT_FALSE(Env::Default()->Exists(root + "/etc/shadow"));
  EXPECT_THAT(log, HasSubstr("updated etc/openmosix.map"));
  EXPECT_THAT(log, HasSubstr("etc/shadow, which is not one of node.json's cluster_files"));
}

TEST_F(RunAgentTest, BadFilesInTheAnswerAreLoggedAndTheBeatStillCounts) {
  answer_ = R"({"ok":true,"cluster_files":[{"path":"etc/openmosix.map","mode":"rw"}]})";
  RunOptions options = Options(WriteConfig());
  options.once = true;
  ::testing::internal::CaptureStderr();
  Status status = RunAgent(options);
  std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_THAT(log, HasSubstr("cluster_files[0].content"));
  EXPECT_EQ(Env::Default()->ReadFile(node_.paths().fs_root + "/etc/openmosix.map").value(),
            "1 10.77.0.10 4\n");
}

// The server keeps sending the same file until a beat reports its hash: the
// file is written and logged once, and the next beat reports the new hash.
TEST_F(RunAgentTest, LoopUpdatesOnceAndReportsTheNewHash) {
  const std::string map = "1 10.77.0.10 5\n";
  answer_ =
      json({{"ok", true},
            {"cluster_files", {{{"path", "etc/openmosix.map"}, {"mode", 0644}, {"content", map}}}}})
          .dump();
  on_beat_ = [](size_t n) {
    if (n == 2) ::kill(::getpid(), SIGTERM);
  };
  SetLogLevel(LogLevel::kInfo);
  ::testing::internal::CaptureStderr();
  Status status = RunAgent(Options(WriteConfig()));
  std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(status.ok()) << status.message();
  size_t updates = 0;
  for (size_t at = log.find("updated etc/openmosix.map"); at != std::string::npos;
       at = log.find("updated etc/openmosix.map", at + 1)) {
    ++updates;
  }
  EXPECT_EQ(updates, 1u) << log;
  std::lock_guard<std::mutex> lock(mutex_);
  ASSERT_EQ(beats_.size(), 3u);
  EXPECT_EQ(json::parse(beats_[0])["cluster_files"]["etc/openmosix.map"],
            Sha256Hex("1 10.77.0.10 4\n"));
  EXPECT_EQ(json::parse(beats_[1])["cluster_files"]["etc/openmosix.map"], Sha256Hex(map));
}

TEST_F(RunAgentTest, OnceFailsOnUnauthorized) {
  RunOptions options = Options(WriteConfig("0bad"));
  options.once = true;
  Status status = RunAgent(options);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), Code::kUnauthorized);
  EXPECT_THAT(status.message(),
              HasSubstr("POST " + url_ + "/v1/node/heartbeat: 401 unknown node or wrong secret"));
}

TEST_F(RunAgentTest, OnceFailsWhenTheServerDoesNotSayOk) {
  answer_ = R"({"ok":false})";
  RunOptions options = Options(WriteConfig());
  options.once = true;
  Status status = RunAgent(options);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("did not answer {\"ok\":true}"));
}

TEST_F(RunAgentTest, DisklessCmdlineNeedsTheSecretFromAFile) {
  node_.WriteProc("cmdline", "quiet goldcast.server=" + url_ +
                                 " goldcast.node=diskless7 goldcast.token=" + kSecret +
                                 " goldcast.image=compute@3 goldcast.kernel=tiny@1\n");
  RunOptions options = Options(node_.dir().Sub("no/such/node.json"));
  options.once = true;
  // The token was spent at boot: it is no secret.
  Status status = RunAgent(options);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("names no secret"));
  EXPECT_THAT(status.message(), HasSubstr("--secret-file"));
  EXPECT_EQ(Beats(), 0u);

  std::string secret_file = node_.dir().Sub("secret");
  WriteTestFile(secret_file, std::string(kSecret) + "\n");
  options.secret_file = secret_file;
  status = RunAgent(options);
  ASSERT_TRUE(status.ok()) << status.message();
  std::lock_guard<std::mutex> lock(mutex_);
  ASSERT_EQ(beats_.size(), 1u);
  EXPECT_EQ(nodes_[0], "diskless7");
  json body = json::parse(beats_[0]);
  EXPECT_EQ(body["boot"], "diskless");
  EXPECT_EQ(body["image"], "compute@3");
  EXPECT_EQ(body["cluster_files"], json::object());
}

TEST_F(RunAgentTest, ADisklessRootWithNodeJsonReportsDiskless) {
  // The diskless initramfs wrote node.json; the command line has no secret.
  node_.WriteProc("cmdline", "quiet goldcast.server=" + url_ +
                                 " goldcast.node=mosix3 goldcast.mode=diskless\n");
  RunOptions options = Options(WriteConfig());
  options.once = true;
  Status status = RunAgent(options);
  ASSERT_TRUE(status.ok()) << status.message();
  std::lock_guard<std::mutex> lock(mutex_);
  ASSERT_EQ(beats_.size(), 1u);
  EXPECT_EQ(json::parse(beats_[0])["boot"], "diskless");
}

TEST_F(RunAgentTest, NoConfigAndNoCmdlineWordsIsAClearError) {
  RunOptions options = Options(node_.dir().Sub("no/such/node.json"));
  options.once = true;
  Status status = RunAgent(options);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("no/such/node.json"));
  // The fake command line has goldcast.server= but no goldcast.node=.
  EXPECT_THAT(status.message(), HasSubstr("kernel command line: no goldcast.node="));
  EXPECT_EQ(Beats(), 0u);
}

TEST_F(RunAgentTest, OptionsCanNameTheNode) {
  std::string secret_file = node_.dir().Sub("secret");
  WriteTestFile(secret_file, std::string(kSecret) + "\n");
  RunOptions options = Options(node_.dir().Sub("no/such/node.json"));
  options.once = true;
  options.server = url_;
  options.node = "byhand";
  options.secret_file = secret_file;
  Status status = RunAgent(options);
  ASSERT_TRUE(status.ok()) << status.message();
  std::lock_guard<std::mutex> lock(mutex_);
  ASSERT_EQ(nodes_.size(), 1u);
  EXPECT_EQ(nodes_[0], "byhand");

  options.node = "bad name";
  status = RunAgent(options);
  EXPECT_EQ(status.code(), Code::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("field 'node'"));
}

TEST_F(RunAgentTest, IntervalBelowOneIsRefused) {
  RunOptions options = Options(WriteConfig());
  options.interval_s = 0;
  EXPECT_EQ(RunAgent(options).code(), Code::kInvalidArgument);
  EXPECT_EQ(Beats(), 0u);
}

// Signals go to this process; RunAgent's handler catches them while it runs.
TEST_F(RunAgentTest, LoopLogsOutageOnceAndRecoveryOnceThenStopsOnSigterm) {
  fail_first_ = 2;
  on_beat_ = [](size_t n) {
    if (n == 3) ::kill(::getpid(), SIGTERM);
  };
  SetLogLevel(LogLevel::kInfo);  // whatever GOLDCAST_LOG says: debug lines would repeat
  ::testing::internal::CaptureStderr();
  Status status = RunAgent(Options(WriteConfig()));
  std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(Beats(), 4u);
  auto count = [&](const std::string& what) {
    size_t n = 0;
    for (size_t at = log.find(what); at != std::string::npos; at = log.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("heartbeat failed"), 1u) << log;
  EXPECT_EQ(count("401 unknown node"), 1u) << log;
  EXPECT_EQ(count("recovered after 2 failed attempts"), 1u) << log;
  EXPECT_EQ(count("missing.conf: No such file"), 1u) << "notes are logged once, not every beat\n"
                                                     << log;

  // The old disposition is back.
  struct sigaction now {};
  ::sigaction(SIGTERM, nullptr, &now);
  EXPECT_EQ(now.sa_handler, SIG_DFL);
}

TEST_F(RunAgentTest, SignalInterruptsTheSleepPromptly) {
  RunOptions options = Options(WriteConfig());
  options.interval_s = 3600;
  std::atomic<bool> done{false};
  std::thread stopper([&] {
    while (Beats() == 0 && !done) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (!done) ::kill(::getpid(), SIGINT);
  });
  auto start = std::chrono::steady_clock::now();
  Status status = RunAgent(options);
  done = true;
  stopper.join();
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(Beats(), 1u);
}

}  // namespace
}  // namespace gc
