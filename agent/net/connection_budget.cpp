#include "agent/net/connection_budget.hpp"

#include <algorithm>
#include <chrono>

namespace cs231n::net {

ConnectionBudget::ConnectionBudget(unsigned slots) : m_slots(std::max(1u, slots)) {}

bool ConnectionBudget::may_take(Lane lane) const {
  if (m_used >= m_slots) return false;
  if (lane == Lane::ready_path || m_ready_path_steps == 0) return true;
  // While the ready path's own downloads hold connections, one is left to the toolkit: each
  // connection gets its own share of the link, so a quarter of them would still take most of it.
  const bool ready_downloading = m_used > m_used_after_ready;
  return m_used_after_ready < (ready_downloading ? 1u : after_ready_slots());
}

bool ConnectionBudget::acquire(const std::atomic<bool>* cancel, Lane lane) {
  std::unique_lock lock(m_mutex);
  // The interrupt flag is an atomic nobody notifies about: look at it every 100 ms.
  while (!may_take(lane)) {
    if (cancel && cancel->load()) return false;
    m_freed.wait_for(lock, std::chrono::milliseconds(100));
  }
  ++m_used;
  if (lane == Lane::after_ready) ++m_used_after_ready;
  return true;
}

bool ConnectionBudget::try_acquire(Lane lane) {
  const std::scoped_lock lock(m_mutex);
  if (!may_take(lane)) return false;
  ++m_used;
  if (lane == Lane::after_ready) ++m_used_after_ready;
  return true;
}

void ConnectionBudget::release(Lane lane) {
  {
    const std::scoped_lock lock(m_mutex);
    if (m_used > 0) --m_used;
    if (lane == Lane::after_ready && m_used_after_ready > 0) --m_used_after_ready;
  }
  // Either lane may be the one waiting for this slot.
  m_freed.notify_all();
}

void ConnectionBudget::begin_ready_path() {
  const std::scoped_lock lock(m_mutex);
  ++m_ready_path_steps;
}

void ConnectionBudget::end_ready_path() {
  {
    const std::scoped_lock lock(m_mutex);
    if (m_ready_path_steps > 0) --m_ready_path_steps;
  }
  m_freed.notify_all();
}

unsigned ConnectionBudget::ready_path_steps() const {
  const std::scoped_lock lock(m_mutex);
  return m_ready_path_steps;
}

unsigned ConnectionBudget::in_use() const {
  const std::scoped_lock lock(m_mutex);
  return m_used;
}

bool ConnectionSlots::hold_one(const std::atomic<bool>* cancel) {
  if (m_held > 0) return true;
  if (m_budget && !m_budget->acquire(cancel, m_lane)) return false;
  ++m_held;
  return true;
}

bool ConnectionSlots::take_free() {
  if (m_budget && !m_budget->try_acquire(m_lane)) return false;
  ++m_held;
  return true;
}

void ConnectionSlots::release_one(unsigned keep) {
  if (m_held <= keep) return;
  --m_held;
  if (m_budget) m_budget->release(m_lane);
}

void ConnectionSlots::release_all() {
  while (m_held > 0) release_one(0);
}

}  // namespace cs231n::net
