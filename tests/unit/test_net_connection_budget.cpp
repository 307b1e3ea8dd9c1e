#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "agent/net/connection_budget.hpp"
#include "agent/net/transfer_meter.hpp"
#include "support/download_fixture.hpp"

// The run's one limit on download connections (net::ConnectionBudget, carried by HttpSettings)
// and a step's byte meter, against tests/support/http_server.py on 127.0.0.1, which counts the
// file bodies it sends at once (/_bodies): never more than the connections the client has open.

using namespace cs231n;
using namespace cs231n::testing::download;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t k_file_size = 3 * k_mib;
// Slow enough that the files' transfers overlap: 4 files of 3 MiB at 6 MiB/s per connection.
const std::string k_rate = "?rate=6291456";

std::vector<net::QueuedDownload> queue_of(Fixture& fixture, int files) {
  std::vector<net::QueuedDownload> queue;
  for (int i = 0; i < files; ++i) {
    const std::string name = "f" + std::to_string(i) + ".bin";
    const auto source = fixture.serve(name, k_file_size, static_cast<unsigned>(i + 1));
    auto request = fixture.request("/files/" + name + k_rate, name);
    request.sha256 = testing::sha256_of_file(source);
    request.size = k_file_size;
    queue.push_back({request});
  }
  return queue;
}

void check_all_arrived(const std::vector<net::QueuedDownload>& queue) {
  for (const auto& entry : queue) {
    REQUIRE_OK(entry.result);
    CHECK(entry.result->sha256 == entry.request.sha256);
  }
}

}  // namespace

TEST_CASE("connection budget: slots are taken and given back; waiting for one ends when cancelled") {
  net::ConnectionBudget budget(2);
  CHECK(budget.slots() == 2);
  CHECK(budget.acquire(nullptr));
  CHECK(budget.try_acquire());
  CHECK_FALSE(budget.try_acquire());
  CHECK(budget.in_use() == 2);
  std::atomic<bool> cancel = false;
  std::thread canceller([&] {
    std::this_thread::sleep_for(150ms);
    cancel = true;
  });
  CHECK_FALSE(budget.acquire(&cancel));  // none was freed
  canceller.join();
  budget.release();
  CHECK(budget.acquire(nullptr));
  budget.release();
  budget.release();
  CHECK(budget.in_use() == 0);

  net::ConnectionSlots slots(&budget);
  CHECK(slots.hold_one(nullptr));
  CHECK(slots.hold_one(nullptr));  // holds one already: takes no second
  CHECK(slots.held() == 1);
  CHECK(slots.take_free());
  CHECK_FALSE(slots.take_free());
  slots.release_one(1);
  slots.release_one(1);  // keeps one
  CHECK(slots.held() == 1);
  CHECK(budget.in_use() == 1);
  slots.release_all();
  CHECK(budget.in_use() == 0);
}

TEST_CASE(
    "connection budget: while a step on the path to ready runs, the after-ready lane has a quarter of it, one "
    "while that step downloads") {
  net::ConnectionBudget budget(8);
  CHECK(budget.after_ready_slots() == 2);
  // Nothing on the ready path runs: either lane takes every slot.
  for (int i = 0; i < 8; ++i) CHECK(budget.try_acquire(net::Lane::after_ready));
  CHECK_FALSE(budget.try_acquire(net::Lane::ready_path));
  for (int i = 0; i < 8; ++i) budget.release(net::Lane::after_ready);

  budget.begin_ready_path();
  CHECK(budget.try_acquire(net::Lane::after_ready));
  CHECK(budget.try_acquire(net::Lane::after_ready));
  CHECK_FALSE(budget.try_acquire(net::Lane::after_ready));  // its quarter is taken
  for (int i = 0; i < 6; ++i) CHECK(budget.try_acquire(net::Lane::ready_path));
  CHECK_FALSE(budget.try_acquire(net::Lane::ready_path));  // the whole budget is
  for (int i = 0; i < 4; ++i) budget.release(net::Lane::ready_path);
  // While the ready path's own downloads hold connections, the toolkit keeps one, not a quarter:
  // each connection takes its own share of the link.
  budget.release(net::Lane::after_ready);
  budget.release(net::Lane::after_ready);
  CHECK(budget.try_acquire(net::Lane::after_ready));
  CHECK_FALSE(budget.try_acquire(net::Lane::after_ready));
  budget.release(net::Lane::ready_path);
  CHECK_FALSE(budget.try_acquire(net::Lane::after_ready));  // one ready-path connection is enough
  budget.release(net::Lane::ready_path);
  CHECK(budget.try_acquire(net::Lane::after_ready));  // none: its quarter again
  CHECK_FALSE(budget.try_acquire(net::Lane::after_ready));

  // A download after ready that waits for a slot gets one when the ready path's last step ends.
  budget.begin_ready_path();  // a second step on the path
  std::atomic<bool> took = false;
  std::thread waiting([&] { took = budget.acquire(nullptr, net::Lane::after_ready); });
  std::this_thread::sleep_for(300ms);
  CHECK_FALSE(took.load());
  budget.end_ready_path();
  std::this_thread::sleep_for(300ms);
  CHECK_FALSE(took.load());  // one step on the path still runs
  budget.end_ready_path();
  waiting.join();
  CHECK(took.load());
  CHECK(budget.in_use() == 3);
  for (int i = 0; i < 3; ++i) budget.release(net::Lane::after_ready);
  CHECK(budget.in_use() == 0);

  // ConnectionSlots give back to the lane they took from.
  budget.begin_ready_path();
  {
    net::ConnectionSlots toolkit(&budget, net::Lane::after_ready);
    CHECK(toolkit.hold_one(nullptr));
    CHECK(toolkit.take_free());
    CHECK_FALSE(toolkit.take_free());
  }
  net::ConnectionSlots again(&budget, net::Lane::after_ready);
  CHECK(again.take_free());
  CHECK(again.take_free());
  budget.end_ready_path();
}

TEST_CASE_FIXTURE(Fixture, "connection budget: parallel segmented downloads never hold more connections than it") {
  auto unlimited = queue_of(*this, 4);
  server.bodies(true);
  net::download_all(files, settings, unlimited, 4);
  check_all_arrived(unlimited);
  // Without a budget, 4 files of 4 segments each: what the limit below must prevent.
  CHECK(server.bodies()["most"].get<int>() > 3);

  for (const auto& entry : unlimited) std::filesystem::remove(entry.request.dest);
  auto budget = std::make_shared<net::ConnectionBudget>(3);
  settings.connections = budget;
  auto limited = queue_of(*this, 4);
  server.bodies(true);
  net::download_all(files, settings, limited, 4);
  check_all_arrived(limited);
  const auto bodies = server.bodies();
  CHECK(bodies["most"].get<int>() == 3);  // every slot used, none more
  CHECK(bodies["active"].get<int>() == 0);
  CHECK(budget->in_use() == 0);
  for (const auto& entry : limited) CHECK(entry.result->connections_used <= 3);
}

TEST_CASE_FIXTURE(Fixture, "connection budget: with one slot the files take turns, each on one connection") {
  settings.connections = std::make_shared<net::ConnectionBudget>(1);
  auto queue = queue_of(*this, 2);
  server.bodies(true);
  net::download_all(files, settings, queue, 2);
  check_all_arrived(queue);
  CHECK(server.bodies()["most"].get<int>() == 1);
  for (const auto& entry : queue) CHECK(entry.result->connections_used == 1);
}

TEST_CASE_FIXTURE(Fixture, "transfer meter: a step's files count from the start of download_all, to their sizes") {
  net::TransferMeter meter;
  settings.meter = &meter;
  auto queue = queue_of(*this, 3);
  std::atomic<bool> done = false;
  std::vector<net::TransferMeter::Reading> readings;
  std::thread watcher([&] {
    while (!done) {
      readings.push_back(meter.read());
      std::this_thread::sleep_for(50ms);
    }
  });
  net::download_all(files, settings, queue, 1);  // one at a time: the others wait, counted already
  done = true;
  watcher.join();
  check_all_arrived(queue);
  const auto reading = meter.read();
  CHECK(reading.files == 3);
  CHECK(reading.sizes_unknown == 0);
  CHECK(reading.total == 3 * k_file_size);
  CHECK(reading.done == 3 * k_file_size);
  REQUIRE(readings.size() > 2);
  const auto midway =
      std::ranges::find_if(readings, [](const auto& each) { return each.done > 0 && each.done < 3 * k_file_size; });
  REQUIRE(midway != readings.end());
  CHECK(midway->files == 3);
  CHECK(midway->total == 3 * k_file_size);

  // A file whose size the server does not say counts as unknown until it has arrived; a cached
  // one counts whole at once.
  net::TransferMeter second;
  settings.meter = &second;
  const auto source = serve("chunked.bin", k_mib + 5, 9);
  auto chunked = request("/files/chunked.bin?chunked=1", "chunked.bin");
  REQUIRE_OK(net::download(files, settings, chunked));
  chunked.sha256 = testing::sha256_of_file(source);
  REQUIRE_OK(net::download(files, settings, chunked));  // already there
  const auto after = second.read();
  CHECK(after.files == 2);
  CHECK(after.sizes_unknown == 0);
  CHECK(after.done == 2 * (k_mib + 5));
  CHECK(after.total == 2 * (k_mib + 5));
}

TEST_CASE("ready-path claim: counted while held, let go and held again at most once each, given back at its end") {
  net::ConnectionBudget budget(8);
  {
    net::ReadyPathClaim pip(&budget);
    net::ReadyPathClaim datasets(&budget);
    CHECK(budget.ready_path_steps() == 2);
    pip.let_go();
    pip.let_go();
    CHECK(budget.ready_path_steps() == 1);  // the other step's part stays
    CHECK(budget.try_acquire(net::Lane::after_ready));
    CHECK(budget.try_acquire(net::Lane::after_ready));
    CHECK_FALSE(budget.try_acquire(net::Lane::after_ready));  // datasets still caps the toolkit
    datasets.let_go();
    CHECK(budget.ready_path_steps() == 0);
    CHECK(budget.try_acquire(net::Lane::after_ready));  // nobody on the path downloads: every slot
    pip.hold();                                         // a fallback that downloads after all
    pip.hold();
    CHECK(budget.ready_path_steps() == 1);
    CHECK_FALSE(budget.try_acquire(net::Lane::after_ready));
  }
  CHECK(budget.ready_path_steps() == 0);
}
