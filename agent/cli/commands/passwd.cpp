#include <iostream>

#include "agent/cli/commands/commands.hpp"
#include "agent/cli/password_prompt.hpp"
#include "agent/core/error.hpp"
#include "agent/jupyter/password.hpp"

namespace cs231n::cli {

namespace {

struct PasswdOptions {
  std::string algorithm = "sha1";
};

int passwd(const PasswdOptions& options) {
  const std::string password = read_new_password();
  if (password.empty()) throw Error(ExitCode::usage, "an empty password is refused: anyone could open the notebook");
  std::cout << (options.algorithm == "argon2" ? jupyter::make_argon2_hash(password) : jupyter::make_sha1_hash(password))
            << "\n";
  return 0;
}

}  // namespace

CommandRunner add_passwd_command(CLI::App& command, const LogOptions&) {
  auto options = std::make_shared<PasswdOptions>();
  command.add_option("--algorithm", options->algorithm, "sha1 (every notebook version) or argon2 (notebook >= 6.1)")
      ->capture_default_str()
      ->check(CLI::IsMember({"sha1", "argon2"}));
  return [options] { return passwd(*options); };
}

}  // namespace cs231n::cli
