#include "agent/engine/summary.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "agent/util/text_table.hpp"

namespace cs231n::engine {

namespace {

// The result column is as wide as the widest result, so that it stays put from one run to the next.
std::size_t widest_status() {
  std::size_t width = 0;
  for (const auto status : {StepStatus::pending, StepStatus::running, StepStatus::done, StepStatus::failed,
                            StepStatus::skipped, StepStatus::refused, StepStatus::interrupted}) {
    width = std::max(width, to_string(status).size());
  }
  return width;
}

}  // namespace

std::string summary_table(const std::vector<SummaryRow>& rows) {
  using Align = util::TextTable::Align;
  util::TextTable table({{}, {Align::left, widest_status()}, {Align::right}});
  table.add_row({"step", "result", "duration", "detail"});
  for (const auto& row : rows) {
    table.add_row({row.name, row.status, row.duration_s > 0 ? fmt::format("{:.1f} s", row.duration_s) : "", row.note});
  }
  return table.render();
}

std::string summary_table(const RunOutcome& outcome) {
  std::vector<SummaryRow> rows;
  for (const auto& step : outcome.steps) {
    const std::string& note = step.error.empty() ? step.detail : step.error;
    rows.push_back({step.name, std::string(to_string(step.status)), step.duration_s, note});
  }
  return summary_table(rows);
}

}  // namespace cs231n::engine
