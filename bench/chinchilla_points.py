#!/usr/bin/python3
"""Writes the benchmark's 250 loss points as CSV, deterministically.

IsoFLOP design: 10 budgets C = 1e18 ... 3.2e22 (half decades) x 25 model sizes N each, spread
over 2.4 decades around the budget's optimum, D = C / (6 N). Loss from Chinchilla's published
law (E 1.69, A 406.4, B 410.7, alpha 0.34, beta 0.28) times exp(0.01 * normal), and 5 points
(every 50th) raised by 15% as outliers. numpy's PCG64 with seed 2024: the same file on every
machine with numpy >= 1.17.

usage: chinchilla_points.py OUT.csv
"""
import sys

import numpy as np


def main():
    rng = np.random.default_rng(2024)
    rows = []
    for c in range(10):
        compute = 10 ** (18 + 0.5 * c)
        for i in range(25):
            n = 10 ** (7.5 + 0.25 * c + 2.4 * i / 24)
            d = compute / (6 * n)
            loss = 1.69 + 406.4 / n**0.34 + 410.7 / d**0.28
            loss *= np.exp(0.01 * rng.standard_normal())
            if len(rows) % 50 == 49:
                loss *= 1.15
            rows.append((n, d, loss))
    with open(sys.argv[1], "w") as f:
        f.write("params_active,tokens,val_loss\n")
        for n, d, loss in rows:
            f.write(f"{n!r},{d!r},{loss!r}\n")


if __name__ == "__main__":
    main()
