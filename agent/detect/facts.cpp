#include "agent/detect/facts.hpp"

#include <algorithm>

#include "agent/util/strings.hpp"
#include "agent/util/text_table.hpp"

namespace cs231n::detect {

namespace {

constexpr const char* k_set_user_hint = "set \"user\" in the config file or the cs231n-user metadata attribute";

std::string find_conda_prefix(const os::Files& files, const TargetUser& user) {
  std::vector<std::string> candidates;
  if (user.account) {
    for (const char* name : {"anaconda3", "miniconda3", "miniforge3"})
      candidates.push_back(user.account->home + "/" + name);
  }
  for (const char* prefix : {"/opt/conda", "/opt/anaconda3", "/opt/miniconda3"}) candidates.emplace_back(prefix);
  // Its owner's (the student's, for one in the home): looked at without following a symlink.
  for (const auto& prefix : candidates) {
    if (files.user_path_exists(prefix + "/bin/conda")) return prefix;
  }
  return "";
}

std::vector<std::string> find_cuda_paths(const os::Files& files) {
  std::vector<std::string> paths;
  for (const auto& name : files.list("/usr/local").value_or(std::vector<std::string>{})) {
    if (name.starts_with("cuda")) paths.push_back("/usr/local/" + name);
  }
  return paths;
}

}  // namespace

TargetUser resolve_target_user(const os::Accounts& accounts, const std::string& configured_user,
                               const std::optional<std::string>& sudo_user) {
  TargetUser user;
  const auto choose = [&](const std::string& name, const char* source) {
    user.name = name;
    user.source = source;
    user.account = accounts.find_user(name);
    return user;
  };
  if (!configured_user.empty()) {
    if (!os::is_valid_user_name(configured_user)) {
      user.error = "user \"" + configured_user + "\" is not a valid account name (lowercase letters, digits, _ and -)";
      return user;
    }
    return choose(configured_user, "config");
  }
  if (sudo_user && !sudo_user->empty() && *sudo_user != "root") {
    if (!os::is_valid_user_name(*sudo_user)) {
      user.error = "SUDO_USER \"" + *sudo_user + "\" is not a valid account name; " + k_set_user_hint;
      return user;
    }
    return choose(*sudo_user, "SUDO_USER");
  }
  const auto regular = accounts.regular_users();
  if (regular.size() == 1 && os::is_valid_user_name(regular.front().name)) {
    return choose(regular.front().name, "/etc/passwd");
  }
  if (regular.size() == 1) {
    user.error = "the only regular account, \"" + regular.front().name +
                 "\", is not a name cs231n-agent accepts (lowercase letters, digits, _ and -); " + k_set_user_hint;
  } else if (regular.empty()) {
    user.error = "no regular account in /etc/passwd to set up for (GCE creates it at the first SSH login); " +
                 std::string(k_set_user_hint);
  } else {
    std::vector<std::string> names;
    for (const auto& account : regular) names.push_back(account.name);
    user.error = "several accounts could be the target (" + util::join(names, ", ") + "); " + k_set_user_hint;
  }
  return user;
}

std::optional<std::string> Facts::unsupported_reason() const {
  if (!os.supported) return os.reason;
  if (!arch_supported) return "the " + arch + " architecture is not supported; cs231n-agent supports x86_64 only";
  return std::nullopt;
}

Facts gather_facts(const os::System& system, const std::string& configured_user) {
  const auto& files = system.files();
  Facts facts;
  facts.os = read_os_info(files);
  facts.arch = system.machine();
  facts.arch_supported = facts.arch == "x86_64";
  facts.gce = is_gce(files);
  facts.gpus = find_nvidia_gpus(files);
  facts.secure_boot = read_secure_boot(files);
  facts.cpus = cpu_count(files);
  facts.memory_bytes = memory_bytes(files);
  if (auto free = files.free_bytes("/")) facts.disk_free_bytes = *free;
  facts.boot_id = system.boot_id();
  facts.kernel_release = system.kernel_release();
  facts.hostname = system.hostname();
  const auto modules = loaded_modules(files);
  facts.nouveau_loaded = std::ranges::find(modules, "nouveau") != modules.end();
  facts.nvidia_loaded = std::ranges::find(modules, "nvidia") != modules.end();
  facts.user = resolve_target_user(os::Accounts::load(files), configured_user, system.env("SUDO_USER"));
  facts.installed.conda_prefix = find_conda_prefix(files, facts.user);
  facts.installed.nvidia_smi = files.exists("/usr/bin/nvidia-smi");
  facts.installed.cuda_paths = find_cuda_paths(files);
  return facts;
}

nlohmann::json to_json(const Facts& facts) {
  using nlohmann::json;
  const auto optional = [](const auto& value) { return value ? json(*value) : json(nullptr); };
  json gpus = json::array();
  for (const auto& gpu : facts.gpus) gpus.push_back({{"pci_id", gpu.pci_id}, {"name", gpu.name}, {"slot", gpu.slot}});
  json user = {{"name", facts.user.name.empty() ? json(nullptr) : json(facts.user.name)},
               {"source", facts.user.source.empty() ? json(nullptr) : json(facts.user.source)},
               {"exists", facts.user.account.has_value()},
               {"uid", facts.user.account ? json(facts.user.account->uid) : json(nullptr)},
               {"home", facts.user.account ? json(facts.user.account->home) : json(nullptr)},
               {"error", facts.user.error.empty() ? json(nullptr) : json(facts.user.error)}};
  return {
      {"os",
       {{"id", facts.os.id},
        {"version_id", facts.os.version_id},
        {"codename", facts.os.codename},
        {"pretty_name", facts.os.pretty_name},
        {"supported", facts.os.supported},
        {"reason", facts.os.reason.empty() ? json(nullptr) : json(facts.os.reason)}}},
      {"arch", facts.arch},
      {"arch_supported", facts.arch_supported},
      {"gce", facts.gce},
      {"gpus", gpus},
      {"secure_boot", to_string(facts.secure_boot)},
      {"cpus", optional(facts.cpus)},
      {"memory_bytes", optional(facts.memory_bytes)},
      {"disk_free_bytes", optional(facts.disk_free_bytes)},
      {"boot_id", facts.boot_id},
      {"kernel_release", facts.kernel_release},
      {"hostname", facts.hostname},
      {"modules", {{"nouveau", facts.nouveau_loaded}, {"nvidia", facts.nvidia_loaded}}},
      {"installed",
       {{"conda_prefix", facts.installed.conda_prefix.empty() ? json(nullptr) : json(facts.installed.conda_prefix)},
        {"nvidia_smi", facts.installed.nvidia_smi},
        {"cuda", facts.installed.cuda_paths}}},
      {"user", user},
      {"instance", facts.instance ? json{{"id", facts.instance->id},
                                         {"zone", facts.instance->zone},
                                         {"machine_type", facts.instance->machine_type},
                                         {"external_ip", facts.instance->external_ip},
                                         {"internal_ip", facts.instance->internal_ip},
                                         {"os_login", facts.instance->os_login}}
                                  : json(nullptr)},
  };
}

std::string to_table(const Facts& facts) {
  std::vector<std::pair<std::string, std::string>> rows;
  const auto or_unknown = [](const std::string& value) { return value.empty() ? std::string("unknown") : value; };
  std::string os_line = facts.os.pretty_name.empty() ? facts.os.label() : facts.os.pretty_name;
  os_line += facts.os.supported ? " (supported)" : " (not supported: " + facts.os.reason + ")";
  rows.emplace_back("OS", os_line);
  rows.emplace_back("Architecture", or_unknown(facts.arch) + (facts.arch_supported ? "" : " (not supported)"));
  std::string gce = facts.gce ? "yes" : "no";
  if (facts.instance) {
    gce += " (" + or_unknown(facts.instance->machine_type) + " in " + or_unknown(facts.instance->zone) + ", instance " +
           or_unknown(facts.instance->id) + ", external IP " + or_unknown(facts.instance->external_ip) + ")";
  }
  rows.emplace_back("GCE VM", gce);
  if (facts.gpus.empty()) rows.emplace_back("GPUs", "none");
  for (std::size_t i = 0; i < facts.gpus.size(); ++i) {
    const auto& gpu = facts.gpus[i];
    rows.emplace_back(i == 0 ? "GPUs" : "", gpu.name + " (" + gpu.pci_id + " at " + gpu.slot + ")");
  }
  rows.emplace_back("Secure Boot", std::string(to_string(facts.secure_boot)));
  rows.emplace_back("CPUs", facts.cpus ? std::to_string(*facts.cpus) : "unknown");
  rows.emplace_back("Memory", facts.memory_bytes ? util::human_bytes(*facts.memory_bytes) : "unknown");
  rows.emplace_back("Free disk", facts.disk_free_bytes ? util::human_bytes(*facts.disk_free_bytes) : "unknown");
  rows.emplace_back("Kernel", or_unknown(facts.kernel_release));
  rows.emplace_back("Hostname", or_unknown(facts.hostname));
  rows.emplace_back("Boot id", or_unknown(facts.boot_id));
  std::vector<std::string> modules;
  if (facts.nouveau_loaded) modules.emplace_back("nouveau");
  if (facts.nvidia_loaded) modules.emplace_back("nvidia");
  rows.emplace_back("GPU modules", modules.empty() ? "none loaded" : util::join(modules, ", "));
  rows.emplace_back("Conda", facts.installed.conda_prefix.empty() ? "not installed" : facts.installed.conda_prefix);
  rows.emplace_back("nvidia-smi", facts.installed.nvidia_smi ? "installed" : "not installed");
  rows.emplace_back(
      "CUDA", facts.installed.cuda_paths.empty() ? "not installed" : util::join(facts.installed.cuda_paths, ", "));
  if (!facts.user.error.empty()) {
    rows.emplace_back("User", "unknown: " + facts.user.error);
  } else {
    rows.emplace_back(
        "User", facts.user.name + " (from " + facts.user.source +
                    (facts.user.account ? ", home " + facts.user.account->home : ", account not created yet") + ")");
  }
  util::TextTable table;
  for (auto& [label, value] : rows) table.add_row({std::move(label), std::move(value)});
  return table.render();
}

}  // namespace cs231n::detect
