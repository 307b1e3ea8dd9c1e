#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>

namespace cs231n::net {

// How many HTTP connections the downloads of one run may hold at once (config
// downloads.connections), shared by every step and every file through HttpSettings: a file's
// first connection waits for a free slot, its further segments take only slots that are free.
class ConnectionBudget {
 public:
  explicit ConnectionBudget(unsigned slots);
  ConnectionBudget(const ConnectionBudget&) = delete;
  ConnectionBudget& operator=(const ConnectionBudget&) = delete;

  unsigned slots() const { return m_slots; }
  // Waits for a slot; false when `cancel` is set first.
  bool acquire(const std::atomic<bool>* cancel);
  // A slot if one is free now.
  bool try_acquire();
  void release();
  // Slots taken now.
  unsigned in_use() const;

 private:
  const unsigned m_slots;
  mutable std::mutex m_mutex;
  std::condition_variable m_freed;
  unsigned m_used = 0;
};

// The slots one download holds, all given back when it ends. Without a budget every slot is
// free: the count is kept all the same.
class ConnectionSlots {
 public:
  explicit ConnectionSlots(ConnectionBudget* budget) : m_budget(budget) {}
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
  unsigned m_held = 0;
};

}  // namespace cs231n::net
