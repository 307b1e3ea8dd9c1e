#include <map>
#include <mutex>
#include <set>

#include "agent/net/download.hpp"
#include "agent/util/hash.hpp"
#include "agent/util/redact.hpp"
#include "agent/util/strings.hpp"
#include "steps/common.hpp"
#include "steps/table.hpp"

namespace cs231n::steps {

namespace {

struct Item {
  std::string name;
  std::string url;
  std::string sha256;
  std::string md5;
  std::optional<std::uint64_t> size;
  std::string into;
  bool extract = false;
};

std::vector<Item> manifest(const config::Config& config) {
  std::vector<Item> items;
  for (const char* list : {"datasets.items", "datasets.extra"}) {
    for (const auto& entry : config.at(list)) {
      Item item;
      item.name = entry.at("name").get<std::string>();
      item.url = entry.at("url").get<std::string>();
      item.sha256 = entry.value("sha256", "");
      item.md5 = entry.value("md5", "");
      if (entry.contains("size")) item.size = entry.at("size").get<std::uint64_t>();
      item.into = entry.at("into").get<std::string>();
      item.extract = entry.value("extract", false);
      items.push_back(item);
    }
  }
  return items;
}

// What the marker beside an unpacked dataset says: the URL and the checksum it was verified with.
std::string marker_content(const Item& item, const nlohmann::json& pins) {
  std::string checksum = !item.sha256.empty() ? "sha256:" + item.sha256 : !item.md5.empty() ? "md5:" + item.md5 : "";
  if (checksum.empty()) {
    if (auto pinned = pinned_sha256(pins, item.url)) checksum = "sha256:" + *pinned;
  }
  // The marker is the user's to read: no credentials from the URL in it.
  return util::redact_credentials(item.url) + " " + checksum + "\n";
}

class DatasetsStep : public plan::Step {
 public:
  DatasetsStep() : Step({.name = "datasets", .after = {"assignments"}}) {}

  plan::Decision decide(const plan::Context& context) const override {
    const auto& config = context.config;
    if (!config.boolean("datasets.enabled")) return plan::skipped("datasets.enabled is false");
    std::set<std::string> urls;
    std::uint64_t bytes = 0;
    bool all_sizes_known = true;
    const auto items = manifest(config);
    for (const auto& item : items) {
      if (!urls.insert(item.url).second) continue;
      if (item.size)
        bytes += *item.size;
      else
        all_sizes_known = false;
    }
    if (items.empty()) return plan::skipped("the dataset manifest is empty");
    return plan::will_run("download " + std::to_string(urls.size()) + " files (" + (all_sizes_known ? "" : "over ") +
                          util::human_bytes(bytes) + "), verify and unpack them into " + std::to_string(items.size()) +
                          " assignment folders");
  }

  std::vector<plan::ExpectedDownload> expected_downloads(const plan::Context& context) const override {
    std::vector<plan::ExpectedDownload> downloads;
    std::set<std::string> urls;
    for (const auto& item : manifest(context.config)) {
      if (urls.insert(item.url).second) downloads.push_back(expected_file(context, item.url, item.size));
    }
    return downloads;
  }

  nlohmann::json inputs(const plan::Context& context) const override {
    return {{"datasets", context.config.at("datasets")},
            {"folder", context.config.string("assignments.folder")},
            {"user", context.facts.user.name}};
  }

  util::Result<plan::CheckResult> check(const plan::StepRun& run) const override {
    const auto missing = unpacked_missing(run);
    if (!missing.empty()) return plan::CheckResult{false, ""};
    return plan::CheckResult{true, "every dataset is unpacked and verified"};
  }

  util::Result<plan::ApplyResult> apply(const plan::StepRun& run) const override {
    const auto& files = run.system().files();
    const auto& paths = run.context().paths;
    if (auto made = files.make_dirs(paths.datasets_dir(), 0755); !made) return std::unexpected(made.error());
    auto pins = read_download_pins(files, paths);
    const auto todo = unpacked_missing(run);

    // Each URL once, several at a time.
    std::vector<net::QueuedDownload> queue;
    std::map<std::string, std::size_t> position;
    for (const auto& item : todo) {
      if (position.contains(item.url)) continue;
      net::DownloadRequest request;
      request.url = item.url;
      // Two URLs may end in the same name: the cache name carries a hash of the URL.
      request.dest =
          paths.datasets_dir() + "/" + util::sha256_hex(item.url).substr(0, 12) + "-" + file_name_of(item.url);
      request.sha256 = item.sha256;
      if (request.sha256.empty() && item.md5.empty()) request.sha256 = pinned_sha256(pins, item.url).value_or("");
      request.md5 = request.sha256.empty() ? item.md5 : "";
      request.want_sha256 = request.sha256.empty() && request.md5.empty();  // to pin it
      request.size = item.size;
      request.cancel = run.interrupt_flag();
      position[item.url] = queue.size();
      queue.push_back({request});
      run.note("download " + item.url);
    }
    // A file without a published checksum is pinned the moment it is complete: a run killed while
    // the others still download must not fetch it again (it would be unverified).
    std::mutex pins_mutex;
    util::Result<void> pinned;
    net::download_all(files, run.http(), queue, 3, [&](const net::QueuedDownload& entry) {
      if (!entry.result || !entry.request.sha256.empty() || !entry.request.md5.empty()) return;
      std::lock_guard lock(pins_mutex);
      pins[entry.request.url] = entry.result->sha256;
      if (auto saved = save_download_pin(files, paths, entry.request.url, entry.result->sha256); !saved && pinned)
        pinned = std::unexpected(saved.error());
    });
    if (!pinned) return std::unexpected(pinned.error());
    for (const auto& entry : queue) {
      if (!entry.result) {
        return std::unexpected(util::Failure{entry.result.error().message, 0,
                                             static_cast<int>(net::exit_code_of(entry.result.error().kind))});
      }
      run.note(entry.request.url + (entry.result->already_there ? ": in the cache, verified" : ": downloaded") +
               ", sha256 " + entry.result->sha256);
    }

    // Unpacked by the user's own processes, into the user's folders; nothing more to download.
    run.done_downloading();
    const std::string folder = expand_home(run.context(), run.config().string("assignments.folder"));
    for (const auto& item : todo) {
      const std::string archive = files.host_path(queue[position.at(item.url)].request.dest).string();
      const std::string destination = folder + "/" + item.into;
      if (auto made = run.run(as_user(run, {"mkdir", "-p", "--", destination})); !made)
        return std::unexpected(made.error());
      std::vector<std::string> unpack;
      if (!item.extract) {
        unpack = {"cp", "--", archive, destination + "/" + file_name_of(item.url)};
      } else if (file_name_of(item.url).ends_with(".zip")) {
        unpack = {"unzip", "-o", "-q", archive, "-d", destination};
      } else {
        unpack = {"tar", "-xzf", archive, "-C", destination};
      }
      if (auto unpacked = run.run(as_user(run, unpack)); !unpacked) {
        return util::fail("unpacking " + item.name + " failed: " + unpacked.error().message);
      }
      // Replaced, never opened for writing: a FIFO the student left there cannot block the step.
      if (auto written = write_as_user(run, marker_path(folder, item), marker_content(item, pins), "0644"); !written)
        return std::unexpected(written.error());
    }
    return plan::ApplyResult{};
  }

 private:
  static std::string marker_path(const std::string& folder, const Item& item) {
    return folder + "/" + item.into + "/.cs231n-agent-" + item.name;
  }

  // The items whose marker is missing or names another URL or checksum.
  static std::vector<Item> unpacked_missing(const plan::StepRun& run) {
    const auto& files = run.system().files();
    const auto pins = read_download_pins(files, run.context().paths);
    const std::string folder = expand_home(run.context(), run.config().string("assignments.folder"));
    std::vector<Item> missing;
    for (const auto& item : manifest(run.config())) {
      const auto marker = files.read_user_file(marker_path(folder, item));
      const auto wanted = marker_content(item, pins);
      if (!marker || *marker != wanted || wanted.ends_with(" \n")) missing.push_back(item);
    }
    return missing;
  }
};

}  // namespace

std::vector<DatasetPin> dataset_pins(const plan::Context& context) {
  std::vector<DatasetPin> pins;
  if (!context.config.boolean("datasets.enabled")) return pins;
  const auto pinned = read_download_pins(context.system.files(), context.paths);
  for (const auto& item : manifest(context.config)) {
    DatasetPin pin{item.name, item.url, "", ""};
    if (!item.sha256.empty()) {
      pin = {item.name, item.url, "sha256:" + item.sha256, "config"};
    } else if (!item.md5.empty()) {
      pin = {item.name, item.url, "md5:" + item.md5, "config"};
    } else if (auto sha256 = pinned_sha256(pinned, item.url)) {
      pin = {item.name, item.url, "sha256:" + *sha256, "pins"};
    }
    pins.push_back(pin);
  }
  return pins;
}

std::unique_ptr<plan::Step> make_datasets_step() { return std::make_unique<DatasetsStep>(); }

}  // namespace cs231n::steps
