#include "agent/cli/password_prompt.hpp"

#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <iterator>

#include "agent/core/error.hpp"

namespace cs231n::cli {

std::string read_new_password() {
  if (::isatty(STDIN_FILENO) != 1) {
    std::string password((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    if (password.ends_with('\n')) password.pop_back();
    if (password.ends_with('\r')) password.pop_back();
    return password;
  }
  termios saved{};
  ::tcgetattr(STDIN_FILENO, &saved);
  termios silent = saved;
  silent.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  const auto ask = [&](const char* prompt) {
    std::cerr << prompt << std::flush;
    ::tcsetattr(STDIN_FILENO, TCSANOW, &silent);
    std::string line;
    std::getline(std::cin, line);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::cerr << "\n";
    return line;
  };
  const std::string first = ask("Password: ");
  const std::string second = ask("Verify password: ");
  if (first != second) throw Error(ExitCode::usage, "the passwords do not match; nothing was made");
  return first;
}

}  // namespace cs231n::cli
