#include "moe/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/json_fields.h"
#include "moe/accounting.h"

namespace moe {

double ModelConfig::sparsity() const {
  if (!is_moe()) return 0.0;
  const double e = static_cast<double>(experts_total());
  return (e - static_cast<double>(experts_active())) / e;
}

int64_t ModelConfig::dense_ffn_width() const {
  if (d_dense > 0) return d_dense;
  return is_moe() ? (top_k + n_shared_experts) * d_expert : d_expert;
}

namespace {

void require(bool ok, const char* field, const std::string& value, const std::string& fix) {
  if (!ok) {
    throw std::invalid_argument(
        fmt::format("model config: {} = {} is invalid: {}", field, value, fix));
  }
}

void require_positive(int64_t v, const char* field) {
  require(v > 0, field, std::to_string(v), "must be a positive integer");
}

}  // namespace

void ModelConfig::validate() const {
  require_positive(vocab_size, "vocab_size");
  require_positive(context, "context");
  require_positive(d_model, "d_model");
  require_positive(n_layers, "n_layers");
  require_positive(n_heads, "n_heads");
  require_positive(n_kv_heads, "n_kv_heads");
  require_positive(head_dim, "head_dim");
  require_positive(d_expert, "d_expert");
  require(n_heads % n_kv_heads == 0, "n_kv_heads", std::to_string(n_kv_heads),
          fmt::format("must divide n_heads = {}", n_heads));
  require(positions != PositionEncoding::kRotary || head_dim % 2 == 0, "head_dim",
          std::to_string(head_dim), "rotary positions need an even head_dim");
  require(n_experts >= 0, "n_experts", std::to_string(n_experts), "must be >= 0 (0 = dense FFN)");
  require(n_shared_experts >= 0, "n_shared_experts", std::to_string(n_shared_experts),
          "must be >= 0");
  if (is_moe()) {
    require(top_k >= 1, "top_k", std::to_string(top_k), "an MoE layer needs top_k >= 1");
    require(top_k <= n_experts, "top_k", std::to_string(top_k),
            fmt::format("cannot exceed the {} routed experts; lower top_k or raise n_experts",
                        n_experts));
    // One gate renormalised is exactly 1: the loss would send the router no gradient.
    require(!(top_k == 1 && renormalize_gates), "renormalize_gates", "true",
            "with top_k = 1 it makes every gate 1, so the router learns nothing from the loss; "
            "set it false (the gate is then the router's probability, as in Switch)");
  }
  require(n_dense_layers >= 0 && n_dense_layers <= n_layers, "n_dense_layers",
          std::to_string(n_dense_layers), fmt::format("must be in [0, n_layers = {}]", n_layers));
  require(d_dense >= 0, "d_dense", std::to_string(d_dense),
          "must be >= 0 (0: the active experts' width)");
  require(d_dense == 0 || is_moe(), "d_dense", std::to_string(d_dense),
          "applies to the dense layers of an MoE model; a dense model's width is d_expert");
  require(std::isfinite(rope_theta) && rope_theta > 0, "rope_theta", fmt::format("{}", rope_theta),
          "must be > 0");
  require(std::isfinite(norm_eps) && norm_eps > 0, "norm_eps", fmt::format("{}", norm_eps),
          "must be > 0");
  require(std::isfinite(aux_loss_coef) && aux_loss_coef >= 0, "aux_loss_coef",
          fmt::format("{}", aux_loss_coef), "must be >= 0");
  require(std::isfinite(z_loss_coef) && z_loss_coef >= 0, "z_loss_coef",
          fmt::format("{}", z_loss_coef), "must be >= 0");
  require(std::isfinite(init_std) && init_std > 0, "init_std", fmt::format("{}", init_std),
          "must be > 0");
  count_params(*this);  // throws when the parameter count does not fit in 64 bits
}

std::string to_string(PositionEncoding p) {
  switch (p) {
    case PositionEncoding::kRotary:
      return "rotary";
    case PositionEncoding::kLearned:
      return "learned";
    case PositionEncoding::kNone:
      return "none";
  }
  return "?";
}
std::string to_string(NormKind n) { return n == NormKind::kRMSNorm ? "rmsnorm" : "layernorm"; }
std::string to_string(RouterScore s) { return s == RouterScore::kSoftmax ? "softmax" : "sigmoid"; }

PositionEncoding parse_position_encoding(const std::string& s) {
  if (s == "rotary") return PositionEncoding::kRotary;
  if (s == "learned") return PositionEncoding::kLearned;
  if (s == "none") return PositionEncoding::kNone;
  throw std::invalid_argument("positions = '" + s + "' is unknown: use rotary, learned or none");
}
NormKind parse_norm_kind(const std::string& s) {
  if (s == "rmsnorm") return NormKind::kRMSNorm;
  if (s == "layernorm") return NormKind::kLayerNorm;
  throw std::invalid_argument("norm = '" + s + "' is unknown: use rmsnorm or layernorm");
}
RouterScore parse_router_score(const std::string& s) {
  if (s == "softmax") return RouterScore::kSoftmax;
  if (s == "sigmoid") return RouterScore::kSigmoid;
  throw std::invalid_argument("router_score = '" + s + "' is unknown: use softmax or sigmoid");
}

std::string to_string(Toggle g) {
  return g == Toggle::kAuto ? "auto" : g == Toggle::kOn ? "on" : "off";
}
std::optional<int> parse_device_name(const std::string& spec) {
  if (spec == "cpu") return -1;
  if (spec == "cuda") return 0;
  if (spec.rfind("cuda:", 0) == 0 && spec.size() > 5 && spec.size() < 9 &&
      std::all_of(spec.begin() + 5, spec.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::stoi(spec.substr(5));
  }
  return std::nullopt;
}

Toggle parse_toggle(const std::string& flag, const std::string& s) {
  if (s == "auto") return Toggle::kAuto;
  if (s == "on") return Toggle::kOn;
  if (s == "off") return Toggle::kOff;
  throw std::invalid_argument(flag + " " + s + " is unknown: use auto, on or off");
}

GroupedGemm parse_grouped_gemm(const std::string& s) { return parse_toggle("--grouped-gemm", s); }
Toggle parse_fused_adamw(const std::string& s) { return parse_toggle("--fused-adamw", s); }
Toggle parse_cuda_graph(const std::string& s) { return parse_toggle("--cuda-graph", s); }

void to_json(nlohmann::json& j, const ModelConfig& c) {
  j = nlohmann::json{{"vocab_size", c.vocab_size},
                     {"context", c.context},
                     {"d_model", c.d_model},
                     {"n_layers", c.n_layers},
                     {"n_heads", c.n_heads},
                     {"n_kv_heads", c.n_kv_heads},
                     {"head_dim", c.head_dim},
                     {"d_expert", c.d_expert},
                     {"n_experts", c.n_experts},
                     {"top_k", c.top_k},
                     {"n_shared_experts", c.n_shared_experts},
                     {"n_dense_layers", c.n_dense_layers},
                     {"d_dense", c.d_dense},
                     {"positions", to_string(c.positions)},
                     {"rope_theta", c.rope_theta},
                     {"norm", to_string(c.norm)},
                     {"norm_eps", c.norm_eps},
                     {"tie_embeddings", c.tie_embeddings},
                     {"router_score", to_string(c.router_score)},
                     {"renormalize_gates", c.renormalize_gates},
                     {"aux_loss_coef", c.aux_loss_coef},
                     {"z_loss_coef", c.z_loss_coef},
                     {"init_std", c.init_std}};
}

void from_json(const nlohmann::json& j, ModelConfig& c) {
  const JsonFields f = JsonFields::of<ModelConfig>(j, "model config");
  const auto get = [&f](const char* key, auto& field) { f.get(key, field); };
  get("vocab_size", c.vocab_size);
  get("context", c.context);
  get("d_model", c.d_model);
  get("n_layers", c.n_layers);
  get("n_heads", c.n_heads);
  get("n_kv_heads", c.n_kv_heads);
  get("head_dim", c.head_dim);
  get("d_expert", c.d_expert);
  get("n_experts", c.n_experts);
  get("top_k", c.top_k);
  get("n_shared_experts", c.n_shared_experts);
  get("n_dense_layers", c.n_dense_layers);
  get("d_dense", c.d_dense);
  get("rope_theta", c.rope_theta);
  get("norm_eps", c.norm_eps);
  get("tie_embeddings", c.tie_embeddings);
  get("renormalize_gates", c.renormalize_gates);
  get("aux_loss_coef", c.aux_loss_coef);
  get("z_loss_coef", c.z_loss_coef);
  get("init_std", c.init_std);
  std::string s;
  if (f.has("positions")) {
    get("positions", s);
    c.positions = parse_position_encoding(s);
  }
  if (f.has("norm")) {
    get("norm", s);
    c.norm = parse_norm_kind(s);
  }
  if (f.has("router_score")) {
    get("router_score", s);
    c.router_score = parse_router_score(s);
  }
}

}  // namespace moe
