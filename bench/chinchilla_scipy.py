#!/usr/bin/python3
"""Chinchilla approach 3 in SciPy: the reference the Ceres fit is compared with.

The method of Hoffmann et al. 2022 (appendix D.2) as the published replications implement it
(Besiroglu et al. 2024, "Chinchilla Scaling: A replication attempt"): log L fitted as
LSE(a - alpha log N, b - beta log D, e), objective SUM scipy.special.huber(1e-3, residual),
scipy.optimize.minimize(method="L-BFGS-B") from every start of the grid alpha, beta in
{0, 0.5, ..., 2}, e in {-1, -0.5, ..., 1}, a, b in {0, 5, ..., 25} (4500 starts); the lowest
objective wins.

--gradient numeric: no jac, so L-BFGS-B uses finite differences (what the replications do).
--gradient analytic: the exact gradient of the same objective (a faster, stricter baseline).

usage: chinchilla_scipy.py POINTS.csv --gradient numeric|analytic
prints one JSON object: objective, params (E, A, B, alpha, beta), seconds, n_starts.
"""
import argparse
import itertools
import json
import time

import numpy as np
from scipy.optimize import minimize
from scipy.special import huber, logsumexp

DELTA = 1e-3


def load(path):
    data = np.genfromtxt(path, delimiter=",", names=True)
    return np.log(data["params_active"]), np.log(data["tokens"]), np.log(data["val_loss"])


def objective(p, log_n, log_d, log_l):
    e, a, b, alpha, beta = p
    terms = np.stack([a - alpha * log_n, b - beta * log_d, np.full_like(log_n, e)])
    return np.sum(huber(DELTA, logsumexp(terms, axis=0) - log_l))


def objective_and_gradient(p, log_n, log_d, log_l):
    e, a, b, alpha, beta = p
    terms = np.stack([a - alpha * log_n, b - beta * log_d, np.full_like(log_n, e)])
    lse = logsumexp(terms, axis=0)
    r = lse - log_l
    weights = np.exp(terms - lse)  # d LSE / d term
    dh = np.clip(r, -DELTA, DELTA)  # d Huber / d r
    grad = np.array([
        np.sum(dh * weights[2]),
        np.sum(dh * weights[0]),
        np.sum(dh * weights[1]),
        -np.sum(dh * weights[0] * log_n),
        -np.sum(dh * weights[1] * log_d),
    ])
    return np.sum(huber(DELTA, r)), grad


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("points")
    parser.add_argument("--gradient", choices=["numeric", "analytic"], required=True)
    args = parser.parse_args()
    log_n, log_d, log_l = load(args.points)
    grid = itertools.product([-1, -0.5, 0, 0.5, 1], range(0, 30, 5), range(0, 30, 5),
                             [0, 0.5, 1, 1.5, 2], [0, 0.5, 1, 1.5, 2])
    start = time.perf_counter()
    best, n_starts = None, 0
    for x0 in grid:
        x0 = np.array(x0, dtype=float)
        if args.gradient == "numeric":
            res = minimize(objective, x0, args=(log_n, log_d, log_l), method="L-BFGS-B")
        else:
            res = minimize(objective_and_gradient, x0, args=(log_n, log_d, log_l), jac=True,
                           method="L-BFGS-B")
        n_starts += 1
        if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
            best = res
    seconds = time.perf_counter() - start
    e, a, b, alpha, beta = best.x
    print(json.dumps({
        "objective": float(best.fun),
        "params": {"E": float(np.exp(e)), "A": float(np.exp(a)), "B": float(np.exp(b)),
                   "alpha": float(alpha), "beta": float(beta)},
        "seconds": seconds,
        "n_starts": n_starts,
        "gradient": args.gradient,
    }))


if __name__ == "__main__":
    main()
