// Pid-named temporary files and directories (the image store's and the kernel
// store's tmp/, the kernel builder's work trees): a name starts with the pid
// of the process that made it, so a later run can remove what a killed run
// (kill -9) left behind without touching a live run's work.
#pragma once

#include <cstdint>
#include <string>

#include "common/env.h"
#include "common/status.h"

namespace gc {

// "PID.COUNTER.RANDOM.label": unique within and across processes.
std::string PidTempName(const std::string& label);

// True when the pid that starts `name` no longer runs (or the name does not
// start with a pid at all). The calling process's own names are alive.
bool TempOwnerIsDead(const std::string& name);

// Removes every entry of `dir` whose owner is dead; counts them in `removed`.
Status RemoveDeadTemps(const std::string& dir, Env* env, uint64_t* removed = nullptr);

}  // namespace gc
