#include <doctest/doctest.h>

#include "agent/util/text_table.hpp"

using cs231n::util::TextTable;
using Align = TextTable::Align;

TEST_CASE("text table: each column is as wide as its widest cell, two spaces apart") {
  TextTable table;
  table.add_row({"OS", "Ubuntu 16.04"});
  table.add_row({"Secure Boot", "off"});
  CHECK(table.render() ==
        "OS           Ubuntu 16.04\n"
        "Secure Boot  off\n");
}

TEST_CASE("text table: no trailing spaces, and a missing cell is empty") {
  TextTable table;
  table.add_row({"a", "b", ""});
  table.add_row({"ccc"});
  table.add_row({"d", "eeee", "f"});
  CHECK(table.render() ==
        "a    b\n"
        "ccc\n"
        "d    eeee  f\n");
}

TEST_CASE("text table: right-aligned columns pad on the left") {
  TextTable table({{}, {Align::right}});
  table.add_row({"step", "duration", "detail"});
  table.add_row({"conda", "12.3 s", "ok"});
  table.add_row({"git", "", "cloned"});
  CHECK(table.render() ==
        "step   duration  detail\n"
        "conda    12.3 s  ok\n"
        "git              cloned\n");
}

TEST_CASE("text table: a minimum width holds when every cell is narrower") {
  TextTable table({{}, {Align::left, 6}});
  table.add_row({"x", "run", "why"});
  CHECK(table.render() == "x  run     why\n");
  table.add_row({"y", "refused!", "why"});
  CHECK(table.render() ==
        "x  run       why\n"
        "y  refused!  why\n");
}

TEST_CASE("text table: the indent starts every line") {
  TextTable table({}, "  ");
  table.add_row({"a", "b"});
  table.add_row({"long", "c"});
  CHECK(table.render() ==
        "  a     b\n"
        "  long  c\n");
}

TEST_CASE("text table: widths count code points, not bytes") {
  TextTable table;
  table.add_row({"café", "x"});
  table.add_row({"tea", "y"});
  CHECK(table.render() ==
        "café  x\n"
        "tea   y\n");
}

TEST_CASE("text table: no rows: no text") {
  TextTable table({{Align::right, 10}}, "  ");
  CHECK(table.empty());
  CHECK(table.render().empty());
}
