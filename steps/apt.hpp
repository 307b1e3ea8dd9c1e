#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "agent/plan/step.hpp"

namespace cs231n::steps {

// dpkg's locks, held by apt-get, dpkg and unattended-upgrades while they work.
inline constexpr const char* k_dpkg_locks[] = {"/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock"};

// Whether another process holds a dpkg lock (a write lock test, as apt does; takes nothing).
bool dpkg_lock_busy(const os::Files& files);

// Whether an earlier dpkg run was cut short ("dpkg was interrupted"): files in /var/lib/dpkg/updates.
bool dpkg_interrupted(const os::Files& files);

// Waits until no one holds the dpkg lock (a fresh Ubuntu VM's unattended-upgrades can hold it for
// minutes), saying so every 30 s; fails after `limit`.
util::Result<void> wait_for_dpkg(const plan::StepRun& run, std::chrono::seconds limit);

// apt-get, non-interactive, keeping existing config files, waiting for the lock first and repairing
// an interrupted dpkg (`dpkg --configure -a`) before it.
util::Result<void> apt_get(const plan::StepRun& run, const std::vector<std::string>& arguments);

// apt-get update, then apt-get install of `packages` (without recommends).
util::Result<void> apt_install(const plan::StepRun& run, const std::vector<std::string>& packages);

// Whether apt's lists (as the last apt-get update left them) have `package` (apt-cache show).
util::Result<bool> apt_has(const plan::StepRun& run, const std::string& package);

}  // namespace cs231n::steps
