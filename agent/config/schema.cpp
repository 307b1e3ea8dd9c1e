#include "agent/config/schema.hpp"

#include <algorithm>
#include <regex>

#include "agent/os/accounts.hpp"

namespace cs231n::config {

namespace {

using nlohmann::json;

ValueCheck one_of(std::vector<std::string> choices) {
  return [choices = std::move(choices)](const json& value) -> std::optional<std::string> {
    if (std::ranges::find(choices, value.get<std::string>()) != choices.end()) return std::nullopt;
    std::string list;
    for (const auto& choice : choices) list += (list.empty() ? "" : ", ") + ("\"" + choice + "\"");
    return "must be one of " + list;
  };
}

// std::regex recurses per character: a huge value would overflow the stack, so length comes first.
constexpr std::size_t k_max_value_length = 2048;

std::optional<std::string> too_long(const std::string& text) {
  if (text.size() <= k_max_value_length) return std::nullopt;
  return "must be at most " + std::to_string(k_max_value_length) + " characters";
}

ValueCheck matches(const std::string& pattern, std::string what, bool allow_empty = false) {
  const std::regex compiled(pattern);
  return [compiled, what = std::move(what), allow_empty](const json& value) -> std::optional<std::string> {
    const auto text = value.get<std::string>();
    if (allow_empty && text.empty()) return std::nullopt;
    if (auto problem = too_long(text)) return problem;
    if (std::regex_match(text, compiled)) return std::nullopt;
    return "must be " + what;
  };
}

ValueCheck in_range(long long low, long long high) {
  return [low, high](const json& value) -> std::optional<std::string> {
    const auto number = value.get<long long>();
    if (number >= low && number <= high) return std::nullopt;
    return "must be from " + std::to_string(low) + " to " + std::to_string(high);
  };
}

// Values that become command-line arguments (a package spec for conda, a ref for git, a URL for
// curl-like tools, an account for chown) may not start with "-": the program would read them as
// an option (`--config=...`, `-c`), whatever the checks below allow.
ValueCheck not_an_option(ValueCheck check) {
  return [check = std::move(check)](const json& value) -> std::optional<std::string> {
    const auto starts_with_dash = [](const json& item) {
      return item.is_string() && item.get<std::string>().starts_with('-');
    };
    if (value.is_array()) {
      for (const auto& item : value) {
        if (starts_with_dash(item))
          return "has \"" + item.get<std::string>() + "\", which starts with \"-\" and would be read as an option";
      }
    } else if (starts_with_dash(value)) {
      return "must not start with \"-\" (it would be read as an option)";
    }
    return check ? check(value) : std::nullopt;
  };
}

const ValueCheck k_url = not_an_option(matches(R"(https?://[^\s"'\\]+)", "an http:// or https:// URL"));
// What root installs or runs from: https only. Plain http is allowed on the loopback address alone
// (a local mirror, and the tests' stand-in repositories), where nobody on the path can change it.
constexpr const char* k_https_pattern = R"(https://[^\s"'\\]+|http://(127\.0\.0\.1|localhost)(:[0-9]+)?(/[^\s"'\\]*)?)";
const ValueCheck k_https_url = not_an_option(matches(k_https_pattern, "an https:// URL (http:// only on 127.0.0.1)"));
const ValueCheck k_optional_https_url =
    not_an_option(matches(k_https_pattern, "an https:// URL (http:// only on 127.0.0.1), or empty", true));
// "<repo>/cuda-keyring_<version>_all.deb": "<sha256>", e.g. "ubuntu1804/cuda-keyring_1.1-1_all.deb".
const ValueCheck k_keyring_sha256s = [](const json& value) -> std::optional<std::string> {
  static const std::regex key(R"([a-z]+[0-9]+/cuda-keyring_[0-9A-Za-z.+~-]+_all\.deb)");
  static const std::regex sha256("[0-9a-f]{64}");
  for (const auto& [name, digest] : value.items()) {
    if (!std::regex_match(name, key))
      return "has \"" + name + "\"; keys look like \"ubuntu1804/cuda-keyring_1.1-1_all.deb\"";
    if (!std::regex_match(digest.get<std::string>(), sha256))
      return "has " + name + " = " + digest.dump() + "; values are 64 lowercase hex digits (a sha256)";
  }
  return std::nullopt;
};
// A git remote: https, or file:// for a local mirror (and for tests).
const ValueCheck k_git_url = not_an_option(matches(R"((https?|file)://[^\s"'\\]+)", "an https:// or file:// git URL"));
const ValueCheck k_optional_git_url =
    not_an_option(matches(R"((https?|file)://[^\s"'\\]+)", "an https:// or file:// git URL, or empty", true));
// An archive of starter code: a .zip over https (http only on 127.0.0.1), unpacked with unzip.
const ValueCheck k_zip_url = not_an_option(
    matches(R"((https://[^\s"'\\]+|http://(127\.0\.0\.1|localhost)(:[0-9]+)?/[^\s"'\\]*)\.zip(\?[^\s"'\\]*)?)",
            "an https:// URL of a .zip (http:// only on 127.0.0.1)"));
const ValueCheck k_sha256 = matches("[0-9a-f]{64}", "64 lowercase hex digits (a sha256)");
const ValueCheck k_optional_sha256 = matches("[0-9a-f]{64}", "64 lowercase hex digits (a sha256)", true);
const ValueCheck k_optional_md5 = matches("[0-9a-f]{32}", "32 lowercase hex digits (an md5)", true);
// The Anaconda installer refuses prefixes with spaces; "~/" means the target user's home.
const ValueCheck k_home_path =
    matches(R"((~|/)[A-Za-z0-9_./+-]*)", "an absolute path or one starting with ~/, without spaces");
const ValueCheck k_optional_path = matches(R"(/[A-Za-z0-9_./+-]*)", "an absolute path without spaces", true);
// An @EXPLICIT list: a file on the machine, or a download (https, or http on 127.0.0.1 only).
const ValueCheck k_optional_path_or_url =
    matches(R"(/[A-Za-z0-9_./+-]*|https://[^\s"'\\]+|http://(127\.0\.0\.1|localhost)(:[0-9]+)?/[^\s"'\\]*)",
            "an absolute path without spaces or an https:// URL", true);
const ValueCheck k_relative_path =
    not_an_option(matches(R"([A-Za-z0-9_+-][A-Za-z0-9_./+-]*)", "a relative path without spaces"));
const ValueCheck k_step_name = matches("[a-z0-9][a-z0-9-]{0,62}", "lowercase letters, digits and -");
const ValueCheck k_nonempty_argv = [](const json& value) -> std::optional<std::string> {
  if (value.empty() || value.front().get<std::string>().empty())
    return "must name a program: [\"program\", \"arg\", ...]";
  return std::nullopt;
};
const ValueCheck k_user_name = not_an_option([](const json& value) -> std::optional<std::string> {
  const auto name = value.get<std::string>();
  if (name.empty() || os::is_valid_user_name(name)) return std::nullopt;
  return "must be an account name (lowercase letters, digits, _ and -, at most 32)";
});
const ValueCheck k_password_hash = matches(R"((sha1:[0-9a-f]+:[0-9a-f]{40}|argon2:\$argon2id?\$[^\s'"\\]+))",
                                           "a Jupyter hash: sha1:<salt>:<40 hex> or argon2:$argon2id$...", true);
const ValueCheck k_cuda_choice = matches(R"(auto|\d+\.\d+)", "\"auto\" or a CUDA version like \"12.4\"");
const ValueCheck k_branch_choice = matches(R"(auto|\d{3})", "\"auto\" or a driver branch like \"535\"");
const ValueCheck k_torch_choice = matches(R"(auto|\d+\.\d+(\.\d+)?)", "\"auto\" or a version like \"2.5.1\"");
const ValueCheck k_env_name = not_an_option(matches(R"([A-Za-z0-9_.-]+)", "letters, digits, _ . and -"));
const ValueCheck k_python_version = matches(R"(3\.\d+)", "a Python version like \"3.12\"");
const ValueCheck k_conda_spec = not_an_option([](const json& value) -> std::optional<std::string> {
  static const std::regex spec(R"([A-Za-z0-9_.-]+([=<>!]=?[A-Za-z0-9_.*,<>=!-]*)?)");
  for (const auto& item : value) {
    if (auto problem = too_long(item.get<std::string>())) return "has an entry that " + *problem;
    if (!std::regex_match(item.get<std::string>(), spec))
      return "has \"" + item.get<std::string>() + "\", not a conda package spec";
  }
  return std::nullopt;
});
// A channel name ("conda-forge", "defaults") or URL, as `conda -c` takes it.
const ValueCheck k_conda_channels = not_an_option([](const json& value) -> std::optional<std::string> {
  static const std::regex channel(R"([A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*|https?://[^\s"'\\]+)");
  for (const auto& item : value) {
    if (auto problem = too_long(item.get<std::string>())) return "has an entry that " + *problem;
    if (!std::regex_match(item.get<std::string>(), channel))
      return "has \"" + item.get<std::string>() + "\", not a conda channel name or URL";
  }
  return std::nullopt;
});
const ValueCheck k_timeouts = [](const json& value) -> std::optional<std::string> {
  for (const auto& [name, seconds] : value.items()) {
    if (seconds.get<long long>() < 1)
      return "has " + name + " = " + seconds.dump() + "; timeouts are seconds, at least 1";
  }
  return std::nullopt;
};

std::vector<Field> dataset_item_fields() {
  return {
      {"name", Kind::string, "name of the dataset", "", k_step_name, {}, true},
      {"url", Kind::string, "where to download it", "", k_url, {}, true},
      {"sha256", Kind::string, "sha256 of the download", "", k_optional_sha256, {}, false},
      {"md5", Kind::string, "md5 of the download", "", k_optional_md5, {}, false},
      {"size", Kind::integer, "size in bytes", "", in_range(1, 1LL << 50), {}, false},
      {"into", Kind::string, "folder inside the assignments folder", "", k_relative_path, {}, true},
      {"extract", Kind::boolean, "unpack a .tar.gz or .zip there (else copy the file)", "", {}, {}, false},
  };
}

std::vector<Field> archive_fields() {
  return {
      {"name", Kind::string, "name of the archive (its marker is .cs231n-agent-NAME)", "", k_step_name, {}, true},
      {"url", Kind::string, "the .zip to download", "", k_zip_url, {}, true},
      {"sha256", Kind::string, "its sha256; empty: pinned at its first download", "", k_optional_sha256, {}, false},
      {"into",
       Kind::string,
       "folder inside the assignments folder; empty: the folder itself",
       "",
       k_relative_path,
       {},
       false},
  };
}

std::vector<Field> custom_step_fields() {
  return {
      {"name", Kind::string, "step name", "", k_step_name, {}, true},
      {"after", Kind::string_list, "steps it comes after", "", {}, {}, false},
      {"run", Kind::string_list, "argv to run", "", k_nonempty_argv, {}, true},
      {"check", Kind::string_list, "argv whose exit 0 means already done", "", {}, {}, false},
      {"user", Kind::string, "\"root\" or \"target\"", "", one_of({"root", "target"}), {}, false},
      {"env", Kind::string_map, "environment variables", "", {}, {}, false},
      {"reboot", Kind::boolean, "reboot after it succeeds", "", {}, {}, false},
  };
}

json cifar10(const std::string& assignment) {
  return {
      {"name", "cifar-10-" + assignment},          {"url", "http://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"},
      {"md5", "c58f30108f718f92721af3b95e74349a"}, {"size", 170498071},
      {"into", assignment + "/cs231n/datasets"},   {"extract", true}};
}

// The course's archives of this term's starter code, as its assignment pages link them
// (cs231n/cs231n.github.io _config.yml hw_1_colab, hw_2_colab @ 3d84654b14608fbccdff2393485631aaacfc9dab,
// 2026-04-27; assignment 3 of 2026 was not published then). Not pinned here: the course revises
// them during the term (assignment2.zip four days after its release), so each VM pins what it
// first downloads. docs/sources/conda-and-miniforge.md section 6.
json course_archives() {
  return json::array({
      {{"name", "assignment1-2026"}, {"url", "https://cs231n.github.io/assignments/2026/assignment1.zip"}},
      {{"name", "assignment2-2026"},
       {"url", "https://cs231n.github.io/assignments/2026/assignment2.zip"},
       {"into", "assignment2"}},  // its files are at the top of the zip; assignment1.zip has assignment1/
  });
}

// What the 2026 notebooks load (their cs231n/datasets/get_*.sh): CIFAR-10 in both, COCO captions in 2.
json current_dataset_manifest() {
  return json::array({
      cifar10("assignment1"),
      cifar10("assignment2"),
      {{"name", "coco-captioning"},
       {"url", "https://cs231n.stanford.edu/coco_captioning.zip"},
       {"into", "assignment2/cs231n/datasets"},
       {"extract", true}},
  });
}

json dataset_manifest() {
  return json::array({
      cifar10("assignment1"),
      cifar10("assignment2"),
      {{"name", "coco-captioning"},
       {"url", "https://cs231n.stanford.edu/coco_captioning.zip"},
       {"into", "assignment3/cs231n/datasets"},
       {"extract", true}},
      {{"name", "imagenet-val-25"},
       {"url", "https://cs231n.stanford.edu/imagenet_val_25.npz"},
       {"into", "assignment3/cs231n/datasets"},
       {"extract", false}},
  });
}

}  // namespace

const std::vector<Field>& schema() {
  static const std::vector<Field> fields{
      {"profile", Kind::string,
       "`seed` (the 2019 tutorial), `current` (today's versions) or `auto` (seed on Ubuntu 16.04/18.04)",
       "cs231n-profile", one_of({"auto", "seed", "current"})},
      {"user", Kind::string, "account to set up; empty: SUDO_USER, else the only regular account", "cs231n-user",
       k_user_name},
      {"anaconda.installer_url", Kind::string, "conda installer (Miniforge, Miniconda or Anaconda)", "", k_url},
      {"anaconda.installer_sha256", Kind::string, "its sha256", "", k_sha256},
      {"anaconda.prefix", Kind::string, "install prefix (`~/` is the user's home; no spaces)", "", k_home_path},
      {"anaconda.accept_tos",
       Kind::boolean,
       "accept Anaconda's Terms of Service for the Anaconda channels the env uses (`conda tos accept`); needed by "
       "an Anaconda/Miniconda installer with the ToS plugin or a `defaults` channel (see below)",
       "",
       {}},
      {"conda_env.name", Kind::string, "name of the conda env (not starting with `-`)", "", k_env_name},
      {"conda_env.python", Kind::string, "Python version of the env", "", k_python_version},
      {"conda_env.packages", Kind::string_list, "conda packages of the env (none starting with `-`)", "", k_conda_spec},
      {"conda_env.channels", Kind::string_list,
       "channels of the env, given with `--override-channels`; empty: the installer's own (`defaults` for "
       "Anaconda/Miniconda)",
       "", k_conda_channels},
      {"conda_env.environment_file", Kind::string, "an environment.yml to use instead of python + packages", "",
       k_optional_path},
      {"conda_env.explicit_file", Kind::string,
       "an `@EXPLICIT` package list (path or https URL) installed without a solve, instead of python + packages", "",
       k_optional_path_or_url},
      {"conda_env.explicit_sha256", Kind::string,
       "sha256 of the explicit_file download; empty: pinned at its first download, like a dataset's", "",
       k_optional_sha256},
      {"conda_env.metapackage_channel", Kind::string,
       "when packages is one `name=version` metapackage that pins every package (anaconda=2018.12): the channel "
       "whose repodata.json gives its pins for the env's python, installed as an @EXPLICIT list without a solve; "
       "empty: conda solves (see below)",
       "", k_optional_https_url},
      {"assignments.repo", Kind::string, "git repository with the assignments; empty: `assignments.archives`",
       "cs231n-assignments-repo", k_optional_git_url},
      {"assignments.ref", Kind::string, "branch or tag (not starting with `-`); empty: the repository's default", "",
       not_an_option(matches(R"([A-Za-z0-9_./-]*)", "a branch or tag name"))},
      {"assignments.folder", Kind::string, "where to clone it (or unpack the archives)", "", k_home_path},
      {"assignments.archives",
       Kind::object_list,
       "with an empty repo: .zip archives of starter code unpacked into the folder, no file overwritten (see below)",
       "",
       {},
       archive_fields()},
      {"datasets.enabled", Kind::boolean, "download the course datasets", "", {}},
      {"datasets.items", Kind::object_list, "the dataset manifest (see below)", "", {}, dataset_item_fields()},
      {"datasets.extra", Kind::object_list, "datasets added to the manifest", "", {}, dataset_item_fields()},
      {"downloads.connections", Kind::integer,
       "HTTP connections all of a run's downloads may have open at once (every step, every file)", "", in_range(1, 64)},
      {"downloads.accelerate_pip_apt",
       Kind::boolean,
       "the agent downloads the wheels pip resolves and the `.deb`s apt would fetch (several at once, each over "
       "several connections), then pip and apt install them; `false`: pip and apt download by themselves",
       "",
       {}},
      {"jupyter.port", Kind::integer, "HTTPS port", "", in_range(1, 65535)},
      {"jupyter.password_hash", Kind::string, "a ready Jupyter hash (`sha1:...` or `argon2:...`)",
       "jupyter-password-hash", k_password_hash},
      {"jupyter.password_file", Kind::string, "root-only file holding a plaintext password", "", k_optional_path},
      {"jupyter.hash_algorithm", Kind::string, "hash made from a plaintext password", "", one_of({"sha1", "argon2"})},
      {"jupyter.certificate_days", Kind::integer, "certificate validity", "", in_range(1, 825)},
      {"jupyter.certificate_key", Kind::string, "certificate key type", "",
       one_of({"ec-p256", "rsa-2048", "rsa-3072"})},
      {"jupyter.service", Kind::boolean, "run Jupyter as a systemd service", "", {}},
      {"gpu.force", Kind::boolean, "set up the GPU path even when no NVIDIA GPU is seen", "", {}},
      {"gpu.cuda", Kind::string, "CUDA version, or `auto` for the newest that GPU, driver, OS and torch allow",
       "cs231n-cuda", k_cuda_choice},
      {"gpu.driver_branch", Kind::string, "NVIDIA driver branch, or `auto`", "", k_branch_choice},
      {"gpu.persistence", Kind::boolean, "turn on persistence mode (`nvidia-smi -pm 1`)", "", {}},
      {"gpu.repo_url", Kind::string, "NVIDIA's CUDA repositories (`<distro>/x86_64/` under it)", "", k_https_url},
      {"gpu.keyring_sha256", Kind::string_map,
       "sha256 of `<repo>/cuda-keyring_<version>_all.deb` files, added to (and over) the agent's table", "",
       k_keyring_sha256s},
      {"pytorch.version", Kind::string, "torch version, or `auto`", "", k_torch_choice},
      {"pytorch.index_url", Kind::string, "where PyTorch's wheel indexes live (`torch_stable.html`, `cu126/`, `cpu/`)",
       "", k_https_url},
      {"pytorch.torchvision",
       Kind::boolean,
       "install torchvision with torch, from the same index: pip takes the release whose wheels require that torch "
       "(torch 1.11 and newer)",
       "",
       {}},
      {"idle_shutdown.enabled", Kind::boolean, "power the VM off when idle", "cs231n-idle-shutdown", {}},
      {"idle_shutdown.minutes", Kind::integer, "idle minutes before power-off", "cs231n-idle-minutes",
       in_range(5, 1440)},
      {"idle_shutdown.cpu_load_percent", Kind::integer,
       "5-minute load average, in % of one CPU, that counts as activity", "", in_range(1, 100000)},
      {"idle_shutdown.gpu_percent", Kind::integer, "GPU utilisation (%, any GPU) that counts as activity", "",
       in_range(1, 100)},
      {"idle_shutdown.busy_max_minutes", Kind::integer,
       "minutes a busy Jupyter kernel counts as activity without a message while CPU and GPU are quiet", "",
       in_range(5, 10080)},
      {"idle_shutdown.command", Kind::string_list, "argv that powers the machine off", "", k_nonempty_argv},
      {"steps", Kind::object_list, "custom steps (see below)", "", {}, custom_step_fields()},
      {"reboot.command", Kind::string_list, "argv that reboots the machine", "", k_nonempty_argv},
      {"reboot.boot_id_file", Kind::string, "where the boot id is read", "", k_optional_path},
      {"reboot.max_reboots", Kind::integer, "reboots allowed in one run", "", in_range(0, 10)},
      {"timeouts", Kind::integer_map, "seconds per step name; `default` for the rest", "", k_timeouts},
  };
  return fields;
}

std::string_view describe(Kind kind) {
  switch (kind) {
    case Kind::string: return "a string";
    case Kind::boolean: return "true or false";
    case Kind::integer: return "an integer";
    case Kind::string_list: return "a list of strings";
    case Kind::string_map: return "an object of strings";
    case Kind::integer_map: return "an object of integers";
    case Kind::object_list: return "a list of objects";
  }
  return "a value";
}

nlohmann::json profile_defaults(const std::string& profile) {
  const bool seed = profile == "seed";
  return {
      {"profile", "auto"},
      {"user", ""},
      {"anaconda",
       {{"installer_url", seed ? "https://repo.anaconda.com/archive/Anaconda3-2018.12-Linux-x86_64.sh"
                               // Miniforge: conda-forge's installer, conda-forge channel only, no Anaconda ToS plugin
                               // (github.com/conda-forge/miniforge, README and Miniforge3/construct.yaml).
                               : "https://github.com/conda-forge/miniforge/releases/download/26.7.2-0/"
                                 "Miniforge3-26.7.2-0-Linux-x86_64.sh"},
        // current: the sha256 pinned for Miniforge3-26.7.2-0-Linux-x86_64.sh by many public projects that
        // check it against the release's Miniforge3-26.7.2-0-Linux-x86_64.sh.sha256 asset (docs/sources/
        // conda-and-miniforge.md section 2; the asset itself could not be read from here).
        {"installer_sha256", seed ? "1019d0857e5865f8a6861eaf15bfe535b87e92b72ce4f531000dc672be7fce00"
                                  : "281b0ac7d550802efc81af633225a5e6116d29ae72f3ab4eae7168c3931a4c05"},
        {"prefix", seed ? "~/anaconda3" : "~/miniforge3"},
        {"accept_tos", false}}},
      {"conda_env",
       {{"name", "cs231n"},
        {"python", seed ? "3.6" : "3.12"},
        // seed: the tutorial's `anaconda` metapackage, pinned to its release so that it still solves quickly.
        // current: what the assignments import (cs231n/cs231n.github.io, assignments 2024-2026; see
        // docs/sources/conda-and-miniforge.md section 6): `past.builtins` is package future, six, PIL is
        // pillow; assignment 2 builds a Cython extension with distutils, which Python 3.12 left to
        // setuptools. notebook and ipykernel run the notebooks; torch comes from the pytorch step.
        {"packages", seed ? json::array({"anaconda=2018.12"})
                          : json::array({"numpy", "scipy", "matplotlib", "pillow", "imageio", "future", "six", "h5py",
                                         "cython", "setuptools", "notebook", "ipykernel"})},
        // seed: conda's own (Anaconda 2018.12's `defaults`, as the tutorial did); current: conda-forge only.
        {"channels", seed ? json::array() : json::array({"conda-forge"})},
        {"environment_file", ""},
        {"explicit_file", ""},
        {"explicit_sha256", ""},
        // seed: the channel the tutorial's `anaconda` came from (`defaults`' pkgs/main), read by the agent
        // instead of conda 4.5's solver (docs/sources/conda-and-miniforge.md sections 4-5).
        {"metapackage_channel", seed ? "https://repo.anaconda.com/pkgs/main" : ""}}},
      // seed: the tutorial's repository (the 2018 assignments, Python 3.6 and SciPy < 1.2 era). current:
      // the course's own release of this term, as zips (it publishes no git repository of them); the
      // tutorial's code imports scipy.misc.imread, gone since SciPy 1.3.0 (docs/sources/conda-and-miniforge.md
      // section 6).
      {"assignments", seed ? json{{"repo", "https://github.com/jinh0park/cs231n-setup.git"},
                                  {"ref", ""},
                                  {"folder", "~/cs231n-setup"},
                                  {"archives", json::array()}}
                           : json{{"repo", ""}, {"ref", ""}, {"folder", "~/cs231n"}, {"archives", course_archives()}}},
      {"datasets",
       {{"enabled", true},
        {"items", seed ? dataset_manifest() : current_dataset_manifest()},
        {"extra", json::array()}}},
      // One CDN connection brings tens of MB/s (pip printed 94.7 MB/s for torch's 888 MB wheel from
      // PyPI's CDN in dstackai/dstack#3029, and 50-100 MB/s for torch in invoke-ai/InvokeAI#3146),
      // while a GCE VM's network is several Gbit/s (cloud.google.com/compute/docs/network-bandwidth:
      // 2 Gbps per vCPU up to the machine type's cap, 16 Gbps for an n1-standard-8): 16 connections
      // of ~50 MB/s fill about 6 Gbit/s, the link of the 4-8 vCPU VMs a course uses; more only load
      // the servers (a mirror or CDN may answer many parallel connections with 429 or 503).
      {"downloads", {{"connections", 16}, {"accelerate_pip_apt", true}}},
      {"jupyter",
       {{"port", 8888},
        {"password_hash", ""},
        {"password_file", ""},
        {"hash_algorithm", seed ? "sha1" : "argon2"},
        {"certificate_days", 365},
        {"certificate_key", "ec-p256"},
        {"service", true}}},
      {"gpu",
       {{"force", false},
        {"cuda", seed ? "10.0" : "auto"},
        {"driver_branch", "auto"},
        {"persistence", true},
        {"repo_url", "https://developer.download.nvidia.com/compute/cuda/repos"},
        {"keyring_sha256", json::object()}}},
      // torchvision: the 2026 assignment 2 imports it (PyTorch.ipynb: torchvision.datasets, .transforms;
      // tests/fixtures/assignment-imports/cs231n-2026.txt). The tutorial installs torch alone (`pip install
      // torch`, "Pytorch 설치"), and the seed keeps to it; its torch 1.2.0 comes from PyPI or torch_stable.html,
      // where pip cannot pick the matching torchvision by itself (docs/sources/gpu-driver-cuda-torch.md).
      {"pytorch",
       {{"version", seed ? "1.2.0" : "auto"},
        {"index_url", "https://download.pytorch.org/whl"},
        {"torchvision", !seed}}},
      {"idle_shutdown",
       {{"enabled", true},
        {"minutes", 60},
        {"cpu_load_percent", 50},
        {"gpu_percent", 10},
        {"busy_max_minutes", 60},
        {"command", {"systemctl", "poweroff"}}}},
      {"steps", json::array()},
      {"reboot",
       {{"command", {"systemctl", "reboot"}}, {"boot_id_file", "/proc/sys/kernel/random/boot_id"}, {"max_reboots", 3}}},
      {"timeouts",
       {{"default", 3600},
        {"apt-packages", 1800},
        {"anaconda", 3600},
        {"conda-env", 7200},
        {"datasets", 3600},
        {"nvidia-driver", 3600}}},
  };
}

std::string schema_markdown() {
  const auto seed = profile_defaults("seed");
  const auto current = profile_defaults("current");
  const auto shown = [](const json& value) {
    if (value.is_array() && value.size() > 3) return std::string("(" + std::to_string(value.size()) + " entries)");
    std::string text = value.dump();
    if (text == "\"\"") return std::string("(empty)");
    std::string escaped;
    for (char c : text) escaped += c == '|' ? std::string("\\|") : std::string(1, c);
    return "`" + escaped + "`";
  };
  std::string table =
      "| key | type | seed default | current default | metadata attribute | meaning |\n"
      "| --- | --- | --- | --- | --- | --- |\n";
  for (const auto& field : schema()) {
    const json::json_pointer pointer("/" + std::regex_replace(field.path, std::regex("\\."), "/"));
    const auto seed_value = shown(seed.at(pointer));
    const auto current_value = shown(current.at(pointer));
    table += "| `" + field.path + "` | " + std::string(describe(field.kind)) + " | " + seed_value + " | " +
             (current_value == seed_value ? std::string("same") : current_value) + " | " +
             (field.metadata_attribute.empty() ? std::string("") : "`" + field.metadata_attribute + "`") + " | " +
             field.description + " |\n";
  }
  return table;
}

}  // namespace cs231n::config
