#!/usr/bin/python3
"""Draws the report's figures for a sweep directory, as PNG and SVG.

    /usr/bin/python3 scripts/plot_report.py SWEEPDIR

Reads SWEEPDIR/results.csv, SWEEPDIR/report/fit.json (written by `moescale report`) and each
run's metrics.jsonl; writes into SWEEPDIR/report/:
  ratio_curves   loss vs r per compute budget, one panel per sparsity, fitted valleys, r* + CI
  rstar_vs_compute  r* vs C (log-log) per sparsity, the fitted power law, the paper's law
  frontier       best loss vs compute per sparsity (all runs faint)
  load_balance   expert load (max/mean tokens per expert, mean over layers) over training
Uses Debian's matplotlib (python3-matplotlib), hence /usr/bin/python3.
"""
import csv
import json
import math
import statistics
import textwrap
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402


def read_results(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def group_rows(rows, group, statuses):
    """The rows of a sparsity (fit.json lists them: the fits' own grouping) with these statuses."""
    return [rows[i] for i in group["rows"] if rows[i]["status"] in statuses]


def as_float(row, key):
    try:
        v = float(row.get(key, ""))
        return v if math.isfinite(v) else None
    except ValueError:
        return None


def save(fig, out_dir, name):
    for ext in ("png", "svg"):
        fig.savefig(os.path.join(out_dir, f"{name}.{ext}"), dpi=130, bbox_inches="tight")
    plt.close(fig)


def panel_grid(n):
    cols = min(n, 2)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, 4.4 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def draw_ci(ax, v, at, color, horizontal):
    """v's 95% interval as a segment with end ticks, at `at` on the other axis; nothing without
    one. A segment, not error bars: a percentile interval need not contain its estimate."""
    lo, hi = v.get("ci_low"), v.get("ci_high")
    if lo is None or hi is None:
        return
    if horizontal:
        ax.plot([lo, hi], [at, at], "-|", color=color, lw=1.5, ms=8)
    else:
        ax.plot([at, at], [lo, hi], "_-", color=color, lw=1.5, ms=8)


# The range of r that "Optimal Expert-Attention Allocation in Mixture-of-Experts" sweeps.
PAPER_RATIO_RANGE = (0.2, 1.5)


def sparsity_label(s):
    return f"S = {100 * s:.2f}%"


def compute_colors(budgets):
    cmap = plt.get_cmap("viridis")
    n = max(1, len(budgets) - 1)
    return {c: cmap(0.1 + 0.8 * i / n) for i, c in enumerate(sorted(budgets))}


def plot_ratio_curves(rows, fit, out_dir):
    groups = fit["sparsities"]
    fig, axes = panel_grid(len(groups))
    for ax, group in zip(axes, groups):
        s = group["S"]
        budgets = sorted(v["C"] for v in group["valleys"])
        colors = compute_colors(budgets)
        for v in sorted(group["valleys"], key=lambda v: v["C"]):
            # Runs at the same ratio (seeds) as their mean with a +-1 sd bar.
            by_ratio = {}
            for i in v["rows"]:
                by_ratio.setdefault(rows[i]["ratio"], []).append(
                    (as_float(rows[i], "ratio_achieved"), as_float(rows[i], "val_loss")))
            xs, ys, sds = [], [], []
            for runs in by_ratio.values():
                xs.append(sum(x for x, _ in runs) / len(runs))
                ys.append(sum(y for _, y in runs) / len(runs))
                sds.append(statistics.stdev(y for _, y in runs) if len(runs) > 1 else 0.0)
            ax.errorbar(xs, ys, yerr=sds, fmt="o", color=colors[v["C"]], ms=5, capsize=2,
                        label=f"C = {v['C']:.2g}")
        for v in group["valleys"]:
            c = v["C"]
            color = colors.get(c, "gray")
            curve = v.get("curve") or []
            ax.plot([x for x, _ in curve], [y for _, y in curve], "-", color=color, lw=1.2,
                    alpha=0.8)
            if v["bracketed"]:
                draw_ci(ax, v, v["loss_opt"], color, horizontal=True)
                ax.plot([v["x_opt"]], [v["loss_opt"]], "*", color=color, ms=12, mec="black")
            if v.get("x_opt_parabola") is not None and group.get("valley") != "parabola":
                ax.plot([v["x_opt_parabola"]], [v["loss_opt"] if v["bracketed"] else curve[-1][1]],
                        "D", mfc="none", color=color, ms=7)
        # The paper swept r in [0.2, 1.5]: shaded, so a valley found outside it shows as such.
        ax.axvspan(PAPER_RATIO_RANGE[0], PAPER_RATIO_RANGE[1], color="0.5", alpha=0.12, lw=0,
                   label="the paper's ratios")
        ax.set_xscale("log")
        ratios = sorted({as_float(rows[i], "ratio") for v in group["valleys"] for i in v["rows"]})  # targets: one tick each
        ax.xaxis.set_major_locator(ticker.FixedLocator(ratios))
        ax.xaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_xlabel("r = expert FLOPs / attention FLOPs")
        ax.set_ylabel("validation loss (nats/token)")
        ax.set_title(sparsity_label(s) + "   (star: r* with 95% CI)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle("Loss vs expert/attention ratio at fixed compute\n"
                 "(bars: +-1 sd over seeds; hollow diamond: the parabola's vertex)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    save(fig, out_dir, "ratio_curves")


def plot_rstar(fit, out_dir):
    fig, ax = plt.subplots(figsize=(6.8, 4.8))
    groups = fit["sparsities"]
    cmap = plt.get_cmap("tab10")
    all_c = [v["C"] for g in groups for v in g["valleys"]] or [1.0]
    c_lo, c_hi = min(all_c) / 1.5, max(all_c) * 1.5
    for i, group in enumerate(groups):
        color = cmap(i % 10)
        s = group["S"]
        ok = [v for v in group["valleys"] if v["bracketed"]]
        if ok:
            for v in ok:
                draw_ci(ax, v, v["C"], color, horizontal=False)
            ax.plot([v["C"] for v in ok], [v["x_opt"] for v in ok], "o", color=color,
                    label=f"r* measured, {sparsity_label(s)}")
        law = group.get("power_law")
        if law:
            cs = [c_lo * (c_hi / c_lo) ** (j / 40) for j in range(41)]
            ax.plot(cs, [law["k"] * c ** law["a"] for c in cs], "-", color=color,
                    label=f"fit r* = {law['k']:.3g} C^{law['a']:.3f}")
            band = [b for b in law.get("band") or [] if b[1] is not None and b[2] is not None]
            if band:
                ax.fill_between([b[0] for b in band], [b[1] for b in band], [b[2] for b in band],
                                color=color, alpha=0.15, lw=0, label="its 95% band")
        curve = group.get("paper_law_curve")
        if curve:
            ax.plot([c for c, _ in curve], [r for _, r in curve], "--", color=color, alpha=0.6,
                    label=f"paper's law, {sparsity_label(s)}")
    if not any(v["bracketed"] for g in groups for v in g["valleys"]):
        why = "; ".join(f"{sparsity_label(g['S'])}: {g.get('trend', '')}" for g in groups)
        ax.text(0.5, 0.5, "no budget has a bracketed r*, so there is nothing to plot\n" +
                textwrap.fill(why, 70), transform=ax.transAxes, ha="center", va="center",
                fontsize=8, bbox={"facecolor": "white", "edgecolor": "gray", "alpha": 0.9})
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training compute C (FLOPs)")
    ax.set_ylabel("optimal ratio r*")
    ax.set_title("r* vs compute (dashed: the paper's published law)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    save(fig, out_dir, "rstar_vs_compute")


def plot_frontier(rows, fit, out_dir):
    fig, ax = plt.subplots(figsize=(6.8, 4.8))
    cmap = plt.get_cmap("tab10")
    for i, group in enumerate(fit["sparsities"]):
        s = group["S"]
        color = cmap(i % 10)
        pts = [(as_float(r, "compute"), as_float(r, "val_loss"))
               for r in group_rows(rows, group, ("done",))]
        ax.plot([c for c, _ in pts], [y for _, y in pts], ".", color=color, alpha=0.35)
        best = [(v["C"], min(as_float(rows[i], "val_loss") for i in v["rows"]))
                for v in sorted(group["valleys"], key=lambda v: v["C"]) if v["rows"]]
        ax.plot([c for c, _ in best], [y for _, y in best], "o-", color=color,
                label=f"best over r, {sparsity_label(s)}")
    ax.set_xscale("log")
    ax.set_xlabel("training compute C (FLOPs)")
    ax.set_ylabel("validation loss (nats/token)")
    ax.set_title("Compute frontier (dots: every run)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    save(fig, out_dir, "frontier")


def add(a, b):
    """Element-wise sum of two per-layer lists of per-expert counts."""
    return [[x + y for x, y in zip(la, lb)] for la, lb in zip(a, b)]


def load_balance_series(path):
    """(tokens, max/mean load averaged over layers) from a run's metrics.jsonl.

    Each line holds the tokens routed to each expert over its logging window. Windows cut short
    by an evaluation step hold fewer tokens, and max/mean over fewer tokens is biased upward, so
    short windows are merged with the next one until each point covers at least the usual
    window (the most common step span); the ratio is taken of the merged counts.
    """
    lines = []
    with open(path) as f:
        for line in f:
            try:
                m = json.loads(line)
            except ValueError:
                continue
            if m.get("tokens_per_expert") or m.get("expert_load_max_over_mean"):
                lines.append(m)
    spans = [b["step"] - a["step"] for a, b in zip(lines, lines[1:])]
    usual = max(set(spans), key=spans.count) if spans else 1

    def ratio(layers):
        per_layer = [max(c) / (sum(c) / len(c)) for c in layers if sum(c) > 0]
        return sum(per_layer) / len(per_layer) if per_layer else None

    steps, loads, points = [], [], []  # points: (tokens, merged counts)
    merged, start = None, 0
    for m in lines:
        counts = m.get("tokens_per_expert")
        if not counts:  # a line without counts: its own ratio, as written
            per_layer = m["expert_load_max_over_mean"]
            steps.append(m["tokens"])
            loads.append(sum(per_layer) / len(per_layer))
            continue
        merged = counts if merged is None else add(merged, counts)
        if m["step"] - start >= usual:
            points.append((m["tokens"], merged))
            merged, start = None, m["step"]
    if merged is not None:  # a short last window joins the point before it
        if points:
            points[-1] = (lines[-1]["tokens"], add(points[-1][1], merged))
        else:
            points.append((lines[-1]["tokens"], merged))
    for tokens, layers in points:
        value = ratio(layers)
        if value is not None:
            steps.append(tokens)
            loads.append(value)
    return steps, loads


def plot_load_balance(rows, sweep_dir, fit, out_dir):
    groups = fit["sparsities"]
    fig, axes = panel_grid(len(groups))
    for ax, group in zip(axes, groups):
        s = group["S"]
        runs = group_rows(rows, group, ("done", "diverged"))
        ratios = sorted({as_float(r, "ratio") for r in runs})
        cmap = plt.get_cmap("plasma")
        n = max(1, len(ratios) - 1)
        budgets = sorted({as_float(r, "compute") for r in runs})
        biggest = budgets[-1] if budgets else None
        for r in runs:
            if as_float(r, "compute") != biggest:
                continue
            path = os.path.join(sweep_dir, "runs", r["run_id"], "metrics.jsonl")
            if not os.path.exists(path):
                continue
            steps, loads = load_balance_series(path)
            ratio = as_float(r, "ratio")
            ax.plot(steps, loads, "-", color=cmap(0.1 + 0.8 * ratios.index(ratio) / n),
                    label=f"r = {ratio:g}")
        ax.axhline(1.0, color="gray", lw=0.8, ls=":")
        ax.set_xlabel("training tokens")
        ax.set_ylabel("max / mean tokens per expert (mean over layers)")
        ax.set_title(f"{sparsity_label(s)}, C = {biggest:.2g}" if biggest else sparsity_label(s))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Expert load balance over training (1 = perfectly balanced)")
    save(fig, out_dir, "load_balance")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: plot_report.py SWEEPDIR")
    sweep_dir = sys.argv[1]
    out_dir = os.path.join(sweep_dir, "report")
    rows = read_results(os.path.join(sweep_dir, "results.csv"))
    with open(os.path.join(out_dir, "fit.json")) as f:
        fit = json.load(f)
    plot_ratio_curves(rows, fit, out_dir)
    plot_rstar(fit, out_dir)
    plot_frontier(rows, fit, out_dir)
    plot_load_balance(rows, sweep_dir, fit, out_dir)


if __name__ == "__main__":
    main()
