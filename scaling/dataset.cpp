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
                     {"r", "ratio_achieved"}, {"label", "label"},     {"proxy", "proxy_loss"},
                     {"best", "best_loss"}};
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

void check_sparsity(const Table& table, const RoleNames& roles, const std::vector<double>& s) {
  const std::string& column = roles.at("S");
  for (size_t i = 0; i < s.size(); ++i) {
    if (!(s[i] >= 0 && s[i] < 1)) {
      throw InputError(fmt::format("{}: line {}, column {}: sparsity {} must lie in [0, 1)",
                                   table.source(), table.line(i), column, s[i]));
    }
  }
}

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

}  // namespace moe::scaling
