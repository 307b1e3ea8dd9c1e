#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>

namespace cs231n::net {

// Whose download a connection serves: a step the student waits for (on the path to `ready`:
// the env, torch, the datasets), or one that may finish after (the CUDA toolkit). Downloads
// outside a run (fetch) are on the first.
enum class Lane { ready_path, after_ready };

// How many HTTP connections the downloads of one run may hold at once (config
// downloads.connections), shared by every step and every file through HttpSettings: a file's
// first connection waits for a free slot, its further segments take only slots that are free.
// While a step on the path to ready runs (begin_ready_path .. end_ready_path), the after-ready
// lane holds at most a quarter of the slots, and one while the ready lane holds any: the toolkit's
// gigabytes would otherwise take the link from what the student waits for, including what conda
// and git fetch by themselves (outside the budget). One connection, not none, so the toolkit
// still moves (scripts/bench/ready.sh: ready 56 s -> 43 s, done 63 s -> 58 s at 2 Gbit/s). A
// step that only installs what it fetched (pip from its wheels, tar from its archives) no longer
// counts (ReadyPathClaim::let_go): the link is the toolkit's while nobody on the path needs it.
class ConnectionBudget {
 public:
  explicit ConnectionBudget(unsigned slots);
  ConnectionBudget(const ConnectionBudget&) = delete;
  ConnectionBudget& operator=(const ConnectionBudget&) = delete;

  unsigned slots() const { return m_slots; }
  // The after-ready lane's share while the ready path runs without downloads of its own (at least one slot).
  unsigned after_ready_slots() const { return std::max(1u, m_slots / 4); }
  // Waits for a slot; false when `cancel` is set first.
  bool acquire(const std::atomic<bool>* cancel, Lane lane = Lane::ready_path);
  // A slot if one is free now.
  bool try_acquire(Lane lane = Lane::ready_path);
  void release(Lane lane = Lane::ready_path);
  // Slots taken now.
  unsigned in_use() const;
  // A step on the path to ready starts / ends (calls nest: one per running step).
  void begin_ready_path();
  void end_ready_path();
  // Steps on the path to ready running now.
  unsigned ready_path_steps() const;

 private:
  bool may_take(Lane lane) const;  // with m_mutex held

  const unsigned m_slots;
  mutable std::mutex m_mutex;
  std::condition_variable m_freed;
  unsigned m_used = 0;
  unsigned m_used_after_ready = 0;
  unsigned m_ready_path_steps = 0;
};

// One running ready-path step's part in the budget's count of them (begin_ready_path), given back
// when the step ends, or while it says it downloads nothing (let_go .. hold). Both are idempotent:
// the step's thread calls them, the engine lets go once the step has ended.
class ReadyPathClaim {
 public:
  explicit ReadyPathClaim(ConnectionBudget* budget) : m_budget(budget) { hold(); }
  ~ReadyPathClaim() { let_go(); }
  ReadyPathClaim(const ReadyPathClaim&) = delete;
  ReadyPathClaim& operator=(const ReadyPathClaim&) = delete;

  void hold() {
    if (!m_held.exchange(true) && m_budget) m_budget->begin_ready_path();
  }
  void let_go() {
    if (m_held.exchange(false) && m_budget) m_budget->end_ready_path();
  }

 private:
  ConnectionBudget* m_budget;
  std::atomic<bool> m_held{false};
};

// The slots one download holds, all given back when it ends. Without a budget every slot is
// free: the count is kept all the same.
class ConnectionSlots {
 public:
  explicit ConnectionSlots(ConnectionBudget* budget, Lane lane = Lane::ready_path) : m_budget(budget), m_lane(lane) {}
  ~ConnectionSlots() { release_all(); }
  ConnectionSlots(const ConnectionSlots&) = delete;
  ConnectionSlots& operator=(const ConnectionSlots&) = delete;

  // Holds at least one slot, waiting for it; false when `cancel` is set first.
  bool hold_one(const std::atomic<bool>* cancel);
  // One more slot, only when one is free.
  bool take_free();
  // Gives back one slot (keeps at least `keep`).
  void release_one(unsigned keep);
  void release_all();
  unsigned held() const { return m_held; }

 private:
  ConnectionBudget* m_budget;
  Lane m_lane;
  unsigned m_held = 0;
};

}  // namespace cs231n::net
