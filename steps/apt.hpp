#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
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

// A failed apt-get's failure, made precise by what apt printed (`output`, its last lines): a
// download apt could not make is the network's exit code (6), or the checksum's (7) when the
// bytes did not match apt's index, and no room for the .debs is the disk's (8); the message then
// names the file and the fix. Anything else is returned as it came.
util::Failure apt_failure(util::Failure failure, std::string_view output);

// apt-get, non-interactive, keeping existing config files, waiting for the lock first and repairing
// an interrupted dpkg (`dpkg --configure -a`) before it.
util::Result<void> apt_get(const plan::StepRun& run, const std::vector<std::string>& arguments);

// What happens to the .debs the agent fetched before apt installs them.
enum class Unpack {
  by_apt,  // apt unpacks them all once the last one is there
  // dpkg --unpack takes each group as it arrives, while the rest download, so that only the last
  // group and the configuring come after the last byte: for the CUDA toolkit, whose 4 GB of .debs
  // take dpkg longer than anything else in its step. Unpacking needs no dependency in place (only
  // a Pre-Depends, which fails that one .deb and leaves it to apt); apt then configures what is
  // unpacked (pkgApplyStatus keeps an unpacked package) and installs the rest.
  as_they_arrive,
};

// apt-get install of `packages` (without recommends), apt's lists being fresh. With
// downloads.accelerate_pip_apt the agent first downloads the .debs apt would fetch
// (fetch_apt_archives), so that apt finds them in its archive folder. With Unpack::as_they_arrive,
// apt is also given the new packages of its plan by name (it takes an unpacked package as
// installed and would not pull in what that one still lacks); they are marked automatically
// installed afterwards, as apt marks what it pulls in, and purged again when apt's install fails,
// so that a failed install leaves dpkg's packages as it found them.
util::Result<void> apt_get_install(const plan::StepRun& run, const std::vector<std::string>& packages,
                                   Unpack unpack = Unpack::by_apt);

// apt-get update, then apt_get_install.
util::Result<void> apt_install(const plan::StepRun& run, const std::vector<std::string>& packages,
                               Unpack unpack = Unpack::by_apt);

// One .deb of `apt-get install --print-uris`, which prints a line `'URI' FILE SIZE TYPE:HEX` for each
// file apt would download (apt-private/private-install.cc); sha256 is empty when the hash printed
// is not a SHA256 (apt prints MD5Sum unless Acquire::ForceHash says otherwise).
struct AptArchive {
  std::string uri;
  std::string package;    // the file name up to its first '_' (apt names it PACKAGE_VERSION_ARCH.deb)
  std::string file_name;  // apt's name in its archive folder ("curl_7.74.0-1.3+deb11u13_amd64.deb")
  std::uint64_t size = 0;
  std::string sha256;  // lowercase hex
};

// The files of apt-get's --print-uris output (lines not starting with a quote are skipped), or
// why a line is not one.
std::expected<std::vector<AptArchive>, std::string> parse_print_uris(std::string_view output);

// Downloads the .debs that `apt-get install` of `packages` would fetch into apt's archive folder,
// each verified against the size and SHA256 of apt's (signed) index before it is renamed there:
// apt takes a file there of the right size as downloaded, without hashing it again. What cannot be
// fetched or verified is left to apt, which downloads it itself; said in the step's log, never a
// failure. With Unpack::as_they_arrive, once dpkg has unpacked some: the packages of apt's plan
// that dpkg did not have installed before, for apt_get_install to name (see there); else nothing.
std::vector<std::string> fetch_apt_archives(const plan::StepRun& run, const std::vector<std::string>& packages,
                                            Unpack unpack = Unpack::by_apt);

// Whether apt's lists (as the last apt-get update left them) have `package` (apt-cache show).
util::Result<bool> apt_has(const plan::StepRun& run, const std::string& package);

}  // namespace cs231n::steps
