#include "agent/net/transfer_meter.hpp"

#include <utility>

namespace cs231n::net {

TransferMeter::Reading TransferMeter::read() const {
  const std::scoped_lock lock(m_mutex);
  return m_reading;
}

TransferMeter::Share::Share(TransferMeter* meter, std::optional<std::uint64_t> size) : m_meter(meter), m_size(size) {
  if (!m_meter) return;
  const std::scoped_lock lock(m_meter->m_mutex);
  auto& reading = m_meter->m_reading;
  ++reading.files;
  if (size) {
    reading.total += *size;
  } else {
    ++reading.sizes_unknown;
  }
}

TransferMeter::Share::Share(Share&& other) noexcept
    : m_meter(std::exchange(other.m_meter, nullptr)), m_done(other.m_done), m_size(other.m_size) {}

TransferMeter::Share& TransferMeter::Share::operator=(Share&& other) noexcept {
  m_meter = std::exchange(other.m_meter, nullptr);
  m_done = other.m_done;
  m_size = other.m_size;
  return *this;
}

void TransferMeter::Share::update(std::uint64_t done, std::optional<std::uint64_t> size) {
  if (!m_meter) return;
  const std::scoped_lock lock(m_meter->m_mutex);
  auto& reading = m_meter->m_reading;
  reading.done = reading.done - m_done + done;
  m_done = done;
  if (size && size != m_size) {
    if (m_size) {
      reading.total = reading.total - *m_size + *size;
    } else {
      reading.total += *size;
      --reading.sizes_unknown;
    }
    m_size = size;
  }
}

}  // namespace cs231n::net
