#include <iostream>

#include "agent/cli/commands/commands.hpp"
#include "agent/cli/password_prompt.hpp"
#include "agent/core/error.hpp"
#include "agent/jupyter/password.hpp"

namespace cs231n::cli {

namespace {

struct PasswdOptions {
  // argon2 unless asked: a sha1 hash is one salted SHA-1, cheap to brute-force for anyone who reads
  // the metadata it is put in. sha1 stays for notebook < 6.1 (the seed profile's notebook 5).
  std::string algorithm = "argon2";
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
  command
      .add_option("--algorithm", options->algorithm,
                  "argon2 (notebook >= 6.1, jupyter_server) or sha1 (older notebooks: the seed profile)")
      ->capture_default_str()
      ->check(CLI::IsMember({"sha1", "argon2"}));
  return [options] { return passwd(*options); };
}

}  // namespace cs231n::cli
