#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "common/errors.h"
#include "scaling/csv.h"
#include "scaling/dataset.h"

using moe::InputError;
using moe::scaling::Table;

TEST_CASE("quoted fields keep commas, quotes and line breaks; CRLF and a BOM are handled",
          "[csv]") {
  const std::string text =
      "\xEF\xBB\xBFname,note,value\r\n"
      "a,\"x, y\",1.5\r\n"
      "\"b\",\"say \"\"hi\"\"\",2\r\n"
      "\r\n"
      "c,\"two\nlines\",3e2";  // no final newline
  const Table t = Table::parse(text, "mem.csv");
  REQUIRE(t.columns() == std::vector<std::string>{"name", "note", "value"});
  REQUIRE(t.n_rows() == 3);
  CHECK(t.cell(0, "note") == "x, y");
  CHECK(t.cell(1, "name") == "b");
  CHECK(t.cell(1, "note") == "say \"hi\"");
  CHECK(t.cell(2, "note") == "two\nlines");
  CHECK(t.line(2) == 5);  // the blank line 4 is skipped
  CHECK(t.numbers("value") == std::vector<double>({1.5, 2, 300}));
}

TEST_CASE("numeric access names file, line, column and value", "[csv]") {
  const Table t = Table::parse("N,L\n10,2.5\n20,abc\n30,nan\n0,1\n,2\n", "grid.csv");
  CHECK_THROWS_WITH(t.numbers("L"),
                    "grid.csv: line 3, column L: 'abc' is not a finite number; "
                    "correct the cell or delete the row");
  const Table nan_rows = t.select({2});
  CHECK_THROWS_WITH(nan_rows.numbers("L"),
                    "grid.csv: line 4, column L: 'nan' is not a finite number; correct the cell or "
                    "delete the row");
  const Table zero = t.select({3});
  CHECK_THROWS_WITH(zero.numbers("N", true),
                    "grid.csv: line 5, column N: value 0 must be > 0 (its logarithm is taken)");
  CHECK(zero.numbers("N", false) == std::vector<double>{0});
  CHECK_THROWS_WITH(t.select({4}).numbers("N"),
                    "grid.csv: line 6, column N: is empty; correct the cell or delete the row");
  CHECK_THROWS_WITH(t.numbers("D"), Catch::Contains("grid.csv: no column D (columns: N, L)"));
}

TEST_CASE("malformed tables are rejected with the line at fault", "[csv]") {
  CHECK_THROWS_AS(Table::parse("", "e.csv"), InputError);
  CHECK_THROWS_WITH(Table::parse("\n\n", "e.csv"), Catch::Contains("the file is empty"));
  CHECK_THROWS_WITH(Table::parse("a,b\n1,2\n3\n", "r.csv"),
                    "r.csv: line 3 has 1 fields but the header has 2 columns");
  CHECK_THROWS_WITH(Table::parse("a,b\n1,\"2\n", "q.csv"),
                    "q.csv: line 2: a quoted field is not closed");
  CHECK_THROWS_WITH(Table::parse("a,a\n1,2\n", "d.csv"),
                    "d.csv: column a appears twice in the header");
  CHECK_THROWS_WITH(Table::parse("a,,c\n1,2,3\n", "h.csv"), "h.csv: header column 2 has no name");
  const Table header_only = Table::parse("a,b\n", "h.csv");
  CHECK(header_only.n_rows() == 0);
}

TEST_CASE("files: missing, empty and directories are input errors naming the path", "[csv]") {
  const auto dir = std::filesystem::temp_directory_path() / "moescale_test_csv";
  std::filesystem::create_directories(dir);
  CHECK_THROWS_WITH(Table::read((dir / "absent.csv").string()), Catch::Contains("cannot open"));
  const auto empty = dir / "empty.csv";
  std::ofstream(empty).close();
  CHECK_THROWS_WITH(Table::read(empty.string()), Catch::Contains("the file is empty"));
  CHECK_THROWS_WITH(Table::read(dir.string()), Catch::Contains("is a directory"));
  const auto good = dir / "good.csv";
  std::ofstream(good) << "x,y\n1,2\n";
  CHECK(Table::read(good.string()).numbers("y") == std::vector<double>{2});
}

TEST_CASE("where filters match text exactly and numbers within 0.1%", "[csv]") {
  const Table t = Table::parse(
      "label,sparsity,compute\n1M,0.909091,1e15\n2M,0.823529,1e15\n1M,0.909091,3e15\n", "w.csv");
  CHECK(moe::scaling::apply_where(t, {"sparsity=0.9091"}).n_rows() == 2);
  CHECK(moe::scaling::apply_where(t, {"sparsity=0.9091", "compute=3e15"}).n_rows() == 1);
  CHECK(moe::scaling::apply_where(t, {"label=2M"}).n_rows() == 1);
  CHECK(t.where("label", "1M", true).n_rows() == 1);
  CHECK_THROWS_WITH(moe::scaling::apply_where(t, {"sparsity=0.5"}),
                    Catch::Contains("--where sparsity=0.5: no row of w.csv matches") &&
                        Catch::Contains("0.909091, 0.823529"));
  CHECK_THROWS_WITH(moe::scaling::apply_where(t, {"nope=1"}),
                    Catch::Contains("--where nope=1: w.csv has no column nope"));
  CHECK_THROWS_WITH(moe::scaling::apply_where(t, {"label"}), "--where label: expected NAME=VALUE");
}

TEST_CASE("unfinished runs are left out and counted by status", "[csv]") {
  const Table t = Table::parse(
      "run_id,status,val_loss\na,done,3\nb,diverged,\nc,done,2.9\nd,diverged,\ne,failed,\n"
      "f,running,\n",
      "s.csv");
  std::string note;
  const Table kept = moe::scaling::drop_unfinished(t, &note);
  CHECK(kept.n_rows() == 2);
  CHECK(kept.numbers("val_loss") == std::vector<double>({3, 2.9}));
  CHECK(note == "2 diverged runs, 1 failed run and 1 running run left out");
  const Table no_status = Table::parse("a\n1\n", "n.csv");
  CHECK(moe::scaling::drop_unfinished(no_status, &note).n_rows() == 1);
  CHECK(note.empty());
}

TEST_CASE("roles map to columns; overrides and unknown roles", "[csv]") {
  const auto roles = moe::scaling::resolve_roles({"loss=final_train_loss"});
  CHECK(roles.at("loss") == "final_train_loss");
  CHECK(roles.at("N") == "params_active");
  CHECK(moe::scaling::resolve_roles({}, "power").at("x") == "compute");
  CHECK_THROWS_WITH(moe::scaling::resolve_roles({"Q=foo"}),
                    Catch::Contains("--column Q=foo: unknown role Q"));
  const Table t = Table::parse("params_active,val_loss\n1e6,3\n", "r.csv");
  CHECK_THROWS_WITH(
      moe::scaling::role_numbers(t, roles, "D", true),
      Catch::Contains("r.csv: no column tokens for role D (give the column with --column D=NAME)"));
}

TEST_CASE("messages quote cells on one line whatever the cells hold", "[csv]") {
  const Table t = Table::parse("name,\"lo\nss\"\na,\"3\n4\"\n", "q.csv");
  CHECK_THROWS_WITH(
      t.numbers("lo\nss"),
      "q.csv: line 3, column lo\\nss: '3\\n4' is not a finite number; correct the cell "
      "or delete the row");
  CHECK_THROWS_WITH(t.numbers("val_loss"), "q.csv: no column val_loss (columns: name, lo\\nss)");
  CHECK(moe::scaling::shown(std::string(100, 'x')) == std::string(80, 'x') + "...");
  CHECK(moe::scaling::shown("a\tb\rc\x01") == "a\\x09b\\rc\\x01");
}

TEST_CASE("one grouping rule: values within 1e-3 relative are one budget or sparsity", "[csv]") {
  using moe::scaling::same_group;
  CHECK(same_group(1e12, 1.0009e12));
  CHECK_FALSE(same_group(1e12, 1.0011e12));
  CHECK(same_group(0.9091, 0.90915));  // a sparsity written with another rounding
  CHECK_FALSE(same_group(0.8235, 0.9091));
  CHECK(same_group(0.0, 0.0));
  // --where uses the same rule on its cells.
  CHECK(moe::scaling::cell_matches("0.90915", "0.9091"));
  CHECK_FALSE(moe::scaling::cell_matches("0.8235", "0.9091"));
}
