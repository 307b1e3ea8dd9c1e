#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cs231n::testing {

// tests/support/http_server.py, started on a free port of 127.0.0.1 for one test and stopped
// (SIGTERM, then waited for) when the object goes away. Files to serve go to root().
class HttpTestServer {
 public:
  struct Options {
    std::filesystem::path cert;  // TLS when set (with key)
    std::filesystem::path key;
    std::filesystem::path metadata;
    bool no_flavor_header = false;
  };

  // `dir`: a folder of the test's own (root/, the port file and the log go there).
  explicit HttpTestServer(const std::filesystem::path& dir) : HttpTestServer(dir, Options{}) {}
  HttpTestServer(const std::filesystem::path& dir, const Options& options);
  ~HttpTestServer();
  HttpTestServer(const HttpTestServer&) = delete;
  HttpTestServer& operator=(const HttpTestServer&) = delete;

  const std::filesystem::path& root() const { return m_root; }
  int port() const { return m_port; }
  // "http://127.0.0.1:PORT" + path (https:// with TLS).
  std::string url(const std::string& path) const;
  // Waits until every request made so far is answered and logged.
  void wait_idle() const;
  // Every request made so far, one JSON object each (see http_server.py); waits for wait_idle().
  std::vector<nlohmann::json> log() const;
  // Only the requests whose path is `path` (and query is `query`, unless it is "*").
  std::vector<nlohmann::json> log_for(const std::string& path, const std::string& query = "*") const;
  // Body bytes the server sent for `path`, over every request.
  std::uint64_t bytes_sent(const std::string& path) const;
  // File bodies being sent now ("active") and the most at once ("most") since the start or the
  // last reset: the connections a client had open at once, at most (http_server.py's /_bodies).
  nlohmann::json bodies(bool reset = false) const;

  // The path of tests/support/http_server.py (CS231N_SOURCE_DIR, else next to this file).
  static std::filesystem::path script();

 private:
  // GET `path` of this server: status and body (throws when it does not answer).
  std::pair<long, std::string> get(const std::string& path) const;
  std::filesystem::path m_root;
  std::filesystem::path m_log;
  bool m_tls = false;
  pid_t m_pid = -1;
  int m_port = 0;
};

// Writes `size` pseudo-random bytes (a fixed seed per `seed`) to `path`.
void write_random_file(const std::filesystem::path& path, std::size_t size, unsigned seed);

// A CA and a certificate for 127.0.0.1 signed by it (openssl CLI), in `dir`.
struct TestCertificates {
  std::filesystem::path ca;    // the CA certificate (what a client trusts)
  std::filesystem::path cert;  // the server's certificate
  std::filesystem::path key;   // and its key
};
TestCertificates make_test_certificates(const std::filesystem::path& dir);

// The lowercase hex sha256 / md5 of a file.
std::string sha256_of_file(const std::filesystem::path& path);
std::string md5_of_file(const std::filesystem::path& path);

}  // namespace cs231n::testing
