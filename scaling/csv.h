// A small CSV table reader for loss grids (results.csv and any table a user brings).
//
// Format (RFC 4180 as spreadsheets write it): the first non-blank line is the header; fields
// are separated by commas; a field may be quoted with double quotes, inside which commas and
// line breaks are literal and "" is one quote; CRLF and LF line ends both work; a UTF-8 byte
// order mark before the header is ignored; blank lines are skipped. Every data row must have as
// many fields as the header. Cells are kept as text; numeric access converts on demand and
// every error names the file, the line, the column and the offending value.
//
// Rows of an unfinished sweep: when the table has a "status" column, rows whose status is not
// "done" are left out by drop_unfinished, which says how many of each status were dropped
// ("3 diverged runs left out").
//
// Filters (--where COL=VALUE): a row matches when its cell equals VALUE as text, or when both
// parse as numbers within a relative 1e-3 of each other (so --where sparsity=0.9091 matches a
// cell 0.909091; compute budgets and sparsities of a sweep differ by far more than 0.1%).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace moe::scaling {

// Writing what Table reads: one header and rows of cells, a cell quoted when the reader would
// otherwise read it differently (a comma, a quote, a line break, or blanks at either end).
std::string csv_cell(std::string_view text);

class CsvWriter {
 public:
  explicit CsvWriter(std::vector<std::string> columns);
  // Throws std::logic_error when the row's size differs from the header's.
  void row(const std::vector<std::string>& cells);
  const std::string& text() const { return text_; }

 private:
  void line(const std::vector<std::string>& cells);
  size_t n_columns_;
  std::string text_;
};

class Table {
 public:
  // Parses CSV text; `source` names it in error messages (usually the path). Throws
  // moe::InputError when there is no header, a header cell is empty or repeated, a row has the
  // wrong number of fields, or a quote is not closed.
  static Table parse(std::string_view text, const std::string& source);
  // Reads and parses a file. Throws moe::InputError for a missing, unreadable or empty file.
  static Table read(const std::string& path);

  const std::string& source() const { return source_; }
  const std::vector<std::string>& columns() const { return columns_; }
  size_t n_rows() const { return rows_.size(); }
  bool has_column(const std::string& name) const;
  // Throws moe::InputError naming the column and listing those that exist.
  size_t column_index(const std::string& name) const;
  const std::string& cell(size_t row, size_t column) const { return rows_[row][column]; }
  const std::string& cell(size_t row, const std::string& column) const;
  // The line of the source file a row came from (1-based; the header is line 1 or later).
  size_t line(size_t row) const { return lines_[row]; }

  // The column as numbers. Throws moe::InputError naming file, line, column and value for an
  // empty, non-numeric, infinite or NaN cell, and, with positive = true, for a value <= 0 (say
  // why through `why_positive`, e.g. "its logarithm is taken").
  std::vector<double> numbers(const std::string& column, bool positive = false,
                              const std::string& why_positive = "its logarithm is taken") const;
  // Distinct cell texts of a column in order of first appearance.
  std::vector<std::string> distinct(const std::string& column) const;

  // The rows whose indices are given, in that order (the same row may repeat).
  Table select(const std::vector<size_t>& rows) const;
  // Rows matching (column, value) as described in the file comment; `negate` keeps the others.
  // Throws moe::InputError when the column does not exist.
  Table where(const std::string& column, const std::string& value, bool negate = false) const;

 private:
  std::string source_;
  std::vector<std::string> columns_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<size_t> lines_;
};

// Text from a table or a flag as an error message shows it: on one line (line breaks and other
// control characters escaped as \n, \r, \xNN; a quoted cell may hold any of them) and at most
// 80 characters, then "...". Every message of this reader that quotes a cell, a column name or
// a flag goes through it.
std::string shown(std::string_view text);

// Parses a number the way the table does (whole cell, surrounding blanks allowed); false when
// the text is not a finite number.
bool parse_number(std::string_view text, double* value);

// The one grouping rule of the fits, the report and the figures: two budgets (or sparsities)
// are the same when they agree to kGroupTolerance relative. (The figures take their groups from
// fit.json, which the report writes with this rule.)
constexpr double kGroupTolerance = 1e-3;
bool same_group(double a, double b);
// The groups among `values` under same_group, ascending, each as its first value seen.
std::vector<double> distinct_groups(const std::vector<double>& values);

// True when `cell` matches `value` under the --where rule above.
bool cell_matches(const std::string& cell, const std::string& value);

// "COL=VALUE" -> {COL, VALUE}. Throws moe::InputError naming `flag` when there is no '=' or
// either side is empty.
std::pair<std::string, std::string> split_assignment(const std::string& text,
                                                     const std::string& flag);

// Applies --where filters in order. Throws moe::InputError when a column does not exist or
// when no row is left, naming the filter and the values the column holds.
Table apply_where(const Table& table, const std::vector<std::string>& filters);

// Leaves out the rows of a table with a "status" column whose status is not "done". Returns
// the kept rows; `note` (when given) receives e.g. "3 diverged runs and 1 failed run left out",
// or stays empty when nothing was left out.
Table drop_unfinished(const Table& table, std::string* note = nullptr);

}  // namespace moe::scaling
