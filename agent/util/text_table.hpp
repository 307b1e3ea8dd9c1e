#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace cs231n::util {

// A table of text for a person: each column as wide as its widest cell, two spaces between
// columns, no trailing spaces. Widths count code points.
class TextTable {
 public:
  enum class Align { left, right };

  struct Column {
    Align align = Align::left;
    // At least this wide: a column of a known set of words (step results, plan actions) keeps
    // its place from one table to the next.
    std::size_t min_width = 0;
  };

  // `columns` may be shorter than a row: the rest are left-aligned. Every line starts with `indent`.
  explicit TextTable(std::vector<Column> columns = {}, std::string indent = "");

  // A row may have fewer cells than another: the missing ones are empty.
  void add_row(std::vector<std::string> cells);
  bool empty() const { return m_rows.empty(); }

  // One line per row, each ending in "\n"; "" for no rows.
  std::string render() const;

 private:
  std::vector<Column> m_columns;
  std::string m_indent;
  std::vector<std::vector<std::string>> m_rows;
};

}  // namespace cs231n::util
