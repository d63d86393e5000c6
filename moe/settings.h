// The settings of a run, each declared once: `moescale plan` and `moescale train` flags and the
// keys of sweep grids are all generated from the table in settings.cpp (its key is the flag
// without dashes and the grid key; its help, its parser and its checks of the text come with
// it). Adding a setting is one entry there plus the field it writes and the code that uses it;
// range checks that need the whole request stay in make_plan and TrainConfig::validate.
//
// What each setting is for (SettingUse):
//   kAxis     a sweep axis: a list in grids (compute, ratio, sparsity, experts, label, seed);
//             one value on the command line.
//   kShared   one value shared by every run of a grid; a flag of plan or train.
//   kCommand  a flag of `moescale train` only: how this one run is carried out (device,
//             threads, tokens, test hooks); not a grid key.
// Which command takes it (SettingGroup): kPlan settings shape the plan (PlanRequest; flags of
// `plan` and `train`, refused beside `train --config`, which holds a plan already); kTrain
// settings the training (TrainConfig; flags of `train`, overriding a --config file's values);
// kPlanAndTrain both (batch-size: the planner counts steps with it, and it overrides a config).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/json_fields.h"
#include "moe/planner.h"
#include "moe/train_config.h"

namespace moe {

// What a set of flags or a grid's shared keys say: the plan request and the training settings.
struct RunSettings {
  PlanRequest plan;
  TrainConfig train;
  bool lr_given = false;  // else the label's learning rate
};

enum class SettingUse { kAxis, kShared, kCommand };
enum class SettingGroup { kPlan, kTrain, kPlanAndTrain };

struct Setting {
  std::string key;  // "top-k": the flag is --top-k, the grid key top-k
  SettingUse use;
  SettingGroup group;
  std::string help;
  bool is_switch = false;  // a flag without a value (--tie-embeddings); true/false in grids
  // A training setting `moescale plan` takes too: its memory estimate reads it (moe/memory.h).
  bool plan_reads = false;
  // Parses text into its field. `where` names the input in messages ("--top-k", "top-k =");
  // throws std::invalid_argument "<where> '<text>' is not a number" and the like.
  std::function<void(const std::string& where, const std::string& text, RunSettings& s)> apply;
  // The value as text, for help ("" when it has no default of its own, e.g. the label's).
  std::function<std::string(const RunSettings& s)> show;
  // Its key in config.json (TrainConfig's JSON), "" for plan settings (config.json holds their
  // outcome, the model and the plan), and how it is written there and read back (strictly:
  // moe/json_fields.h).
  // Its own range, checked by TrainConfig::validate for training settings (the planner checks
  // the plan's): throws std::invalid_argument "--<key> <value> must be ...". May be empty.
  std::function<void(const RunSettings& s)> check;
  std::string json_key;
  // Whether, in this config, the setting is part of the run's identity (run_identity: the run
  // id and the resume check): what a run computes rather than how it is carried out. Empty:
  // never (device, threads, logging and checkpoint cadence, test hooks).
  std::function<bool(const TrainConfig& c)> identity;
  std::function<nlohmann::json(const RunSettings& s)> to_json;
  std::function<void(const JsonFields& f, RunSettings& s)> from_json;
};

// Every setting, plan settings first, in the order --help lists them.
const std::vector<Setting>& settings();
// nullptr for an unknown key.
const Setting* find_setting(const std::string& key);

// Strict parsing of one value: the whole text must be the value. Throws std::invalid_argument
// "<where> '<text>' is not a number: ..." ("must be a non-negative integer", "must be a finite
// number", "is not true/false"), each with an example of a good value. T: int, int64_t,
// uint64_t, double, bool.
template <typename T>
T parse_setting_value(const std::string& where, const std::string& text);

// "K,A" -> y = K C^A (K > 0): --m-law, and `moescale plan`'s --m-over-na-law and --d-law.
// Throws std::invalid_argument "<where> '<text>' must be two numbers K,A ..." and the like.
ComputeLaw parse_compute_law(const std::string& where, const std::string& text);

// The training config of one run: the shared settings with the plan's model, batch, tokens and
// (unless lr_given) learning rate. The one place a plan becomes a TrainConfig (train and sweep).
TrainConfig train_config_for(const Plan& plan, const RunSettings& shared);

}  // namespace moe
