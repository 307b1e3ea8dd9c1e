#pragma once

// An /etc/passwd and /etc/group with a regular user (ann), system and nologin accounts and a broken
// line: what the accounts parser and the target-user choice are tested on.
namespace cs231n::testing {

inline constexpr const char* k_passwd =
    "root:x:0:0:root:/root:/bin/bash\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    "ann:x:1000:1000:Ann,,,:/home/ann:/bin/bash\n"
    "svc:x:1001:1001::/srv/svc:/usr/sbin/nologin\n"
    "broken line\n";

inline constexpr const char* k_group = "root:x:0:\nann:x:1000:\nvideo:x:44:ann,bob\nsudo:x:27:bob\n";

}  // namespace cs231n::testing
