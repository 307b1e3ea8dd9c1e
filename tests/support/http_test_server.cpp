#include "support/http_test_server.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "agent/util/digest.hpp"

extern char** environ;

namespace cs231n::testing {

namespace {

std::string slurp(const std::filesystem::path& path) {
  std::ifstream stream(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(stream), std::istreambuf_iterator<char>()};
}

std::string digest_of_file(const std::filesystem::path& path, util::StreamingDigest digest) {
  std::ifstream stream(path, std::ios::binary);
  if (!stream) throw std::runtime_error("cannot read " + path.string());
  std::vector<char> buffer(1u << 20);
  while (stream) {
    stream.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    digest.update(buffer.data(), static_cast<std::size_t>(stream.gcount()));
  }
  return digest.finish();
}

}  // namespace

std::filesystem::path HttpTestServer::script() {
  if (const char* source = std::getenv("CS231N_SOURCE_DIR"); source && *source) {
    return std::filesystem::path(source) / "tests/support/http_server.py";
  }
  return std::filesystem::path(__FILE__).parent_path() / "http_server.py";
}

HttpTestServer::HttpTestServer(const std::filesystem::path& dir, const Options& options)
    : m_root(dir / "root"), m_log(dir / "server.log"), m_tls(!options.cert.empty()) {
  std::filesystem::create_directories(m_root);
  const auto port_file = dir / "server.port";
  const auto stderr_file = dir / "server.stderr";
  std::filesystem::remove(port_file);
  std::vector<std::string> args = {"/usr/bin/python3", script().string(),  "--root", m_root.string(),
                                   "--port-file",      port_file.string(), "--log",  m_log.string()};
  if (m_tls) args.insert(args.end(), {"--cert", options.cert.string(), "--key", options.key.string()});
  if (!options.metadata.empty()) args.insert(args.end(), {"--metadata", options.metadata.string()});
  if (options.no_flavor_header) args.push_back("--no-flavor-header");
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  const int error = ::posix_spawn(&m_pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) throw std::runtime_error("cannot start " + args[1] + ": " + std::strerror(error));

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::filesystem::exists(port_file)) {
      m_port = std::atoi(slurp(port_file).c_str());
      if (m_port > 0) return;
    }
    int status = 0;
    if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
      m_pid = -1;
      throw std::runtime_error("the test HTTP server ended at start: " + slurp(stderr_file));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error("the test HTTP server did not start within 15 s: " + slurp(stderr_file));
}

HttpTestServer::~HttpTestServer() {
  if (m_pid <= 0) return;
  ::kill(m_pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  int status = 0;
  while (::waitpid(m_pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(m_pid, SIGKILL);
      ::waitpid(m_pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string HttpTestServer::url(const std::string& path) const {
  return (m_tls ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(m_port) + path;
}

std::pair<long, std::string> HttpTestServer::get(const std::string& path) const {
  CURL* handle = curl_easy_init();
  std::string body;
  curl_easy_setopt(handle, CURLOPT_URL, url(path).c_str());
  curl_easy_setopt(handle, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 0L);  // only this test's own server
  curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 0L);
  curl_easy_setopt(handle, CURLOPT_TIMEOUT, 15L);
  curl_easy_setopt(
      handle, CURLOPT_WRITEFUNCTION, +[](char* data, size_t size, size_t count, void* user) {
        static_cast<std::string*>(user)->append(data, size * count);
        return size * count;
      });
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &body);
  const CURLcode code = curl_easy_perform(handle);
  long status = 0;
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(handle);
  if (code != CURLE_OK) throw std::runtime_error("the test HTTP server did not answer " + path);
  return {status, body};
}

void HttpTestServer::wait_idle() const {
  if (get("/_idle").first != 200) throw std::runtime_error("the test HTTP server did not become idle");
}

nlohmann::json HttpTestServer::bodies(bool reset) const {
  const auto [status, body] = get(reset ? "/_bodies?reset=1" : "/_bodies");
  if (status != 200) throw std::runtime_error("the test HTTP server answered /_bodies with " + std::to_string(status));
  return nlohmann::json::parse(body);
}

std::vector<nlohmann::json> HttpTestServer::log() const {
  wait_idle();
  std::vector<nlohmann::json> entries;
  std::istringstream lines(slurp(m_log));
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) entries.push_back(nlohmann::json::parse(line));
  }
  // Lines are written as answers end; the order the requests came in is `seq`.
  std::ranges::sort(entries, {}, [](const nlohmann::json& entry) { return entry["seq"].get<std::uint64_t>(); });
  return entries;
}

std::vector<nlohmann::json> HttpTestServer::log_for(const std::string& path, const std::string& query) const {
  std::vector<nlohmann::json> entries;
  for (auto& entry : log()) {
    if (entry["path"] == path && (query == "*" || entry["query"] == query)) entries.push_back(std::move(entry));
  }
  return entries;
}

std::uint64_t HttpTestServer::bytes_sent(const std::string& path) const {
  std::uint64_t total = 0;
  for (const auto& entry : log_for(path)) total += entry["bytes"].get<std::uint64_t>();
  return total;
}

void write_random_file(const std::filesystem::path& path, std::size_t size, unsigned seed) {
  std::mt19937_64 random(seed);
  std::string data(size, '\0');
  for (std::size_t i = 0; i + 8 <= size; i += 8) {
    const std::uint64_t value = random();
    std::memcpy(data.data() + i, &value, 8);
  }
  for (std::size_t i = size - size % 8; i < size; ++i) data[i] = static_cast<char>(random());
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary).write(data.data(), static_cast<std::streamsize>(data.size()));
}

TestCertificates make_test_certificates(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  const TestCertificates made{dir / "ca.pem", dir / "server.pem", dir / "server.key"};
  std::ofstream(dir / "server.ext") << "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                       "extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n";
  std::string script = "set -e; cd '";
  script += dir.string();  // a TempDir: no quotes in it
  script +=
      "'; exec >openssl.log 2>&1;"
      " openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -days 2"
      "  -subj /CN=cs231n-test-ca -addext basicConstraints=critical,CA:TRUE -addext "
      "keyUsage=critical,keyCertSign,cRLSign;"
      " openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr -subj "
      "/CN=127.0.0.1;"
      " openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile "
      "server.ext";
  if (std::system(script.c_str()) != 0) {
    throw std::runtime_error("openssl could not make the test certificates: " + slurp(dir / "openssl.log"));
  }
  return made;
}

std::string sha256_of_file(const std::filesystem::path& path) {
  return digest_of_file(path, util::StreamingDigest::sha256());
}
std::string md5_of_file(const std::filesystem::path& path) {
  return digest_of_file(path, util::StreamingDigest::md5());
}

}  // namespace cs231n::testing
