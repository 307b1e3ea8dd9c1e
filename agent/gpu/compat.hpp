#pragma once

// GPU, driver, CUDA and PyTorch compatibility: the table (compat_table.hpp) and the choice made
// from it (choose.hpp). Pure: no I/O.
#include "agent/gpu/choose.hpp"
#include "agent/gpu/compat_table.hpp"
