// Uses moescale as a library: plans a model for a budget and a ratio, builds it, checks its
// parameter count against the planner's accounting, writes and reads a token shard, and fits a
// power law with a planted exponent. Exit status 0 when every check holds.
#include <data/shards.h>
#include <moe/model.h>
#include <moe/planner.h>
#include <scaling/loss_fit.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

int main() {
  int failures = 0;
  auto check = [&](bool ok, const char* what) {
    std::printf("%s: %s\n", ok ? "ok" : "FAILED", what);
    failures += ok ? 0 : 1;
  };

  moe::PlanRequest request;
  request.compute = 1e13;
  request.ratio = 0.5;
  request.label = "100K";
  request.vocab_size = 64;
  request.width_multiple = 1;
  const moe::Plan plan = moe::make_plan(request);
  check(std::fabs(plan.flops.ratio() / 0.5 - 1) < 0.05, "the plan's r is the requested 0.5");

  moe::MoETransformer model(plan.model);
  const int64_t counted = moe::count_model_parameters(*model);
  check(counted == plan.params.total(), "the model's parameters equal the planner's count");
  const at::Tensor idx = torch::randint(0, 64, {2, 16}, torch::kLong);
  const moe::ModelOutput out = model->forward(idx);
  check(out.logits_BTV.size(2) == 64 && torch::isfinite(out.logits_BTV).all().item<bool>(),
        "a forward pass gives finite logits over the vocabulary");

  const std::string shard =
      (std::filesystem::temp_directory_path() / "moescale_consumer_shard.bin").string();
  moe::write_shard(shard, {1, 2, 3, 63}, 1);
  {
    moe::TokenShard read(shard);
    check(read.size() == 4 && read[3] == 63, "a shard written is read back");
  }
  std::filesystem::remove(shard);

  std::vector<moe::scaling::LossPoint> points;
  for (int i = 0; i < 12; ++i) {
    moe::scaling::LossPoint p;
    p.n = std::pow(10.0, 6 + 0.25 * i);
    p.loss = 1.7 + 30 * std::pow(p.n, -0.3);
    points.push_back(p);
  }
  moe::scaling::LawFitOptions options;
  options.bootstrap = 0;
  const auto fit = moe::scaling::fit_loss_law(moe::scaling::LossLaw::kPower, points, options);
  check(std::fabs(fit.params[2].value - 0.3) < 1e-3, "the power law's planted exponent 0.3");
  return failures == 0 ? 0 : 1;
}
