#include "node-agent/heartbeat.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <random>
#include <set>

#include "common/env.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/manifest.h"
#include "common/text.h"
#include "common/unique_fd.h"
#include "node-agent/node_client.h"
#include "node-agent/node_identity.h"

namespace gc {

namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kMaxBackoff = std::chrono::minutes(5);

Result<std::string> ReadProcFile(const SamplePaths& paths, const char* name) {
  return Env::Default()->ReadFile(JoinPath(paths.proc_root, name));
}

// A non-negative finite decimal such as "2394.500" or "812.40".
bool ParseNumber(std::string_view text, double* out) {
  text = std::string_view(text).substr(0, text.find_last_not_of(" \t\r\n") + 1);
  if (text.empty()) return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return error == std::errc() && end == text.data() + text.size() && std::isfinite(*out) &&
         *out >= 0;
}

std::vector<std::string_view> Words(std::string_view text) {
  std::vector<std::string_view> words;
  size_t pos = 0;
  while (true) {
    size_t start = text.find_first_not_of(" \t\r\n", pos);
    if (start == std::string_view::npos) break;
    size_t end = text.find_first_of(" \t\r\n", start);
    if (end == std::string_view::npos) end = text.size();
    words.push_back(text.substr(start, end - start));
    pos = end;
  }
  return words;
}

// Calls `fn(key, value)` for "key: value" lines (meminfo, cpuinfo), both trimmed.
template <typename Fn>
void ForEachKeyValue(std::string_view text, Fn fn) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    fn(Trim(line.substr(0, colon)), Trim(line.substr(colon + 1)));
  }
}

Status SampleLoad(const SamplePaths& paths, HeartbeatSample* sample) {
  GC_ASSIGN_OR_RETURN(std::string text, ReadProcFile(paths, "loadavg"));
  std::vector<std::string_view> words = Words(text);
  std::vector<double> load(3);
  for (size_t i = 0; i < 3; ++i) {
    if (i >= words.size() || !ParseNumber(words[i], &load[i])) {
      return Corrupt(JoinPath(paths.proc_root, "loadavg") + ": expected three load averages");
    }
  }
  sample->report.load = std::move(load);
  return Status::Ok();
}

Status SampleUptime(const SamplePaths& paths, HeartbeatSample* sample) {
  GC_ASSIGN_OR_RETURN(std::string text, ReadProcFile(paths, "uptime"));
  std::vector<std::string_view> words = Words(text);
  double uptime_s = 0;
  if (words.empty() || !ParseNumber(words[0], &uptime_s)) {
    return Corrupt(JoinPath(paths.proc_root, "uptime") + ": expected seconds since boot");
  }
  sample->report.uptime_s = uptime_s;
  return Status::Ok();
}

Status SampleMemory(const SamplePaths& paths, HeartbeatSample* sample) {
  GC_ASSIGN_OR_RETURN(std::string text, ReadProcFile(paths, "meminfo"));
  bool total = false, available = false, free = false;
  uint64_t total_kb = 0, available_kb = 0, free_kb = 0;
  ForEachKeyValue(text, [&](const std::string& key, const std::string& value) {
    std::string_view number = std::string_view(value).substr(0, value.find(' '));
    if (key == "MemTotal") total = ParseDecimal(number, &total_kb);
    if (key == "MemAvailable") available = ParseDecimal(number, &available_kb);
    if (key == "MemFree") free = ParseDecimal(number, &free_kb);
  });
  std::string path = JoinPath(paths.proc_root, "meminfo");
  if (!total) return Corrupt(path + ": no readable MemTotal line");
  if (!available) {
    // Kernels before 3.14 lack MemAvailable; MemFree understates it.
    if (!free) return Corrupt(path + ": neither MemAvailable nor MemFree");
    available_kb = free_kb;
    sample->notes.push_back(path + " has no MemAvailable; reporting MemFree");
  }
  sample->report.mem_total_kb = total_kb;
  sample->report.mem_available_kb = available_kb;
  return Status::Ok();
}

Status SampleCpus(const SamplePaths& paths, HeartbeatSample* sample) {
  GC_ASSIGN_OR_RETURN(std::string text, ReadProcFile(paths, "cpuinfo"));
  uint64_t processors = 0, speeds = 0;
  double mhz_sum = 0;
  ForEachKeyValue(text, [&](const std::string& key, const std::string& value) {
    double mhz = 0;
    if (key == "processor") ++processors;
    if (key == "cpu MHz" && ParseNumber(value, &mhz)) {
      mhz_sum += mhz;
      ++speeds;
    }
  });
  std::string path = JoinPath(paths.proc_root, "cpuinfo");
  if (processors == 0) return Corrupt(path + ": no 'processor' lines");
  sample->report.cpus = processors;
  // Several architectures (ARM) do not report a clock here.
  sample->report.cpu_mhz = speeds == 0 ? 0 : mhz_sum / static_cast<double>(speeds);
  if (speeds == 0) sample->notes.push_back(path + " has no 'cpu MHz'; reporting 0");
  return Status::Ok();
}

void SampleKernel(const SamplePaths& paths, HeartbeatSample* sample) {
  if (!paths.uname_release.empty() || !paths.uname_version.empty()) {
    sample->report.kernel_release = paths.uname_release;
    sample->report.kernel_version = paths.uname_version;
  } else {
    struct utsname name {};
    if (::uname(&name) == 0) {
      sample->report.kernel_release = name.release;
      sample->report.kernel_version = name.version;
    } else {
      sample->notes.push_back(ErrnoError("uname").message());
    }
  }
  Result<std::string> cmdline = ReadProcFile(paths, "cmdline");
  if (!cmdline.ok()) {
    sample->notes.push_back(cmdline.status().message() + "; reporting no kernel artifact");
    return;
  }
  constexpr std::string_view kKey = "goldcast.kernel=";
  for (std::string_view word : Words(*cmdline)) {
    // The kernel lets the last repeat win, and so does the agent.
    if (word.substr(0, kKey.size()) == kKey) {
      sample->report.kernel_artifact = word.substr(kKey.size());
    }
  }
}

void SampleClusterFiles(const SamplePaths& paths, const NodeConfig& config,
                        HeartbeatSample* sample) {
  for (const std::string& file : config.cluster_files) {
    Result<std::string> hash = Sha256File(JoinPath(paths.fs_root, file));
    sample->report.cluster_files[file] = hash.ok() ? *hash : "";
    if (!hash.ok()) {
      sample->notes.push_back("cluster file " + file + ": " + hash.status().message() +
                              "; reporting an empty hash (the server flags it as drift)");
    }
  }
}

// --- the run loop ---

// The write end of the self-pipe the signal handler wakes the loop with.
volatile sig_atomic_t g_wake_fd = -1;
volatile sig_atomic_t g_stop_signal = 0;

void OnStopSignal(int signal_number) {
  int saved_errno = errno;
  g_stop_signal = signal_number;
  if (g_wake_fd >= 0 && ::write(g_wake_fd, "x", 1) < 0) {
    // Full pipe: the loop is awake anyway.
  }
  errno = saved_errno;
}

// Catches SIGTERM/SIGINT for its lifetime (restoring the old handlers
// afterwards) so the loop can sleep interruptibly and stop cleanly.
class StopSignals {
 public:
  StopSignals() = default;
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  Status Install() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return ErrnoError("pipe2");
    read_.Reset(fds[0]);
    write_.Reset(fds[1]);
    g_stop_signal = 0;
    g_wake_fd = write_.get();
    struct sigaction action {};
    action.sa_handler = &OnStopSignal;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGTERM, &action, &old_term_);
    ::sigaction(SIGINT, &action, &old_int_);
    installed_ = true;
    return Status::Ok();
  }

  ~StopSignals() {
    if (!installed_) return;
    ::sigaction(SIGTERM, &old_term_, nullptr);
    ::sigaction(SIGINT, &old_int_, nullptr);
    g_wake_fd = -1;
  }

  bool stopped() const { return g_stop_signal != 0; }

  // Sleeps for `duration` or until a stop signal; true if one arrived.
  bool SleepFor(Clock::duration duration) {
    Clock::time_point deadline = Clock::now() + duration;
    while (!stopped()) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) break;
      struct pollfd fd = {read_.get(), POLLIN, 0};
      int timeout = static_cast<int>(std::min<int64_t>(left.count(), 60'000));
      if (::poll(&fd, 1, timeout) > 0) {
        char drain[64];
        while (::read(read_.get(), drain, sizeof drain) > 0) {
        }
      }
    }
    return stopped();
  }

 private:
  bool installed_ = false;
  UniqueFd read_;
  UniqueFd write_;
  struct sigaction old_term_ {};
  struct sigaction old_int_ {};
};

struct Identity {
  NodeConfig config;
  BootKind boot = BootKind::kInstalled;
  std::string source;  // for the log
};

Result<Identity> LoadIdentity(const RunOptions& options) {
  Identity identity;
  bool overrides_identify =
      !options.server.empty() && !options.node.empty() && !options.secret_file.empty();
  Env* env = Env::Default();
  if (env->Exists(options.config_path)) {
    GC_ASSIGN_OR_RETURN(std::string text, env->ReadFile(options.config_path));
    GC_ASSIGN_OR_RETURN(identity.config, ParseNodeConfig(text, options.config_path));
    identity.source = options.config_path;
    // A diskless root has a node.json too (its initramfs wrote it): the
    // command line the boot service gave tells how this node booted.
    Result<std::string> cmdline = env->ReadFile(JoinPath(options.paths.proc_root, "cmdline"));
    if (cmdline.ok()) {
      for (std::string_view word : Words(*cmdline)) {
        if (word == "goldcast.mode=diskless") identity.boot = BootKind::kDiskless;
      }
    }
  } else {
    std::string cmdline_path = JoinPath(options.paths.proc_root, "cmdline");
    GC_LOG(Info) << "no " << options.config_path << ": reading the node's identity from "
                 << cmdline_path << " (diskless boot)";
    identity.boot = BootKind::kDiskless;
    identity.source = cmdline_path;
    Result<std::string> cmdline = env->ReadFile(cmdline_path);
    Result<NodeConfig> config =
        cmdline.ok() ? NodeConfigFromCmdline(*cmdline) : Result<NodeConfig>(cmdline.status());
    if (config.ok()) {
      identity.config = std::move(config).value();
    } else if (overrides_identify) {
      identity.source = "command-line options";
    } else {
      return config.status().WithContext("no " + options.config_path + " and " + cmdline_path);
    }
  }
  bool overridden = false;
  if (!options.server.empty()) {
    identity.config.server = options.server;
    overridden = true;
  }
  if (!options.node.empty()) {
    identity.config.node = options.node;
    overridden = true;
  }
  if (!options.secret_file.empty()) {
    GC_ASSIGN_OR_RETURN(std::string secret, env->ReadFile(options.secret_file));
    identity.config.secret = Trim(secret);
    overridden = true;
  }
  if (identity.config.secret.empty()) {
    // A command line holds only the boot's install token, spent at boot.
    return InvalidArgument("no " + options.config_path + ", and " + identity.source +
                           " names no secret (its install token was spent at boot, by the "
                           "initramfs that should have written " +
                           options.config_path + "); pass --secret-file");
  }
  if (overridden) {
    // The same checks as node.json gets, for what the options changed.
    GC_ASSIGN_OR_RETURN(
        identity.config,
        ParseNodeConfig(SerializeNodeConfig(identity.config),
                        "--server/--node/--secret-file on top of " + identity.source));
  }
  return identity;
}

// Writes the files of a heartbeat answer. Nothing here fails the beat: the
// server took it; a problem is logged (once) and the drift stays visible.
void ApplyAnswerFiles(const HeartbeatAnswer& answer, const std::string& answer_source,
                      const SamplePaths& paths, const NodeConfig& config,
                      const HeartbeatSample& sample, std::set<std::string>* logged_notes) {
  auto warn_once = [&](const std::string& message) {
    if (logged_notes->insert(message).second) GC_LOG(Warning) << message;
  };
  if (!answer.cluster_files_status.ok()) {
    warn_once(answer_source + ": " + answer.cluster_files_status.message() +
              "; cluster files not updated (is the server of the same goldcast version?)");
    return;
  }
  const std::map<std::string, std::string>& reported_files = sample.report.cluster_files;
  for (const ClusterFile& file : answer.cluster_files) {
    auto reported = reported_files.find(file.path);
    // The server answered a beat older than the file: already up to date.
    if (reported != reported_files.end() && reported->second == Sha256Hex(file.content)) {
      continue;
    }
    Status written = WriteClusterFile(paths.fs_root, config, file);
    if (written.ok()) {
      GC_LOG(Info) << "updated " << file.path;
    } else {
      warn_once(answer_source + ": " + written.message());
    }
  }
}

// One heartbeat: sample, post, check that the server took it, write the
// cluster files it sent back.
Status Beat(NodeClient& client, const SamplePaths& paths, BootKind boot,
            std::set<std::string>* logged_notes) {
  GC_ASSIGN_OR_RETURN(HeartbeatSample sample, SampleNode(paths, client.config(), boot));
  for (const std::string& note : sample.notes) {
    if (logged_notes->insert(note).second) GC_LOG(Warning) << note;
  }
  const std::string path = "/v1/node/heartbeat";
  GC_ASSIGN_OR_RETURN(std::string body, client.PostJson(path, EncodeHeartbeat(sample.report)));
  Result<HeartbeatAnswer> answer = DecodeHeartbeatAnswer(body);
  if (!answer.ok() || !answer->ok) {
    return Status(Code::kUnsupported, "POST " + client.config().server + path +
                                          ": the server did not answer {\"ok\":true} but '" +
                                          body.substr(0, 200) +
                                          "' (is this a goldcast server of the same version?)");
  }
  ApplyAnswerFiles(*answer, "answer of POST " + client.config().server + path, paths,
                   client.config(), sample, logged_notes);
  return Status::Ok();
}

// After `failures` failed beats in a row: doubling from the interval, capped
// at 5 minutes (or the interval, if longer), +-20% so that a cluster whose
// server restarts does not come back in lockstep.
Clock::duration NextDelay(int interval_s, int failures, std::mt19937_64& random) {
  std::chrono::duration<double> base = std::chrono::seconds(interval_s);
  if (failures > 0) {
    base *= std::pow(2.0, std::min(failures - 1, 16));
    base = std::min<std::chrono::duration<double>>(
        base,
        std::max<std::chrono::duration<double>>(kMaxBackoff, std::chrono::seconds(interval_s)));
  }
  double spread = failures > 0 ? 0.2 : 0.1;
  std::uniform_real_distribution<double> jitter(1.0 - spread, 1.0 + spread);
  return std::chrono::duration_cast<Clock::duration>(base * jitter(random));
}

}  // namespace

Status WriteClusterFile(const std::string& fs_root, const NodeConfig& config,
                        const ClusterFile& file) {
  GC_RETURN_IF_ERROR(ValidateRelativePath(file.path).WithContext(
      "cluster file path '" + file.path.substr(0, 256) + "' from the server"));
  if (std::find(config.cluster_files.begin(), config.cluster_files.end(), file.path) ==
      config.cluster_files.end()) {
    return InvalidArgument("the server sent cluster file " + file.path +
                           ", which is not one of node.json's cluster_files: refused (reinstall "
                           "the node to give it the profile's new cluster files)");
  }
  if (file.mode != ClusterFileMode(file.path)) {
    GC_LOG(Warning) << "cluster file " << file.path << ": the server asked for mode " << std::oct
                    << file.mode << "; writing it " << ClusterFileMode(file.path) << std::dec;
  }
  std::string shown = JoinPath(fs_root, file.path);
  // Unlike the installer, which syncs the new disk once at the end, a
  // running node may lose power at any moment: sync the file before the
  // rename and the directory after it.
  GC_RETURN_IF_ERROR(
      WriteFileBeneath(fs_root, file.path, ClusterFileMode(file.path), [&](int fd) -> Status {
        GC_RETURN_IF_ERROR(WriteAllFd(fd, file.content, shown));
        if (::fsync(fd) != 0) return ErrnoError("fsync " + shown);
        return Status::Ok();
      }));
  size_t slash = file.path.rfind('/');
  std::string parent = slash == std::string::npos ? "" : file.path.substr(0, slash);
  GC_ASSIGN_OR_RETURN(UniqueFd dir, OpenDirBeneath(fs_root, parent, false));
  if (::fsync(dir.get()) != 0) return ErrnoError("fsync the directory of " + shown);
  return Status::Ok();
}

const char* BootKindName(BootKind boot) {
  return boot == BootKind::kDiskless ? "diskless" : "installed";
}

Result<HeartbeatSample> SampleNode(const SamplePaths& paths, const NodeConfig& config,
                                   BootKind boot) {
  HeartbeatSample sample;
  sample.report.boot = BootKindName(boot);
  sample.report.image = config.image;
  GC_RETURN_IF_ERROR(SampleLoad(paths, &sample));
  GC_RETURN_IF_ERROR(SampleUptime(paths, &sample));
  GC_RETURN_IF_ERROR(SampleMemory(paths, &sample));
  GC_RETURN_IF_ERROR(SampleCpus(paths, &sample));
  SampleKernel(paths, &sample);
  SampleClusterFiles(paths, config, &sample);
  return sample;
}

Status RunAgent(const RunOptions& options) {
  if (options.interval_s < 1) {
    return InvalidArgument("--interval must be at least 1 second, not " +
                           std::to_string(options.interval_s));
  }
  GC_ASSIGN_OR_RETURN(Identity identity, LoadIdentity(options));
  NodeClient client(identity.config);
  std::set<std::string> logged_notes;
  if (options.once) return Beat(client, options.paths, identity.boot, &logged_notes);

  StopSignals signals;
  GC_RETURN_IF_ERROR(signals.Install());
  GC_LOG(Info) << "heartbeats of node " << identity.config.node << " ("
               << BootKindName(identity.boot) << ", identity from " << identity.source << ") to "
               << identity.config.server << " every " << options.interval_s << " s";
  std::mt19937_64 random(std::random_device{}());
  int failures = 0;
  Code last_failure = Code::kOk;
  while (!signals.stopped()) {
    Status beat = Beat(client, options.paths, identity.boot, &logged_notes);
    if (beat.ok()) {
      if (failures > 0) {
        GC_LOG(Info) << "heartbeats recovered after " << failures << " failed attempt"
                     << (failures == 1 ? "" : "s");
      }
      failures = 0;
      last_failure = Code::kOk;
    } else {
      ++failures;
      // Once per outage (and again if its kind changes), not every beat.
      if (beat.code() != last_failure) {
        GC_LOG(Warning) << "heartbeat failed: " << beat.message()
                        << " (retrying with backoff of up to 5 minutes; logged again when it "
                           "recovers)";
      } else {
        GC_LOG(Debug) << "still failing: " << beat.message();
      }
      last_failure = beat.code();
    }
    if (signals.SleepFor(NextDelay(options.interval_s, failures, random))) break;
  }
  GC_LOG(Info) << "stopping heartbeats: got signal " << static_cast<int>(g_stop_signal);
  return Status::Ok();
}

}  // namespace gc
