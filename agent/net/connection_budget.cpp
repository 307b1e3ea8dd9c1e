#include "agent/net/connection_budget.hpp"

#include <algorithm>
#include <chrono>

namespace cs231n::net {

ConnectionBudget::ConnectionBudget(unsigned slots) : m_slots(std::max(1u, slots)) {}

bool ConnectionBudget::acquire(const std::atomic<bool>* cancel) {
  std::unique_lock lock(m_mutex);
  // The interrupt flag is an atomic nobody notifies about: look at it every 100 ms.
  while (m_used >= m_slots) {
    if (cancel && cancel->load()) return false;
    m_freed.wait_for(lock, std::chrono::milliseconds(100));
  }
  ++m_used;
  return true;
}

bool ConnectionBudget::try_acquire() {
  const std::scoped_lock lock(m_mutex);
  if (m_used >= m_slots) return false;
  ++m_used;
  return true;
}

void ConnectionBudget::release() {
  {
    const std::scoped_lock lock(m_mutex);
    if (m_used > 0) --m_used;
  }
  m_freed.notify_one();
}

unsigned ConnectionBudget::in_use() const {
  const std::scoped_lock lock(m_mutex);
  return m_used;
}

bool ConnectionSlots::hold_one(const std::atomic<bool>* cancel) {
  if (m_held > 0) return true;
  if (m_budget && !m_budget->acquire(cancel)) return false;
  ++m_held;
  return true;
}

bool ConnectionSlots::take_free() {
  if (m_budget && !m_budget->try_acquire()) return false;
  ++m_held;
  return true;
}

void ConnectionSlots::release_one(unsigned keep) {
  if (m_held <= keep) return;
  --m_held;
  if (m_budget) m_budget->release();
}

void ConnectionSlots::release_all() {
  while (m_held > 0) release_one(0);
}

}  // namespace cs231n::net
