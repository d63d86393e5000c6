#!/usr/bin/env python3
"""The moescale model and training step written in Python, run by the project's .venv (the same
torch wheel, hence the same LibTorch, as the C++ build), for side-by-side speed comparisons.

    .venv/bin/python bench/reference_moe.py RUNDIR/config.json --steps 30 [--warmup 5]
        [--threads N] [--device cpu|cuda] [--compile]

Builds the architecture of moe/model.h from a moescale config.json (pre-norm RMSNorm blocks,
rotary attention through SDPA with enable_gqa, dropless sorted MoE dispatch with stacked
experts, on CUDA + bf16 + compute capability 9.x one torch._grouped_mm per matrix as the C++
trainer's grouped_gemm=auto, shared experts as one SwiGLU, Switch load balancing and z-loss)
and runs AdamW training steps on random tokens with the config's batch, context, device and
dtype (bf16: autocast). --compile wraps the model in torch.compile. Prints one JSON line:
tokens_per_s over the timed steps, and the peak CUDA memory on CUDA.
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


GROUPED = False  # set in main(): the experts as grouped GEMMs (CUDA, bf16, capability 9.x)


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotary(x, cos, sin):
    half = x.shape[-1] // 2
    t = x.shape[2]
    x1, x2 = x[..., :half], x[..., half:]
    c, s = cos[:t], sin[:t]
    return torch.cat([x1 * c - x2 * s, x1 * s + x2 * c], -1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, h, g, dh = c["d_model"], c["n_heads"], c["n_kv_heads"], c["head_dim"]
        self.h, self.g, self.dh = h, g, dh
        self.wq = nn.Linear(d, h * dh, bias=False)
        self.wk = nn.Linear(d, g * dh, bias=False)
        self.wv = nn.Linear(d, g * dh, bias=False)
        self.wo = nn.Linear(h * dh, d, bias=False)
        r = torch.arange(dh // 2, dtype=torch.float64)
        inv = c["rope_theta"] ** (-2.0 * r / dh)
        ang = torch.outer(torch.arange(c["context"], dtype=torch.float64), inv)
        self.register_buffer("cos", ang.cos().float())
        self.register_buffer("sin", ang.sin().float())

    def forward(self, x):
        b, t, _ = x.shape
        q = self.wq(x).view(b, t, self.h, self.dh).transpose(1, 2)
        k = self.wk(x).view(b, t, self.g, self.dh).transpose(1, 2)
        v = self.wv(x).view(b, t, self.g, self.dh).transpose(1, 2)
        q, k = rotary(q, self.cos, self.sin).to(v.dtype), rotary(k, self.cos, self.sin).to(v.dtype)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=self.g < self.h)
        return self.wo(y.transpose(1, 2).reshape(b, t, self.h * self.dh))


def swiglu(x, wg, wu, wd):
    return (F.silu(x @ wg) * (x @ wu)) @ wd


class FeedForward(nn.Module):
    def __init__(self, d, w):
        super().__init__()
        self.w_gate = nn.Parameter(torch.randn(d, w) * 0.02)
        self.w_up = nn.Parameter(torch.randn(d, w) * 0.02)
        self.w_down = nn.Parameter(torch.randn(w, d) * 0.02)

    def forward(self, x):
        return swiglu(x, self.w_gate, self.w_up, self.w_down)


class MoELayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        e, d, f = c["n_experts"], c["d_model"], c["d_expert"]
        self.e, self.k = e, c["top_k"]
        self.router = nn.Parameter(torch.randn(e, d) * 0.02)
        self.w_gate = nn.Parameter(torch.randn(e, d, f) * 0.02)
        self.w_up = nn.Parameter(torch.randn(e, d, f) * 0.02)
        self.w_down = nn.Parameter(torch.randn(e, f, d) * 0.02)
        s = c["n_shared_experts"]
        self.shared = FeedForward(d, s * f) if s > 0 else None

    def forward(self, x):
        n = x.shape[0]
        with torch.autocast(x.device.type, enabled=False):
            logits = x.float() @ self.router.t()
        scores = logits.softmax(-1)
        gates, experts = scores.topk(self.k, -1)
        gates = gates / gates.sum(-1, keepdim=True)
        flat = experts.reshape(-1)
        order = torch.sort(flat, stable=True)[1]
        token = order.div(self.k, rounding_mode="floor")
        gate = gates.reshape(-1)[order]
        counts = torch.zeros(self.e, dtype=torch.long, device=x.device).index_add_(
            0, flat, torch.ones_like(flat))
        xs = x[token]
        if GROUPED:
            offs = counts.cumsum(0).to(torch.int32)
            bf = torch.bfloat16
            xb = xs.to(bf)
            g = torch._grouped_mm(xb, self.w_gate.to(bf), offs)
            u = torch._grouped_mm(xb, self.w_up.to(bf), offs)
            y = torch._grouped_mm(F.silu(g) * u, self.w_down.to(bf), offs)
        else:
            outs, off = [], 0
            wg, wu, wd = self.w_gate.unbind(0), self.w_up.unbind(0), self.w_down.unbind(0)
            for e, cnt in enumerate(counts.tolist()):
                if cnt:
                    outs.append(swiglu(xs[off:off + cnt], wg[e], wu[e], wd[e]))
                    off += cnt
            y = torch.cat(outs)
        y = y * gate.unsqueeze(1).to(y.dtype)
        out = torch.zeros(x.shape, dtype=y.dtype, device=x.device).index_add(0, token, y)
        if self.shared is not None:
            out = out + self.shared(x)
        frac = counts.float() / (n * self.k)
        aux = self.e * (frac * scores.mean(0)).sum()
        z = torch.logsumexp(logits, -1).pow(2).mean()
        return out, aux, z


class Block(nn.Module):
    def __init__(self, c, moe):
        super().__init__()
        self.n1, self.n2 = RMSNorm(c["d_model"], c["norm_eps"]), RMSNorm(c["d_model"], c["norm_eps"])
        self.attn = Attention(c)
        w = (c["top_k"] + c["n_shared_experts"]) * c["d_expert"] if c["n_experts"] else c["d_expert"]
        self.ffn = MoELayer(c) if moe else FeedForward(c["d_model"], w)

    def forward(self, x):
        x = x + self.attn(self.n1(x))
        h = self.n2(x).reshape(-1, x.shape[-1])
        if isinstance(self.ffn, MoELayer):
            y, aux, z = self.ffn(h)
        else:
            y, aux, z = self.ffn(h), None, None
        return x + y.view(x.shape), aux, z


class Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.emb = nn.Embedding(c["vocab_size"], c["d_model"])
        moe = c["n_experts"] > 0
        self.blocks = nn.ModuleList(
            Block(c, moe and l >= c["n_dense_layers"]) for l in range(c["n_layers"]))
        self.norm = RMSNorm(c["d_model"], c["norm_eps"])
        self.head = nn.Linear(c["d_model"], c["vocab_size"], bias=False)

    def forward(self, idx, targets):
        x = self.emb(idx)
        aux, z = [], []
        for b in self.blocks:
            x, a, zz = b(x)
            if a is not None:
                aux.append(a)
                z.append(zz)
        logits = self.head(self.norm(x))
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1))
        loss = ce
        if aux:
            loss = loss + self.c["aux_loss_coef"] * torch.stack(aux).mean() \
                + self.c["z_loss_coef"] * torch.stack(z).mean()
        return loss


def main():
    p = argparse.ArgumentParser()
    p.add_argument("config")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--device", default=None, help="default: the config's")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--profile", default=None,
                   help="write a Chrome trace of 10 steps after the warm-up to this file, "
                        "scoped as the C++ trainer's (moescale::forward, backward, clip, optimizer)")
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    cfg = json.load(open(a.config))
    c = cfg["model"]
    device = torch.device(a.device or cfg["device"])
    bf16 = cfg["dtype"] == "bf16"
    global GROUPED
    GROUPED = (device.type == "cuda" and bf16 and torch.cuda.get_device_capability(device)[0] == 9
               and c["d_model"] % 8 == 0 and c["d_expert"] % 8 == 0)
    torch.manual_seed(0)
    model = Model(c).to(device)
    step_fn = torch.compile(model) if a.compile else model
    decay = [q for q in model.parameters() if q.dim() >= 2]
    rest = [q for q in model.parameters() if q.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg["weight_decay"]},
                             {"params": rest, "weight_decay": 0.0}],
                            lr=cfg["lr"], betas=(cfg["beta1"], cfg["beta2"]), eps=cfg["adam_eps"])
    b, t = cfg["batch_size"], c["context"]
    data = torch.randint(c["vocab_size"], (a.steps + a.warmup, b, t + 1))
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    t0 = None
    prof = None
    scope = torch.profiler.record_function
    for step in range(a.warmup + a.steps):
        if step == a.warmup:
            sync()
            t0 = time.perf_counter()
            if a.profile:
                prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
                prof.__enter__()
        if prof is not None and step == a.warmup + 10:
            prof.__exit__(None, None, None)
            prof.export_chrome_trace(a.profile)
            prof = None
        batch = data[step].to(device)
        opt.zero_grad()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16), scope("moescale::forward"):
            loss = step_fn(batch[:, :t], batch[:, 1:])
        with scope("moescale::backward"):
            loss.backward()
        with scope("moescale::clip"):
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["clip"])
        with scope("moescale::optimizer"):
            opt.step()
        if step % 10 == 9 and not math.isfinite(loss.item()):
            raise SystemExit("loss is not finite")
    if prof is not None:
        prof.__exit__(None, None, None)
        prof.export_chrome_trace(a.profile)
    sync()
    seconds = time.perf_counter() - t0
    out = {"tokens_per_s": a.steps * b * t / seconds, "steps": a.steps, "seconds": seconds,
           "torch": torch.__version__, "threads": torch.get_num_threads()}
    if device.type == "cuda":
        out["peak_memory_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    print(json.dumps(out))


if __name__ == "__main__":
    main()
