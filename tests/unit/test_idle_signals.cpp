#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <utmp.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <thread>

#include "agent/core/paths.hpp"
#include "agent/engine/lock.hpp"
#include "agent/engine/state.hpp"
#include "agent/idle/signals.hpp"
#include "agent/jupyter/api_token.hpp"
#include "agent/util/time.hpp"
#include "support/fake_system.hpp"
#include "support/http_test_server.hpp"
#include "support/temp_dir.hpp"

using namespace cs231n;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

const std::string k_token(64, 'a');

idle::TimePoint at(const char* iso) {
  const auto time = util::parse_iso8601(iso);
  REQUIRE(time);
  return *time;
}

// A root with the agent's token file and certificate, as the jupyter steps leave them.
struct JupyterRoot {
  testing::TempDir root;
  testing::FakeSystem system{root.path()};
  idle::JupyterSource source{8890, "/home/ann/.jupyter/certs/jupyter.pem", Paths::defaults().api_token_file()};

  JupyterRoot() {
    root.write(Paths::defaults().api_token_file(), jupyter::api_token_file_content(k_token));
    root.write("home/ann/.jupyter/certs/jupyter.pem", "-----BEGIN CERTIFICATE-----\n");
  }
};

// A fetcher that records the request and gives a fixed answer.
struct FakeJupyter {
  std::vector<idle::KernelsRequest> requests;
  util::Result<net::SimpleResponse> answer;

  idle::KernelsFetcher fetcher() {
    return [this](const idle::KernelsRequest& request) {
      requests.push_back(request);
      return answer;
    };
  }
  static util::Result<net::SimpleResponse> status(long code, std::string body) {
    net::SimpleResponse response;
    response.status = code;
    response.body = std::move(body);
    return response;
  }
};

std::string utmp_record(short type, int pid, const std::string& user, const std::string& line) {
  utmp record{};
  record.ut_type = type;
  record.ut_pid = pid;
  std::strncpy(record.ut_user, user.c_str(), sizeof record.ut_user);
  std::strncpy(record.ut_line, line.c_str(), sizeof record.ut_line);
  std::strncpy(record.ut_host, "203.0.113.9", sizeof record.ut_host);
  return std::string(reinterpret_cast<const char*>(&record), sizeof record);
}

void set_access_time(const std::filesystem::path& path, idle::TimePoint time) {
  const auto since_epoch = std::chrono::duration_cast<seconds>(time.time_since_epoch()).count();
  const timespec times[2] = {{static_cast<time_t>(since_epoch), 0}, {static_cast<time_t>(since_epoch), 0}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

void set_modification_time(const std::filesystem::path& path, idle::TimePoint time) {
  const auto since_epoch = std::chrono::duration_cast<seconds>(time.time_since_epoch()).count();
  const timespec times[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(since_epoch), 0}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

}  // namespace

TEST_CASE("parse_kernels: Jupyter's list; anything else is an error") {
  const auto kernels = idle::parse_kernels(
      R"([{"id": "k1", "name": "python3", "last_activity": "2026-11-29T22:15:52.354252Z", "execution_state": "busy", "connections": 0},
          {"id": "k2", "name": "python3", "execution_state": "idle"}])");
  REQUIRE(kernels);
  REQUIRE(kernels->size() == 2);
  CHECK((*kernels)[0].execution_state == "busy");
  CHECK((*kernels)[0].last_activity == at("2026-11-29T22:15:52.354252Z"));
  CHECK_FALSE((*kernels)[1].last_activity);
  CHECK(idle::parse_kernels("[]")->empty());
  CHECK_FALSE(idle::parse_kernels("<html>"));
  CHECK_FALSE(idle::parse_kernels(R"({"kernels": []})"));
  CHECK_FALSE(idle::parse_kernels("[1]"));
}

TEST_CASE("jupyter signal: GET /api/kernels over HTTPS to 127.0.0.1 with the token, the agent's certificate as CA") {
  JupyterRoot machine;
  FakeJupyter jupyter;
  jupyter.answer = FakeJupyter::status(
      200, R"([{"id": "k1", "name": "python3", "last_activity": "2026-11-29T22:15:52Z", "execution_state": "idle"},
      {"id": "k2", "name": "python3", "last_activity": "2026-11-29T22:40:00Z", "execution_state": "busy"}])");
  const auto signal = idle::jupyter_signal(machine.system.files(), machine.source, jupyter.fetcher());
  REQUIRE(jupyter.requests.size() == 1);
  CHECK(jupyter.requests[0].url == "https://127.0.0.1:8890/api/kernels");
  CHECK(jupyter.requests[0].ca_pem == "-----BEGIN CERTIFICATE-----\n");  // the bytes, never the path
  CHECK(jupyter.requests[0].token == k_token);
  CHECK(signal.active);
  CHECK_FALSE(signal.unknown);
  CHECK(signal.last_seen == at("2026-11-29T22:40:00Z"));
  CHECK(signal.detail == "2 kernels: python3 busy; last activity 2026-11-29T22:40:00Z");

  SUBCASE("idle kernels: quiet, their last activity dated") {
    jupyter.answer = FakeJupyter::status(
        200,
        R"([{"id": "k1", "name": "python3", "last_activity": "2026-11-29T22:15:52Z", "execution_state": "idle"}])");
    const auto quiet = idle::jupyter_signal(machine.system.files(), machine.source, jupyter.fetcher());
    CHECK_FALSE(quiet.active);
    CHECK(quiet.last_seen == at("2026-11-29T22:15:52Z"));
    CHECK(quiet.detail == "1 kernel, none busy; last activity 2026-11-29T22:15:52Z");
  }
  SUBCASE("a kernel Jupyter still calls starting counts by its last activity only (it may say so for ever)") {
    jupyter.answer = FakeJupyter::status(200, R"([{"id": "k1", "name": "python3", "execution_state": "starting",
        "last_activity": "2026-11-29T22:15:52Z"}])");
    const auto starting = idle::jupyter_signal(machine.system.files(), machine.source, jupyter.fetcher());
    CHECK_FALSE(starting.active);
    CHECK(starting.last_seen == at("2026-11-29T22:15:52Z"));
  }
  SUBCASE("no kernel") {
    jupyter.answer = FakeJupyter::status(200, "[]");
    const auto none = idle::jupyter_signal(machine.system.files(), machine.source, jupyter.fetcher());
    CHECK_FALSE(none.active);
    CHECK_FALSE(none.unknown);
    CHECK_FALSE(none.last_seen);
    CHECK(none.detail == "no kernel running");
  }
}

TEST_CASE("jupyter signal: what cannot be read is unknown (quiet), says why, and never shows the token") {
  JupyterRoot machine;
  FakeJupyter jupyter;
  std::string expected;
  SUBCASE("the token refused") {
    jupyter.answer = FakeJupyter::status(403, "Forbidden");
    expected =
        "Jupyter at https://127.0.0.1:8890 refused the agent's token (HTTP 403): restart it (systemctl restart "
        "cs231n-jupyter) so that it reads /var/lib/cs231n-agent/jupyter/api-token.env";
  }
  SUBCASE("another status") {
    jupyter.answer = FakeJupyter::status(500, "oops");
    expected = "Jupyter at https://127.0.0.1:8890 answered HTTP 500 for /api/kernels";
  }
  SUBCASE("no answer") {
    jupyter.answer = util::fail("https://127.0.0.1:8890/api/kernels: Couldn't connect to server");
    expected = "Jupyter does not answer: https://127.0.0.1:8890/api/kernels: Couldn't connect to server";
  }
  SUBCASE("not JSON") {
    jupyter.answer = FakeJupyter::status(200, "<html>");
    expected = "the answer to /api/kernels is not JSON";
  }
  SUBCASE("no token file: Jupyter is not asked") {
    std::filesystem::remove(machine.root.path() / "var/lib/cs231n-agent/jupyter/api-token.env");
    expected = "no API token in /var/lib/cs231n-agent/jupyter/api-token.env (the jupyter-service step writes it)";
  }
  SUBCASE("a malformed token file: Jupyter is not asked") {
    machine.root.write(Paths::defaults().api_token_file(), "CS231N_JUPYTER_API_TOKEN=short\n");
    expected = "/var/lib/cs231n-agent/jupyter/api-token.env is not one line CS231N_JUPYTER_API_TOKEN=<64 hex digits>";
  }
  SUBCASE("no certificate: Jupyter is not asked") {
    std::filesystem::remove(machine.root.path() / "home/ann/.jupyter/certs/jupyter.pem");
    expected = "no certificate at /home/ann/.jupyter/certs/jupyter.pem (the jupyter-cert step makes it)";
  }
  const auto signal = idle::jupyter_signal(machine.system.files(), machine.source, jupyter.fetcher());
  CHECK(signal.unknown);
  CHECK_FALSE(signal.active);
  CHECK(signal.detail == expected);
  CHECK(signal.detail.find(k_token) == std::string::npos);
}

TEST_CASE(
    "jupyter signal: no answer within 15 minutes of the agent's own change to Jupyter (root's record) counts as "
    "active, "
    "still reported; later, without the record, or for a wrong answer, it is not") {
  JupyterRoot machine;
  FakeJupyter jupyter;
  jupyter.answer = util::fail("https://127.0.0.1:8890/api/kernels: SSL certificate problem: self-signed certificate");
  const auto now = at("2026-12-04T10:00:00Z");
  const auto& files = machine.system.files();
  machine.source.changed_file = Paths::defaults().jupyter_changed_file();
  const auto probe = [&] {
    auto signal = idle::jupyter_signal(files, machine.source, jupyter.fetcher());
    idle::apply_probe_grace(signal, idle::jupyter_changed_at(files, machine.source.changed_file), now);
    return signal;
  };
  // What jupyter-cert and jupyter-service record when they give Jupyter a new certificate or token.
  REQUIRE(idle::record_jupyter_change(files, machine.source.changed_file, now - minutes(3)));
  struct stat st {};
  REQUIRE(::stat((machine.root.path() / "var/lib/cs231n-agent/jupyter/changed-at").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(idle::jupyter_changed_at(files, machine.source.changed_file) == now - minutes(3));

  auto signal = probe();
  CHECK(signal.active);
  CHECK(signal.unknown);
  CHECK(signal.detail ==
        "Jupyter does not answer: https://127.0.0.1:8890/api/kernels: SSL certificate problem: self-signed "
        "certificate; counted as active until 2026-12-04T10:12:00Z, 15 min after the agent gave Jupyter a new "
        "certificate or token at 2026-12-04T09:57:00Z (Jupyter restarts)");

  SUBCASE("15 minutes on, it is unknown and quiet") {
    REQUIRE(idle::record_jupyter_change(files, machine.source.changed_file, now - minutes(15)));
    CHECK_FALSE(probe().active);
  }
  SUBCASE("the student's files' times count for nothing: touching the certificate keeps nothing up") {
    REQUIRE(idle::record_jupyter_change(files, machine.source.changed_file, now - minutes(600)));
    set_modification_time(machine.root.path() / "home/ann/.jupyter/certs/jupyter.pem", now - minutes(1));
    set_modification_time(machine.root.path() / "var/lib/cs231n-agent/jupyter/api-token.env", now - minutes(1));
    signal = probe();
    CHECK_FALSE(signal.active);
    CHECK(signal.unknown);
  }
  SUBCASE("without the agent's record there is no grace") {
    std::filesystem::remove(machine.root.path() / "var/lib/cs231n-agent/jupyter/changed-at");
    CHECK_FALSE(probe().active);
  }
  SUBCASE("an answer, even a wrong one (401, 500, not JSON), is no restart: no grace") {
    for (const auto& [status, body] :
         {std::pair<long, std::string>{401, "Unauthorized"}, {500, "oops"}, {200, "<html>"}}) {
      CAPTURE(status);
      jupyter.answer = FakeJupyter::status(status, body);
      signal = probe();
      CHECK(signal.unknown);
      CHECK_FALSE(signal.active);
    }
  }
  SUBCASE("a probe that answers is judged by its answer") {
    jupyter.answer = FakeJupyter::status(200, "[]");
    signal = probe();
    CHECK_FALSE(signal.active);
    CHECK(signal.detail == "no kernel running");
  }
}

TEST_CASE(
    "jupyter signal: the certificate is read once, without following a link, and TLS gets its bytes: swapped for a "
    "FIFO after that read, nothing blocks and nothing of the swap is trusted") {
  testing::TempDir dir;
  const auto certificates = testing::make_test_certificates(dir.path() / "tls");
  testing::HttpTestServer::Options options;
  options.cert = certificates.cert;
  options.key = certificates.key;
  testing::HttpTestServer server(dir.path() / "server", options);
  std::ofstream(server.root() / "kernels.json") << "[]";
  JupyterRoot machine;
  const auto pem = machine.root.path() / "home/ann/.jupyter/certs/jupyter.pem";
  std::ifstream ca(certificates.ca);
  machine.root.write("home/ann/.jupyter/certs/jupyter.pem",
                     std::string(std::istreambuf_iterator<char>(ca), std::istreambuf_iterator<char>()));
  // Should anything open the FIFO, a writer that opens and closes it after 5 s ends the wait.
  std::atomic<bool> done = false;
  std::thread unblocker([&] {
    for (int i = 0; i < 50 && !done; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!done) ::close(::open(pem.c_str(), O_WRONLY | O_NONBLOCK));
  });
  // The student's move between the agent's read and the request: the file becomes a FIFO.
  const auto swap_then_ask = [&](const idle::KernelsRequest& request) {
    std::filesystem::remove(pem);
    REQUIRE(::mkfifo(pem.c_str(), 0644) == 0);
    auto to_server = request;
    to_server.url = server.url("/files/kernels.json");
    return idle::fetch_kernels(to_server);
  };
  const auto started = std::chrono::steady_clock::now();
  const auto signal = idle::jupyter_signal(machine.system.files(), machine.source, swap_then_ask);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  done = true;
  unblocker.join();
  CHECK(elapsed < seconds(3));
  CHECK_FALSE(signal.unknown);
  CHECK(signal.detail == "no kernel running");
}

TEST_CASE("busy limit: a busy kernel counts while CPU or GPU work, or busy_max after its last message") {
  const auto now = at("2026-12-04T10:00:00Z");
  idle::Signal jupyter{"jupyter"};
  jupyter.active = true;
  jupyter.detail = "1 kernel: python3 busy";
  jupyter.busy_last_seen = now - minutes(61);
  idle::Signal cpu{"cpu"};
  idle::Signal gpu{"gpu"};
  std::vector<idle::Signal> signals;
  const auto jupyter_after = [&](std::chrono::minutes busy_max) {
    signals = {jupyter, cpu, gpu};
    idle::apply_busy_limit(signals, now, busy_max);
    return signals.front();
  };
  CHECK_FALSE(jupyter_after(minutes(60)).active);
  CHECK(jupyter_after(minutes(62)).active);
  CHECK(jupyter_after(minutes(62)).detail ==
        "1 kernel: python3 busy; busy with quiet CPU and GPU counts until 2026-12-04T10:01:00Z, "
        "idle_shutdown.busy_max_minutes (62) after its last message");
  gpu.active = true;
  CHECK(jupyter_after(minutes(60)).active);
  gpu.active = false;
  cpu.active = true;
  CHECK(jupyter_after(minutes(60)).active);
  cpu.active = false;
  jupyter.busy_last_seen.reset();  // a busy kernel Jupyter cannot date
  CHECK_FALSE(jupyter_after(minutes(60)).active);
}

TEST_CASE(
    "jupyter signal: nothing listening on the port (/proc/net/tcp, tcp6) means Jupyter is not running: quiet, not "
    "asked") {
  JupyterRoot machine;
  FakeJupyter jupyter;
  jupyter.answer = FakeJupyter::status(200, "[]");
  const std::string header =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
  // 127.0.0.1:22 listening, 0.0.0.0:8890 (0x22BA) only as an established connection.
  machine.root.write("proc/net/tcp",
                     header +
                         "   0: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1 1\n"
                         "   1: 00000000:22BA 0200007F:D431 01 00000000:00000000 00:00000000 00000000 0 0 2 1\n");
  machine.root.write("proc/net/tcp6", header);
  auto signal = idle::jupyter_signal(machine.system.files(), machine.source, jupyter.fetcher());
  CHECK(jupyter.requests.empty());
  CHECK_FALSE(signal.unknown);
  CHECK_FALSE(signal.active);
  CHECK(signal.detail == "Jupyter is not running (nothing listens on port 8890)");

  machine.root.write("proc/net/tcp6",
                     header +
                         "   0: 00000000000000000000000000000000:22BA 00000000000000000000000000000000:0000 0A "
                         "00000000:00000000 00:00000000 00000000 0 0 3 1\n");
  signal = idle::jupyter_signal(machine.system.files(), machine.source, jupyter.fetcher());
  CHECK(jupyter.requests.size() == 1);
  CHECK(signal.detail == "no kernel running");
}

TEST_CASE("jupyter signal: no target user means no Jupyter of the agent's: quiet, nothing asked") {
  JupyterRoot machine;
  machine.source.certificate.clear();
  FakeJupyter jupyter;
  const auto signal = idle::jupyter_signal(machine.system.files(), machine.source, jupyter.fetcher());
  CHECK(jupyter.requests.empty());
  CHECK_FALSE(signal.unknown);
  CHECK_FALSE(signal.active);
}

TEST_CASE("ssh signal: live utmp logins, dated by their terminal's last input") {
  testing::TempDir root;
  testing::FakeSystem system(root.path());
  root.write("run/utmp", utmp_record(BOOT_TIME, 1, "reboot", "~") + utmp_record(LOGIN_PROCESS, 500, "LOGIN", "ttyS0") +
                             utmp_record(USER_PROCESS, 4242, "ann", "pts/0") +
                             utmp_record(USER_PROCESS, 4343, "bob", "pts/1") +
                             utmp_record(USER_PROCESS, 999999, "gone", "pts/7"));
  root.write("proc/4242/stat", "");
  root.write("proc/4343/stat", "");
  set_access_time(root.write("dev/pts/0", ""), at("2026-11-29T22:00:00Z"));
  set_access_time(root.write("dev/pts/1", ""), at("2026-11-29T22:30:00Z"));
  set_access_time(root.write("dev/pts/7", ""), at("2026-11-29T23:59:00Z"));  // its session is dead

  const auto logins = idle::parse_utmp(*system.files().read("/run/utmp"));
  REQUIRE(logins.size() == 3);
  CHECK(logins[0].user == "ann");
  CHECK(logins[0].line == "pts/0");
  CHECK(logins[0].host == "203.0.113.9");
  CHECK(logins[0].pid == 4242);

  const auto signal = idle::ssh_signal(system.files());
  CHECK_FALSE(signal.active);
  CHECK_FALSE(signal.unknown);
  CHECK(signal.last_seen == at("2026-11-29T22:30:00Z"));
  CHECK(
      signal.detail ==
      "2 login sessions: ann on pts/0, last input 2026-11-29T22:00:00Z; bob on pts/1, last input 2026-11-29T22:30:00Z");

  SUBCASE("only dead sessions: none") {
    root.write("run/utmp", utmp_record(USER_PROCESS, 999999, "gone", "pts/7"));
    const auto none = idle::ssh_signal(system.files());
    CHECK_FALSE(none.last_seen);
    CHECK(none.detail == "no login session");
  }
  SUBCASE("/var/run/utmp when /run/utmp is missing") {
    std::filesystem::remove(root.path() / "run/utmp");
    root.write("var/run/utmp", utmp_record(USER_PROCESS, 4242, "ann", "pts/0"));
    CHECK(idle::ssh_signal(system.files()).last_seen == at("2026-11-29T22:00:00Z"));
  }
  SUBCASE("no utmp at all") {
    std::filesystem::remove(root.path() / "run/utmp");
    const auto none = idle::ssh_signal(system.files());
    CHECK_FALSE(none.last_seen);
    CHECK(none.detail == "no login session (no utmp)");
  }
}

TEST_CASE("gpu signal: nvidia-smi's utilisation against the threshold") {
  testing::TempDir root;
  testing::FakeSystem system(root.path());
  const std::vector<std::string> query{"nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"};

  SUBCASE("no nvidia-smi: quiet, nothing run") {
    const auto signal = idle::gpu_signal(system, 10);
    CHECK_FALSE(signal.active);
    CHECK_FALSE(signal.unknown);
    CHECK(signal.detail == "no nvidia-smi");
    CHECK(system.commands().empty());
  }
  root.write("usr/bin/nvidia-smi", "");
  SUBCASE("one of two GPUs busy") {
    system.expect(query, testing::FakeSystem::succeeded("3\n87\n"));
    const auto signal = idle::gpu_signal(system, 10);
    CHECK(signal.active);
    CHECK(signal.detail == "GPU utilisation 3%, 87%, at or above 10%");
  }
  SUBCASE("below the threshold; [N/A] lines ignored") {
    system.expect(query, testing::FakeSystem::succeeded("9\n[N/A]\n"));
    const auto signal = idle::gpu_signal(system, 10);
    CHECK_FALSE(signal.active);
    CHECK_FALSE(signal.unknown);
    CHECK(signal.detail == "GPU utilisation 9%, below 10%");
  }
  SUBCASE("nvidia-smi fails (the driver is not loaded): unknown") {
    system.expect(query, testing::FakeSystem::failed(
                             9, "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."));
    const auto signal = idle::gpu_signal(system, 10);
    CHECK(signal.unknown);
    CHECK_FALSE(signal.active);
    CHECK(signal.detail ==
          "nvidia-smi exited with status 9: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA "
          "driver.");
  }
  SUBCASE("no number at all: unknown") {
    system.expect(query, testing::FakeSystem::succeeded("[Not Supported]\n"));
    CHECK(idle::gpu_signal(system, 10).unknown);
  }
  system.verify();
  CHECK(system.commands().size() <= 1);
  for (const auto& command : system.commands()) CHECK(command.timeout == seconds(30));
}

TEST_CASE("cpu signal: the 5-minute load average against threshold_percent of one CPU") {
  testing::TempDir root;
  testing::FakeSystem system(root.path());
  root.write("proc/loadavg", "0.10 0.60 0.30 1/123 4567\n");
  auto signal = idle::cpu_signal(system.files(), 50);
  CHECK(signal.active);
  CHECK(signal.detail == "5-minute load 0.60, at or above 0.50");
  signal = idle::cpu_signal(system.files(), 61);
  CHECK_FALSE(signal.active);
  CHECK(signal.detail == "5-minute load 0.60, below 0.61");
  root.write("proc/loadavg", "3.00 0.20 0.10 1/123 4567\n");  // a burst in the last minute only
  CHECK_FALSE(idle::cpu_signal(system.files(), 50).active);
  root.write("proc/loadavg", "garbage\n");
  CHECK(idle::cpu_signal(system.files(), 50).unknown);
}

TEST_CASE("agent-run signal: the run lock held by someone is activity") {
  testing::TempDir root;
  testing::FakeSystem system(root.path());
  std::filesystem::create_directories(root.path() / "var/lib/cs231n-agent");
  CHECK_FALSE(idle::run_signal(system.files(), "/var/lib/cs231n-agent").active);
  auto lock = engine::RunLock::try_acquire(system.files(), "/var/lib/cs231n-agent");
  REQUIRE(lock);
  REQUIRE(*lock);
  const auto signal = idle::run_signal(system.files(), "/var/lib/cs231n-agent");
  CHECK(signal.active);
  CHECK(signal.detail == "a cs231n-agent run is in progress (pid " + std::to_string(::getpid()) + ")");
}
