// From a CSV table to the points each fit takes: column roles, their defaults for our
// results.csv, and checked numeric extraction.
//
// Roles and the results.csv column each reads by default (--column ROLE=NAME overrides):
//   loss   val_loss         observed loss
//   C      compute          training FLOPs of the run
//   x      ratio_achieved   the swept variable of isoflop (for power: compute)
//   S      sparsity
//   N      params_active    active non-embedding parameters
//   D      tokens           training tokens
//   r      ratio_achieved   C_E / C_A as built
//   label  label            the planner's size label (--derive-ratio)
#pragma once

#include <string>
#include <vector>

#include "scaling/csv.h"
#include "scaling/fit.h"
#include "scaling/isoflop.h"
#include "scaling/laws.h"
#include "scaling/ratio_law.h"

namespace moe::scaling {

// Role -> default column (above); `law` "power" reads x from compute.
RoleNames default_columns(const std::string& law = "");

// Applies ROLE=NAME overrides to the defaults. Throws moe::InputError for an unknown role or a
// malformed override.
RoleNames resolve_roles(const std::vector<std::string>& overrides, const std::string& law = "");

// The column of a role; throws moe::InputError naming the role, the column, the flag that
// changes it and the columns the table has, when the table lacks it.
const std::string& role_column(const Table& table, const RoleNames& roles, const std::string& role);

// The role's column as numbers (see Table::numbers; positive = a logarithm is taken).
std::vector<double> role_numbers(const Table& table, const RoleNames& roles,
                                 const std::string& role, bool positive);

// Throws moe::InputError naming the row when a sparsity is outside [0, 1).
void check_sparsity(const Table& table, const RoleNames& roles, const std::vector<double>& s);

// power: x (in LossPoint::n) and loss.
std::vector<LossPoint> power_points(const Table& table, const RoleNames& roles);
// chinchilla: N, D, loss; with d_from_compute, D = C / (6 N) from role C.
std::vector<LossPoint> chinchilla_points(const Table& table, const RoleNames& roles,
                                         bool d_from_compute);
// moe, wang, abnar: N, D, S, r, loss.
std::vector<LossPoint> moe_points(const Table& table, const RoleNames& roles);
// isoflop: C, x, loss.
std::vector<IsoflopPoint> isoflop_points(const Table& table, const RoleNames& roles);
// ratio: C, S, r, loss.
std::vector<RatioRun> ratio_runs(const Table& table, const RoleNames& roles);

}  // namespace moe::scaling
