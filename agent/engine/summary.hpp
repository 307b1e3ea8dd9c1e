#pragma once

#include <string>
#include <vector>

#include "agent/engine/engine.hpp"

namespace cs231n::engine {

// One step's row of the summary table. The status is text: `status` shows a step that was
// running when its run died as "interrupted".
struct SummaryRow {
  std::string name;
  std::string status;
  double duration_s = 0;  // 0: no duration shown
  std::string note;       // the error, or else the detail
};

// The table printed at the end of a run and by `status`: step, result, duration, detail.
std::string summary_table(const std::vector<SummaryRow>& rows);
std::string summary_table(const RunOutcome& outcome);

}  // namespace cs231n::engine
