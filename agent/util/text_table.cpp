#include "agent/util/text_table.hpp"

#include <algorithm>

namespace cs231n::util {

namespace {

constexpr std::string_view k_gap = "  ";

std::size_t code_points(std::string_view text) {
  const auto starts_code_point = [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; };
  return static_cast<std::size_t>(std::ranges::count_if(text, starts_code_point));
}

}  // namespace

TextTable::TextTable(std::vector<Column> columns, std::string indent)
    : m_columns(std::move(columns)), m_indent(std::move(indent)) {}

void TextTable::add_row(std::vector<std::string> cells) { m_rows.push_back(std::move(cells)); }

std::string TextTable::render() const {
  std::size_t column_count = 0;
  for (const auto& row : m_rows) column_count = std::max(column_count, row.size());
  std::vector<std::size_t> widths(column_count, 0);
  std::vector<Column> columns = m_columns;
  columns.resize(std::max(columns.size(), column_count));
  for (std::size_t column = 0; column < column_count; ++column) widths[column] = columns[column].min_width;
  for (const auto& row : m_rows) {
    for (std::size_t column = 0; column < row.size(); ++column) {
      widths[column] = std::max(widths[column], code_points(row[column]));
    }
  }

  std::string text;
  for (const auto& row : m_rows) {
    std::string line = m_indent;
    for (std::size_t column = 0; column < column_count; ++column) {
      const std::string_view cell = column < row.size() ? std::string_view(row[column]) : std::string_view();
      const std::string padding(widths[column] - code_points(cell), ' ');
      if (column > 0) line += k_gap;
      line += columns[column].align == Align::right ? padding + std::string(cell) : std::string(cell) + padding;
    }
    while (line.ends_with(' ')) line.pop_back();
    text += line + "\n";
  }
  return text;
}

}  // namespace cs231n::util
