#pragma once

#include <cstdint>
#include <mutex>
#include <optional>

namespace cs231n::net {

// The bytes of one step's downloads, summed over its files: download() adds to it (from any
// thread) when HttpSettings::meter names it, the engine reads it for `status`.
class TransferMeter {
 public:
  struct Reading {
    std::uint64_t done = 0;   // on disk, resumed and already cached bytes included
    std::uint64_t total = 0;  // the sizes known so far
    unsigned files = 0;
    unsigned sizes_unknown = 0;  // files whose size is not known (yet): `total` is short of theirs
  };
  Reading read() const;

  // One file's part of the sums, corrected as the file learns its size and as bytes arrive.
  class Share {
   public:
    Share() = default;
    Share(TransferMeter* meter, std::optional<std::uint64_t> size);
    Share(Share&& other) noexcept;
    Share& operator=(Share&& other) noexcept;
    Share(const Share&) = delete;
    Share& operator=(const Share&) = delete;
    ~Share() = default;  // what the file added stays: its bytes are on the disk

    void update(std::uint64_t done, std::optional<std::uint64_t> size);

   private:
    TransferMeter* m_meter = nullptr;
    std::uint64_t m_done = 0;
    std::optional<std::uint64_t> m_size;
  };

 private:
  mutable std::mutex m_mutex;
  Reading m_reading;
};

}  // namespace cs231n::net
