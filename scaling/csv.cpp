#include "scaling/csv.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "common/errors.h"
#include "common/io.h"

namespace moe::scaling {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Lists at most `limit` values, for error messages that say what a column does hold.
std::string list_some(const std::vector<std::string>& values, size_t limit = 8) {
  std::string s;
  for (size_t i = 0; i < values.size() && i < limit; ++i) s += (i ? ", " : "") + shown(values[i]);
  if (values.size() > limit) s += fmt::format(", ... ({} in all)", values.size());
  return s;
}

}  // namespace

std::string shown(std::string_view text) {
  std::string out;
  for (const char ch : text) {
    if (out.size() >= 80) return out + "...";
    const auto byte = static_cast<unsigned char>(ch);
    if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\r') {
      out += "\\r";
    } else if (byte < 0x20 || byte == 0x7f) {
      out += fmt::format("\\x{:02x}", byte);
    } else {
      out += ch;
    }
  }
  return out;
}

bool parse_number(std::string_view text, double* value) {
  const std::string s(trim(text));
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v)) return false;
  *value = v;
  return true;
}

std::string csv_cell(std::string_view text) {
  const bool blank_edge =
      !text.empty() && (std::isspace(static_cast<unsigned char>(text.front())) ||
                        std::isspace(static_cast<unsigned char>(text.back())));
  if (!blank_edge && text.find_first_of(",\"\r\n") == std::string_view::npos) {
    return std::string(text);
  }
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

CsvWriter::CsvWriter(std::vector<std::string> columns) : n_columns_(columns.size()) {
  line(columns);
}

void CsvWriter::row(const std::vector<std::string>& cells) {
  if (cells.size() != n_columns_) {
    throw std::logic_error("CsvWriter: a row of " + std::to_string(cells.size()) +
                           " cells under a header of " + std::to_string(n_columns_));
  }
  line(cells);
}

void CsvWriter::line(const std::vector<std::string>& cells) {
  for (size_t i = 0; i < cells.size(); ++i) text_ += (i ? "," : "") + csv_cell(cells[i]);
  text_ += "\n";
}

bool same_group(double a, double b) {
  return std::fabs(a - b) <= kGroupTolerance * std::max(std::fabs(a), std::fabs(b));
}

std::vector<double> distinct_groups(const std::vector<double>& values) {
  std::vector<double> groups;
  for (double v : values) {
    if (std::none_of(groups.begin(), groups.end(), [&](double g) { return same_group(g, v); })) {
      groups.push_back(v);
    }
  }
  std::sort(groups.begin(), groups.end());
  return groups;
}

bool cell_matches(const std::string& cell, const std::string& value) {
  if (trim(cell) == trim(value)) return true;
  double a = 0, b = 0;
  if (!parse_number(cell, &a) || !parse_number(value, &b)) return false;
  return same_group(a, b);
}

Table Table::parse(std::string_view text, const std::string& source) {
  Table t;
  t.source_ = source;
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);

  // One pass of a small state machine: fields end at commas, records at unquoted line ends.
  std::vector<std::string> record;
  std::string field;
  bool in_quotes = false;
  bool field_was_quoted = false;
  size_t line = 1;
  size_t record_line = 1;
  std::vector<std::pair<std::vector<std::string>, size_t>> records;
  auto end_field = [&] {
    record.push_back(field_was_quoted ? field : std::string(trim(field)));
    field.clear();
    field_was_quoted = false;
  };
  auto end_record = [&] {
    end_field();
    const bool blank = record.size() == 1 && record[0].empty();
    if (!blank) records.emplace_back(std::move(record), record_line);
    record.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (in_quotes) {
      if (ch == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (ch == '\n') ++line;
        field += ch;
      }
      continue;
    }
    if (ch == '"' && trim(field).empty()) {
      field.clear();
      in_quotes = true;
      field_was_quoted = true;
    } else if (ch == ',') {
      end_field();
    } else if (ch == '\n' || ch == '\r') {
      if (ch == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      end_record();
      ++line;
      record_line = line;
    } else {
      field += ch;
    }
  }
  if (in_quotes) {
    throw InputError(fmt::format("{}: line {}: a quoted field is not closed", source, record_line));
  }
  if (!field.empty() || field_was_quoted || !record.empty()) end_record();

  if (records.empty()) throw InputError(source + ": the file is empty; expected a CSV header row");
  t.columns_ = std::move(records[0].first);
  std::set<std::string> seen;
  for (size_t c = 0; c < t.columns_.size(); ++c) {
    if (t.columns_[c].empty()) {
      throw InputError(fmt::format("{}: header column {} has no name", source, c + 1));
    }
    if (!seen.insert(t.columns_[c]).second) {
      throw InputError(
          fmt::format("{}: column {} appears twice in the header", source, shown(t.columns_[c])));
    }
  }
  for (size_t r = 1; r < records.size(); ++r) {
    auto& [fields, at] = records[r];
    if (fields.size() != t.columns_.size()) {
      throw InputError(fmt::format("{}: line {} has {} fields but the header has {} columns",
                                   source, at, fields.size(), t.columns_.size()));
    }
    t.rows_.push_back(std::move(fields));
    t.lines_.push_back(at);
  }
  return t;
}

Table Table::read(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw InputError(path + ": is a directory; give the CSV file inside it, e.g. results.csv");
  }
  const std::string text = read_file(path);
  if (trim(text).find_first_not_of("\r\n") == std::string_view::npos) {
    throw InputError(path + ": the file is empty; expected a CSV header row and data rows");
  }
  return parse(text, path);
}

bool Table::has_column(const std::string& name) const {
  return std::find(columns_.begin(), columns_.end(), name) != columns_.end();
}

size_t Table::column_index(const std::string& name) const {
  const auto it = std::find(columns_.begin(), columns_.end(), name);
  if (it == columns_.end()) {
    throw InputError(fmt::format("{}: no column {} (columns: {})", source_, shown(name),
                                 list_some(columns_, 30)));
  }
  return static_cast<size_t>(it - columns_.begin());
}

const std::string& Table::cell(size_t row, const std::string& column) const {
  return rows_[row][column_index(column)];
}

std::vector<double> Table::numbers(const std::string& column, bool positive,
                                   const std::string& why_positive) const {
  const size_t c = column_index(column);
  std::vector<double> out(rows_.size());
  for (size_t r = 0; r < rows_.size(); ++r) {
    const std::string& text = rows_[r][c];
    double v = 0;
    if (!parse_number(text, &v)) {
      const std::string what =
          trim(text).empty() ? "is empty" : "'" + shown(text) + "' is not a finite number";
      throw InputError(fmt::format("{}: line {}, column {}: {}; correct the cell or delete the row",
                                   source_, lines_[r], shown(column), what));
    }
    if (positive && !(v > 0)) {
      throw InputError(fmt::format("{}: line {}, column {}: value {} must be > 0 ({})", source_,
                                   lines_[r], shown(column), shown(text), why_positive));
    }
    out[r] = v;
  }
  return out;
}

std::vector<std::string> Table::distinct(const std::string& column) const {
  const size_t c = column_index(column);
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& row : rows_) {
    if (seen.insert(row[c]).second) out.push_back(row[c]);
  }
  return out;
}

Table Table::select(const std::vector<size_t>& rows) const {
  Table t;
  t.source_ = source_;
  t.columns_ = columns_;
  t.rows_.reserve(rows.size());
  for (size_t r : rows) {
    t.rows_.push_back(rows_.at(r));
    t.lines_.push_back(lines_.at(r));
  }
  return t;
}

Table Table::where(const std::string& column, const std::string& value, bool negate) const {
  const size_t c = column_index(column);
  std::vector<size_t> keep;
  for (size_t r = 0; r < rows_.size(); ++r) {
    if (cell_matches(rows_[r][c], value) != negate) keep.push_back(r);
  }
  return select(keep);
}

std::pair<std::string, std::string> split_assignment(const std::string& text,
                                                     const std::string& flag) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size()) {
    throw InputError(fmt::format("{} {}: expected NAME=VALUE", flag, shown(text)));
  }
  return {std::string(trim(text.substr(0, eq))), std::string(trim(text.substr(eq + 1)))};
}

Table apply_where(const Table& table, const std::vector<std::string>& filters) {
  Table t = table;
  for (const auto& f : filters) {
    const auto [column, value] = split_assignment(f, "--where");
    if (!t.has_column(column)) {
      throw InputError(fmt::format("--where {}: {} has no column {} (columns: {})", shown(f),
                                   table.source(), shown(column), list_some(table.columns(), 30)));
    }
    const Table kept = t.where(column, value);
    if (kept.n_rows() == 0) {
      throw InputError(fmt::format("--where {}: no row of {} matches; column {} holds {}", shown(f),
                                   table.source(), shown(column), list_some(t.distinct(column))));
    }
    t = kept;
  }
  return t;
}

Table drop_unfinished(const Table& table, std::string* note) {
  if (note) note->clear();
  if (!table.has_column("status")) return table;
  const size_t c = table.column_index("status");
  std::vector<size_t> keep;
  std::map<std::string, size_t> dropped;
  for (size_t r = 0; r < table.n_rows(); ++r) {
    const std::string& status = table.cell(r, c);
    if (status == "done") {
      keep.push_back(r);
    } else {
      ++dropped[status.empty() ? "unfinished" : status];
    }
  }
  if (note && !dropped.empty()) {
    std::string s;
    size_t i = 0;
    for (const auto& [status, n] : dropped) {
      s += (i == 0 ? "" : i + 1 == dropped.size() ? " and " : ", ");
      s += fmt::format("{} {} run{}", n, shown(status), n == 1 ? "" : "s");
      ++i;
    }
    *note = s + " left out";
  }
  return table.select(keep);
}

}  // namespace moe::scaling
