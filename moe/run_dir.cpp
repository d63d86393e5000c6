#include "moe/run_dir.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/io.h"

namespace moe {

namespace {

const std::pair<RunStatus, const char*> kStatusNames[] = {{RunStatus::kPending, "pending"},
                                                          {RunStatus::kDone, "done"},
                                                          {RunStatus::kDiverged, "diverged"},
                                                          {RunStatus::kFailed, "failed"},
                                                          {RunStatus::kInterrupted, "interrupted"}};

// JSON has no NaN: a loss that is not finite is written as null.
nlohmann::json loss_json(double v) { return std::isfinite(v) ? nlohmann::json(v) : nullptr; }
double loss_of(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end()) return 0;
  return it->is_null() ? std::numeric_limits<double>::quiet_NaN() : it->get<double>();
}

}  // namespace

std::string to_string(RunStatus s) {
  for (const auto& [status, name] : kStatusNames) {
    if (status == s) return name;
  }
  return "pending";
}

RunStatus parse_run_status(const std::string& s) {
  for (const auto& [status, name] : kStatusNames) {
    if (s == name) return status;
  }
  throw std::invalid_argument("run status '" + s +
                              "' is unknown: expected pending, done, diverged, failed or "
                              "interrupted");
}

void to_json(nlohmann::json& j, const RunResult& r) {
  j = {{"status", to_string(r.status)},
       {"reason", r.reason},
       {"val_loss", loss_json(r.val_loss)},
       {"final_train_loss", loss_json(r.final_train_loss)},
       {"steps", r.steps},
       {"steps_planned", r.steps_planned},
       {"tokens", r.tokens},
       {"flops", r.flops},
       {"wall_seconds", r.wall_seconds},
       {"peak_flops_per_second", r.peak_flops_per_second},
       {"peak_source", r.peak_source},
       {"run_id", r.run_id}};
  if (r.diverged_step >= 0) j["diverged_step"] = r.diverged_step;
}

void from_json(const nlohmann::json& j, RunResult& r) {
  r = RunResult{};
  r.status = parse_run_status(j.value("status", std::string("pending")));
  r.reason = j.value("reason", std::string());
  r.val_loss = loss_of(j, "val_loss");
  r.final_train_loss = loss_of(j, "final_train_loss");
  r.steps = j.value("steps", int64_t{0});
  r.steps_planned = j.value("steps_planned", int64_t{0});
  r.tokens = j.value("tokens", int64_t{0});
  r.flops = j.value("flops", 0.0);
  r.wall_seconds = j.value("wall_seconds", 0.0);
  r.peak_flops_per_second = j.value("peak_flops_per_second", 0.0);
  r.peak_source = j.value("peak_source", std::string());
  r.run_id = j.value("run_id", std::string());
  r.diverged_step = j.value("diverged_step", int64_t{-1});
}

RunResult RunDir::read_result() const {
  if (!std::filesystem::exists(result())) return {};
  try {
    return read_json(result().string()).get<RunResult>();
  } catch (const std::exception&) {
    return {};  // cut short by a kill, or from another version: unfinished
  }
}

}  // namespace moe
