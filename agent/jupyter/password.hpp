#pragma once

#include <string>
#include <string_view>

namespace cs231n::jupyter {

// IPython's / notebook's form: "sha1:<salt>:<hex of sha1(passphrase utf-8 + salt ascii)>", the
// salt 12 lowercase hex digits (48 random bits). Works with notebook 5 through jupyter_server 2.
std::string sha1_hash(std::string_view passphrase, std::string_view salt);
std::string make_sha1_hash(std::string_view passphrase);

// jupyter_server's default: "argon2:$argon2id$v=19$m=10240,t=10,p=8$<salt>$<hash>", 16-byte salt
// and hash (libargon2). Needs notebook >= 6.1 or any jupyter_server.
std::string make_argon2_hash(std::string_view passphrase);

// Whether `hash` (either form) matches `passphrase`, as Jupyter's passwd_check decides.
bool check_hash(std::string_view hash, std::string_view passphrase);

// A random password for a student to type: 20 characters from an unambiguous alphabet.
std::string random_password();

}  // namespace cs231n::jupyter
