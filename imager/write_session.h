// Write sessions of an image store, and recovery from the ones that died.
//
// Objects are linked into the store without an fsync each: one syncfs
// before a version is published makes a whole capture durable, which is
// far cheaper. The price is a window in which a power cut can leave an
// object whose name promises content its file lost (empty, or zeros). Left
// there, every later capture would deduplicate against it (HasObject trusts
// names) and every install of every version using it would fail.
//
// So each writer keeps a marker in STATE/store/sessions while it may link
// objects: made durable before the first object, removed after a syncfs
// when the writer is done. A marker whose writer is gone (its pid no longer
// runs, or it was made before the last boot) means that writer's objects
// may not be durable: RecoverDeadSessions re-hashes every object changed
// since that marker was made and removes each one whose content does not
// match its name, so the next capture fetches it again.
#pragma once

#include <cstdint>
#include <string>

#include "common/env.h"
#include "common/status.h"

namespace gc {

class WriteSession {
 public:
  // Makes the marker (durable) in STORE_ROOT/sessions.
  static Result<WriteSession> Begin(const std::string& store_root, Env* env);
  WriteSession(WriteSession&& other) noexcept;
  WriteSession& operator=(WriteSession&&) = delete;
  // End() if not ended.
  ~WriteSession();

  // Makes everything written durable (syncfs), then removes the marker.
  Status End();

 private:
  WriteSession(std::string store_root, std::string marker, Env* env)
      : store_root_(std::move(store_root)), marker_(std::move(marker)), env_(env) {}

  std::string store_root_;
  std::string marker_;  // empty once ended (or moved from)
  Env* env_;
};

struct RecoveryStats {
  uint64_t sessions = 0;         // dead sessions recovered
  uint64_t objects_checked = 0;  // objects re-hashed
  uint64_t objects_removed = 0;  // whose content did not match their name
};

// Recovers every dead session's objects (see above) and removes its
// marker. Cheap when there is none: one directory listing.
Result<RecoveryStats> RecoverDeadSessions(const std::string& store_root, Env* env);

// This boot's id (/proc/sys/kernel/random/boot_id), "" if unreadable.
std::string CurrentBootId();

}  // namespace gc
