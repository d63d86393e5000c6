#!/usr/bin/python3
"""Draws the figures of paper 2's study (experiments/holistic.h), as PNG and SVG.

    /usr/bin/python3 scripts/plot_holistic.py STUDYDIR

Reads the study's files; writes into STUDYDIR/report/:
  phase1_curves      loss vs M/N_a and vs N/N_a per budget (Phase 1: every run faint, the
                     profile's points, the fitted curves, the optima with their 95% intervals)
  rank_scatter       per triad, the proxy d's loss against the best over d, with y = x
  phase2_d_sweeps    loss vs d at each budget's optimal triad, the fitted quadratic, d_opt and
                     the 0.1% band
  d_band_vs_compute  d_l, d_opt and d_r vs C (log-log), their intervals and power laws
Uses Debian's matplotlib (python3-matplotlib), hence /usr/bin/python3.
"""
import csv
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402

# The sweep report's helpers (scripts/plot_report.py, beside this file).
from plot_report import as_float as num  # noqa: E402
from plot_report import compute_colors as colors  # noqa: E402
from plot_report import save  # noqa: E402


def read_csv(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def read_json(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def same(a, b):
    return abs(a - b) <= 1e-6 * abs(b)


def optimum_at(fit, c):
    for o in (fit or {}).get("optima", []):
        if same(o["C"], c):
            return o
    return None


def curve_value(fit, o, x):
    """The fitted curve of `moescale fit band` (scaling/band.h, BandOptimum::coefficients)."""
    c0, c1, c2 = o["coefficients"]
    if c0 is None:
        return None
    if fit["curve"] == "pole":
        g = 1 / (fit["upper"] - x) if fit["upper"] is not None else x
        return c0 + c1 / (x - fit["lower"]) + c2 * g
    v = (math.log(x) if fit["curve"] == "log-quadratic" else x) - o["center"]
    return c0 + c1 * v + c2 * v * v


def draw_curve(ax, fit, o, lo, hi, color):
    if o is None:
        return
    xs = [lo + (hi - lo) * i / 200 for i in range(201)]
    ys = [curve_value(fit, o, x) for x in xs]
    if any(y is None for y in ys):
        return
    ax.plot(xs, ys, "-", color=color, lw=1.3)
    if o["bracketed"]:
        ax.axvline(o["x_opt"], color=color, ls=":", lw=1)
        ci = o.get("x_opt_ci") or [None, None]
        if ci[0] is not None:
            y = o["loss_opt"]
            ax.plot(ci, [y, y], "-|", color=color, lw=1.5, ms=8)


def plot_phase1(study, out_dir):
    runs = [r for r in read_csv(os.path.join(study, "phase1", "results.csv")) if r["status"] == "done"]
    fig, axes = plt.subplots(1, 2, figsize=(12.4, 4.6))
    for ax, ratio, title, xlabel in (
        (axes[0], "m_over_na", "loss vs M/N_a (lowest over N/N_a)", "M/N_a (FLOPs per token / active params)"),
        (axes[1], "n_over_na", "loss vs N/N_a (lowest over M/N_a)", "N/N_a (total / active params)"),
    ):
        profile = read_csv(os.path.join(study, f"{ratio}.csv"))
        fit = read_json(os.path.join(study, f"{ratio}.json"))
        budgets = sorted({float(r["compute"]) for r in profile})
        col = colors(budgets)
        for r in runs:
            c = float(r["compute"])
            ax.plot(num(r, ratio), num(r, "val_loss"), ".", color=col.get(c, "grey"), alpha=0.25)
        for c in budgets:
            pts = [(float(r["x"]), float(r["loss"])) for r in profile if same(float(r["compute"]), c)]
            xs, ys = zip(*sorted(pts))
            ax.plot(xs, ys, "o", color=col[c], label=f"C = {c:.2g}")
            o = optimum_at(fit, c)
            draw_curve(ax, fit, o, min(xs), max(xs), col[c])
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("validation loss (nats)")
        ax.legend(fontsize=8)
    fig.suptitle("Phase 1: the triad grid, d at the proxy (dotted: fitted optima, bars: 95% CI)")
    save(fig, out_dir, "phase1_curves")


def plot_rank(study, out_dir):
    rows = read_csv(os.path.join(study, "rank.csv"))
    stats = read_json(os.path.join(study, "rank.json"))
    fig, ax = plt.subplots(figsize=(5.4, 5.0))
    if rows:
        proxy = [float(r["proxy"]) for r in rows]
        best = [float(r["best"]) for r in rows]
        ax.plot(proxy, best, "o", color="tab:blue")
        lo, hi = min(proxy + best), max(proxy + best)
        ax.plot([lo, hi], [lo, hi], "--", color="grey", lw=1, label="y = x (the proxy is the best d)")
        for r, x, y in zip(rows, proxy, best):
            ax.annotate(f'{float(r["m_over_na_target"]):g}/{float(r["n_over_na_target"]):g}',
                        (x, y), fontsize=6, xytext=(3, 2), textcoords="offset points")
    if stats:
        ax.set_title(f'Spearman {stats["spearman"]["value"]:.3f}, Kendall '
                     f'{stats["kendall_tau_b"]["value"]:.3f}, R² {stats["r2"]["value"]:.3f} '
                     f'({stats["n"]} triads)', fontsize=9)
    ax.set_xlabel("loss at the proxy d (near the middle of its interval)")
    ax.set_ylabel("lowest loss over d")
    ax.legend(fontsize=8)
    fig.suptitle("Rank preservation of the d proxy (labels: M/N_a / N/N_a)", fontsize=10)
    save(fig, out_dir, "rank_scatter")


def plot_phase2(study, out_dir):
    runs = [r for r in read_csv(os.path.join(study, "phase2", "results.csv")) if r["status"] == "done"]
    fit = read_json(os.path.join(study, "phase2", "band.json"))
    budgets = sorted({float(r["compute"]) for r in runs})
    fig, axes = plt.subplots(1, max(1, len(budgets)), figsize=(5.2 * max(1, len(budgets)), 4.4),
                             squeeze=False)
    col = colors(budgets)
    for ax, c in zip(axes[0], budgets):
        pts = sorted((num(r, "d_model"), num(r, "val_loss")) for r in runs if same(float(r["compute"]), c))
        xs, ys = zip(*pts)
        ax.plot(xs, ys, "o", color=col[c])
        o = optimum_at(fit, c)
        draw_curve(ax, fit, o, min(xs), max(xs), col[c])
        if o and o["bracketed"]:
            ax.axvspan(o["x_low"], o["x_high"], color=col[c], alpha=0.15, label="within 0.1% of the minimum")
            ax.legend(fontsize=7)
        tri = next(r for r in runs if same(float(r["compute"]), c))
        ax.set_title(f'C = {c:.2g}: M/N_a {float(tri["m_over_na_target"]):.3g}, '
                     f'N/N_a {float(tri["n_over_na_target"]):.3g}', fontsize=9)
        ax.set_xlabel("hidden size d")
        ax.set_ylabel("validation loss (nats)")
    fig.suptitle("Phase 2: d at each optimal triad (quadratic fit, d_opt dotted, band shaded)")
    fig.tight_layout()
    save(fig, out_dir, "phase2_d_sweeps")


def plain_log_ticks(ax):
    """Plain numbers on a log y axis: a few round values across its range."""
    lo, hi = ax.get_ylim()
    steps = [m * 10 ** e for e in range(0, 6) for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8)]
    inside = [t for t in steps if lo <= t <= hi]
    ax.set_yticks(inside[:: max(1, len(inside) // 6)])
    ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())


def draw_edge(ax, optima, law, key, name, color):
    """One of d_l, d_opt, d_r: per budget with its interval, and its power law in C."""
    cs = [o["C"] for o in optima]
    ax.plot(cs, [o[key] for o in optima], "o", color=color, label=name)
    for o in optima:
        ci = o.get(f"{key}_ci") or [None, None]
        if ci[0] is not None:
            ax.plot([o["C"], o["C"]], ci, "_-", color=color, lw=1.2, ms=8)
    if law["fitted"] and cs:
        lo, hi = min(cs) / 1.5, max(cs) * 1.5
        xs = [lo * (hi / lo) ** (i / 50) for i in range(51)]
        ax.plot(xs, [law["k"] * x ** law["a"] for x in xs], "-", color=color, lw=1,
                label=f'{name} = {law["k"]:.3g} C^{law["a"]:.3f}')


def plot_d_band(study, out_dir):
    fit = read_json(os.path.join(study, "phase2", "band.json"))
    fig, ax = plt.subplots(figsize=(6.0, 4.6))
    if fit:
        ok = [o for o in fit["optima"] if o["bracketed"]]
        for key, name, color in (("x_low", "d_l", "tab:blue"), ("x_opt", "d_opt", "tab:red"),
                                 ("x_high", "d_r", "tab:green")):
            draw_edge(ax, ok, fit["laws"][key], key, name, color)
        ax.set_xscale("log")
        ax.set_yscale("log")
        plain_log_ticks(ax)
    ax.set_xlabel("compute C (FLOPs)")
    ax.set_ylabel("hidden size d")
    ax.legend(fontsize=7)
    fig.suptitle("The near-optimal band of d vs compute (bars: 95% CI)", fontsize=10)
    save(fig, out_dir, "d_band_vs_compute")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: plot_holistic.py STUDYDIR")
    study = sys.argv[1]
    out_dir = os.path.join(study, "report")
    os.makedirs(out_dir, exist_ok=True)
    plot_phase1(study, out_dir)
    plot_rank(study, out_dir)
    plot_phase2(study, out_dir)
    plot_d_band(study, out_dir)


if __name__ == "__main__":
    main()
