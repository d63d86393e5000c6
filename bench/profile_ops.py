#!/usr/bin/env python3
"""Time per op family of one training step, C++ trainer against the Python reference, from the
Chrome traces `moescale train --profile` and `bench/reference_moe.py --profile` write (10 steps
each, after 5 warm-up steps; bench/profile_step.sh runs both).

    profile_ops.py CPP_TRACE PY_TRACE [--steps 10]

Self time (an op's time minus the ops it calls) is summed per (scope, family): the scope is the
step's part that encloses the op (moescale::forward, backward, clip, optimizer; "other" for the
rest of the loop: data, logging), the family a group of aten ops by name (below). Prints a
markdown table of ms per step, largest differences first, and the totals per scope, with the
time outside any op (the step's length, from the trace's window, minus its ops).
"""
import argparse
import json
import re
from collections import defaultdict

# Families by aten op name (the "aten::" prefix and trailing underscores dropped); first match.
FAMILIES = [
    ("GEMM", r"^(mm|addmm|bmm|baddbmm|matmul|linear|_grouped_mm|mkldnn_.*mm.*|_mkl.*)$"),
    ("attention (SDPA)", r"scaled_dot_product|_flash_attention|_efficient_attention"),
    ("softmax, log-softmax, loss", r"^(_?softmax|_?log_softmax|.*softmax_backward.*|nll_loss.*|cross_entropy.*)"),
    ("dispatch: sort, index, scatter", r"^(sort|argsort|topk|index|index_select|index_add|index_put|"
                                       r"_index_put_impl|gather|scatter|scatter_add|bincount|cumsum|"
                                       r"nonzero|repeat_interleave|masked_.*|histc|searchsorted|"
                                       r"embedding.*|one_hot)$"),
    ("reductions and norms", r"^(sum|mean|norm|linalg_vector_norm|rsqrt|sqrt|var|amax|max|min|"
                             r"_foreach_norm|clamp|_fused_rms_norm.*|rms_norm|layer_norm|native_layer_norm.*)$"),
    ("optimizer elementwise", r"^(_foreach_.*|_fused_adamw|lerp|addcmul|addcdiv)$"),
    ("elementwise", r"^(add|sub|mul|div|silu|sigmoid|exp|neg|pow|where|silu_backward|"
                    r"sigmoid_backward|threshold_backward|gelu.*|cos|sin|reciprocal|abs|sign|fill|zero|"
                    r"ones_like|zeros_like|full|scalar_tensor|eq|ne|lt|gt|ge|le|isfinite|logical_.*)$"),
    ("copies and layout", r"^(copy|to|_to_copy|clone|contiguous|cat|stack|t|transpose|permute|view|"
                          r"reshape|_reshape_alias|expand|narrow|slice|select|split|split_with_sizes|"
                          r"unbind|chunk|as_strided|unsqueeze|squeeze|flatten|detach|alias|"
                          r"empty|empty_like|empty_strided|resize|set_|lift_fresh|_unsafe_view|"
                          r"unfold|new_empty.*|new_zeros|zeros|ones|arange|linspace|item|_local_scalar_dense)$"),
]
COMPILED = [(name, re.compile(rx)) for name, rx in FAMILIES]
SCOPES = ["forward", "backward", "clip", "optimizer"]


def family(name):
    base = name.split("::")[-1].strip().rstrip("_")
    if base.endswith("Backward0") or base.endswith("Backward1") or "evaluate_function" in name:
        return None  # an autograd node: its time is in the aten ops it runs (self time: ~0)
    for fam, rx in COMPILED:
        if rx.search(base):
            return fam
    return "other ops"


def events(path):
    """The trace's op events, and the profiled window's length (its "Trace" event), in us."""
    with open(path) as f:
        t = json.load(f)
    ev = t["traceEvents"] if isinstance(t, dict) else t
    ops = [e for e in ev if e.get("ph") == "X" and "dur" in e and e.get("cat") in ("cpu_op", "user_annotation")]
    window = sum(float(e["dur"]) for e in ev if e.get("ph") == "X" and e.get("cat") == "Trace")
    return ops, window


def per_family(path):
    """{(scope, family): self microseconds} over the trace, and the window's length."""
    ops, window = events(path)
    by_thread = defaultdict(list)
    for e in ops:
        by_thread[e.get("tid")].append(e)
    out = defaultdict(float)
    for evs in by_thread.values():
        evs.sort(key=lambda e: (float(e["ts"]), -float(e["dur"])))
        stack = []  # (end, event, children_time)
        for e in evs:
            ts, dur = float(e["ts"]), float(e["dur"])
            while stack and ts >= stack[-1][0] - 1e-9:
                close(stack.pop(), stack, out)
            stack.append([ts + dur, e, 0.0])
        while stack:
            close(stack.pop(), stack, out)
    return out, window


def close(entry, stack, out):
    end, e, children = entry
    dur = float(e["dur"])
    if stack:
        stack[-1][2] += dur
    name = e["name"]
    if name.startswith("moescale::"):
        return
    scope = "other"
    for _, parent, _ in reversed(stack):
        if parent["name"].startswith("moescale::"):
            scope = parent["name"].split("::")[1]
            break
    fam = family(name)
    if fam is not None:
        out[(scope, fam)] += max(0.0, dur - children)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cpp")
    p.add_argument("py")
    p.add_argument("--steps", type=int, default=10)
    a = p.parse_args()
    (cpp, cpp_window), (py, py_window) = per_family(a.cpp), per_family(a.py)
    ms = lambda v: v / 1000.0 / a.steps  # noqa: E731
    keys = sorted(set(cpp) | set(py), key=lambda k: -abs(cpp.get(k, 0) - py.get(k, 0)))
    print("| scope | op family | C++ ms/step | Python ms/step | C++ - Python |")
    print("|---|---|---|---|---|")
    for k in keys:
        c, q = ms(cpp.get(k, 0)), ms(py.get(k, 0))
        if max(c, q) < 0.05:
            continue
        print(f"| {k[0]} | {k[1]} | {c:.2f} | {q:.2f} | {c - q:+.2f} |")
    print()
    print("| scope | C++ ms/step | Python ms/step |")
    print("|---|---|---|")
    for s in SCOPES + ["other"]:
        c = ms(sum(v for k, v in cpp.items() if k[0] == s))
        q = ms(sum(v for k, v in py.items() if k[0] == s))
        print(f"| {s} | {c:.2f} | {q:.2f} |")
    print(f"| all ops | {ms(sum(cpp.values())):.2f} | {ms(sum(py.values())):.2f} |")
    print(f"| outside any op (the language, data, logging) | {ms(cpp_window - sum(cpp.values())):.2f} | "
          f"{ms(py_window - sum(py.values())):.2f} |")
    print(f"| the step (profiled window / steps) | {ms(cpp_window):.2f} | {ms(py_window):.2f} |")


if __name__ == "__main__":
    main()
