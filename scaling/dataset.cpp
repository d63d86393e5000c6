#include "scaling/dataset.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "common/errors.h"
#include "scaling/csv.h"

namespace moe::scaling {

RoleNames default_columns(const std::string& law) {
  RoleNames roles = {{"loss", "val_loss"},    {"C", "compute"},       {"x", "ratio_achieved"},
                     {"S", "sparsity"},       {"N", "params_active"}, {"D", "tokens"},
                     {"r", "ratio_achieved"}, {"label", "label"}};
  if (law == "power") roles["x"] = "compute";
  return roles;
}

RoleNames resolve_roles(const std::vector<std::string>& overrides, const std::string& law) {
  RoleNames roles = default_columns(law);
  for (const auto& o : overrides) {
    const auto [role, column] = split_assignment(o, "--column");
    if (!roles.count(role)) {
      std::string known;
      for (const auto& [r, c] : roles) known += (known.empty() ? "" : ", ") + r;
      throw InputError(fmt::format("--column {}: unknown role {}; roles are {}", o, role, known));
    }
    roles[role] = column;
  }
  return roles;
}

const std::string& role_column(const Table& table, const RoleNames& roles,
                               const std::string& role) {
  const std::string& column = roles.at(role);
  if (!table.has_column(column)) {
    std::string columns;
    for (const auto& c : table.columns()) columns += (columns.empty() ? "" : ", ") + shown(c);
    throw InputError(fmt::format(
        "{}: no column {} for role {} (give the column with --column {}=NAME); columns: {}",
        table.source(), shown(column), role, role, columns));
  }
  return column;
}

std::vector<double> role_numbers(const Table& table, const RoleNames& roles,
                                 const std::string& role, bool positive) {
  return table.numbers(role_column(table, roles, role), positive);
}

namespace {

void check_sparsity(const Table& table, const RoleNames& roles, const std::vector<double>& s) {
  const std::string& column = roles.at("S");
  for (size_t i = 0; i < s.size(); ++i) {
    if (!(s[i] >= 0 && s[i] < 1)) {
      throw InputError(fmt::format("{}: line {}, column {}: sparsity {} must lie in [0, 1)",
                                   table.source(), table.line(i), column, s[i]));
    }
  }
}

}  // namespace

std::vector<LossPoint> power_points(const Table& table, const RoleNames& roles) {
  const auto x = role_numbers(table, roles, "x", true);
  const auto loss = role_numbers(table, roles, "loss", true);
  std::vector<LossPoint> out(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    out[i].n = x[i];
    out[i].loss = loss[i];
  }
  return out;
}

std::vector<LossPoint> chinchilla_points(const Table& table, const RoleNames& roles,
                                         bool d_from_compute) {
  const auto n = role_numbers(table, roles, "N", true);
  const auto d = role_numbers(table, roles, d_from_compute ? "C" : "D", true);
  const auto loss = role_numbers(table, roles, "loss", true);
  std::vector<LossPoint> out(n.size());
  for (size_t i = 0; i < n.size(); ++i) {
    out[i].n = n[i];
    out[i].d = d_from_compute ? d[i] / (6.0 * n[i]) : d[i];
    out[i].loss = loss[i];
  }
  return out;
}

std::vector<LossPoint> moe_points(const Table& table, const RoleNames& roles) {
  const auto n = role_numbers(table, roles, "N", true);
  const auto d = role_numbers(table, roles, "D", true);
  const auto s = role_numbers(table, roles, "S", false);
  const auto r = role_numbers(table, roles, "r", true);
  const auto loss = role_numbers(table, roles, "loss", true);
  check_sparsity(table, roles, s);
  std::vector<LossPoint> out(n.size());
  for (size_t i = 0; i < n.size(); ++i) out[i] = {n[i], d[i], s[i], r[i], loss[i]};
  return out;
}

std::vector<IsoflopPoint> isoflop_points(const Table& table, const RoleNames& roles) {
  const auto c = role_numbers(table, roles, "C", true);
  const auto x = role_numbers(table, roles, "x", true);
  const auto loss = role_numbers(table, roles, "loss", false);
  std::vector<IsoflopPoint> out(c.size());
  for (size_t i = 0; i < c.size(); ++i) out[i] = {c[i], x[i], loss[i]};
  return out;
}

std::vector<RatioRun> ratio_runs(const Table& table, const RoleNames& roles) {
  const auto c = role_numbers(table, roles, "C", true);
  const auto s = role_numbers(table, roles, "S", false);
  const auto r = role_numbers(table, roles, "r", true);
  const auto loss = role_numbers(table, roles, "loss", false);
  check_sparsity(table, roles, s);
  std::vector<RatioRun> out(c.size());
  for (size_t i = 0; i < c.size(); ++i) out[i] = {c[i], s[i], r[i], loss[i]};
  return out;
}

namespace {

int64_t integer_cell(const Table& table, size_t row, const std::string& column) {
  double v = 0;
  // Below 2^63, or the conversion to int64 is undefined.
  if (!parse_number(table.cell(row, column), &v) || v != std::floor(v) || v < 0 ||
      v >= 9223372036854775808.0) {
    throw InputError(fmt::format("{}: line {}, column {}: '{}' is not a non-negative integer",
                                 table.source(), table.line(row), column,
                                 shown(table.cell(row, column))));
  }
  return static_cast<int64_t>(v);
}

DeriveTarget target_of(const Table& table, size_t row, double c, double s, const std::string& label,
                       int64_t top_k, int64_t n_shared_experts) {
  DeriveTarget t;
  t.compute = c;
  t.sparsity = s;
  t.label = label;
  t.top_k = table.has_column("top_k") ? integer_cell(table, row, "top_k") : top_k;
  t.n_shared_experts = table.has_column("n_shared_experts")
                           ? integer_cell(table, row, "n_shared_experts")
                           : n_shared_experts;
  return t;
}

}  // namespace

std::vector<DeriveTarget> derive_targets(const Table& table, const RoleNames& roles, int64_t top_k,
                                         int64_t n_shared_experts) {
  const auto c = role_numbers(table, roles, "C", true);
  const auto s = role_numbers(table, roles, "S", false);
  check_sparsity(table, roles, s);
  const std::string& label_column = role_column(table, roles, "label");
  struct Group {
    double c, s;
    size_t first_row;
    std::map<std::string, int> labels;
  };
  std::vector<Group> groups;
  for (size_t i = 0; i < c.size(); ++i) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const Group& g) {
      return same_group(g.c, c[i]) && same_group(g.s, s[i]);
    });
    if (it == groups.end()) {
      groups.push_back({c[i], s[i], i, {}});
      it = groups.end() - 1;
    }
    ++it->labels[table.cell(i, label_column)];
  }
  std::sort(groups.begin(), groups.end(),
            [](const Group& a, const Group& b) { return a.s != b.s ? a.s < b.s : a.c < b.c; });
  std::vector<DeriveTarget> out;
  for (const auto& g : groups) {
    const auto label =
        std::max_element(g.labels.begin(), g.labels.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; });
    out.push_back(target_of(table, g.first_row, g.c, g.s, label->first, top_k, n_shared_experts));
  }
  return out;
}

std::vector<PlannedRun> planned_runs(const Table& table, const RoleNames& roles, int64_t top_k,
                                     int64_t n_shared_experts) {
  std::vector<PlannedRun> out;
  if (!table.has_column("ratio")) return out;
  const auto c = role_numbers(table, roles, "C", true);
  const auto s = role_numbers(table, roles, "S", false);
  const auto n = role_numbers(table, roles, "N", true);
  const auto d = role_numbers(table, roles, "D", true);
  const auto ratio = table.numbers("ratio", true, "it is the requested r");
  const std::string& label_column = role_column(table, roles, "label");
  for (size_t i = 0; i < c.size(); ++i) {
    PlannedRun run;
    run.target =
        target_of(table, i, c[i], s[i], table.cell(i, label_column), top_k, n_shared_experts);
    run.ratio = ratio[i];
    run.n = n[i];
    run.d = d[i];
    out.push_back(run);
  }
  return out;
}

}  // namespace moe::scaling
