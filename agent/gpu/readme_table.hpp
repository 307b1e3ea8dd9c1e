#pragma once

#include <string>

namespace cs231n::gpu {

// The README's GPU table: what choose() picks for every GPU of the table on the reference
// machines (the tutorial's, and today's on Ubuntu 24.04 and Debian 13), from the table alone (a
// run on GCE reads PyTorch's index and may pick newer torch releases). `cs231n-agent gpus`
// prints it; tests/e2e/test_cli.sh checks the README against it.
std::string gpu_table_markdown();

}  // namespace cs231n::gpu
