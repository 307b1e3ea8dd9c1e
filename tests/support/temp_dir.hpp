#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace cs231n::testing {

// A fresh folder per test, removed afterwards unless CS231N_KEEP_TEST_DIRS is set (to inspect it).
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "cs231n-test-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    m_path = pattern;
  }
  ~TempDir() {
    if (!std::getenv("CS231N_KEEP_TEST_DIRS")) {
      std::error_code ignored;
      std::filesystem::remove_all(m_path, ignored);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return m_path; }

  // Writes `content` to `relative` (folders created as needed) and returns the full path.
  std::filesystem::path write(std::string_view relative, std::string_view content) const {
    const auto full = m_path / std::filesystem::path(relative).relative_path();
    std::filesystem::create_directories(full.parent_path());
    std::ofstream(full, std::ios::binary) << content;
    return full;
  }

  std::string read(std::string_view relative) const {
    std::ifstream stream(m_path / std::filesystem::path(relative).relative_path(), std::ios::binary);
    return {std::istreambuf_iterator<char>(stream), std::istreambuf_iterator<char>()};
  }

 private:
  std::filesystem::path m_path;
};

}  // namespace cs231n::testing
