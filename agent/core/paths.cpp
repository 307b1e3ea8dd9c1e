#include "agent/core/paths.hpp"

#include <regex>

#include "agent/core/error.hpp"

namespace cs231n {

const Paths& Paths::defaults() {
  static const Paths paths;
  return paths;
}

void check_agent_dir(const std::string& flag, const std::string& dir) {
  static const std::regex safe(R"(/[A-Za-z0-9_./-]*)");
  if (!std::regex_match(dir, safe) || dir.find("..") != std::string::npos) {
    throw Error(ExitCode::usage, flag + " " + dir + " must be an absolute path of letters, digits, _ . / and -");
  }
}

}  // namespace cs231n
