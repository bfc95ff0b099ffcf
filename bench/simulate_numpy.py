#!/usr/bin/env python3
"""The peer of `segserve simulate` for bench/simulate.mjs: a straightforward vectorised numpy version of
the same spec (../shared/SIMULATION.md section 2, segserve's default spec), writing the same CSV format
(header age,income,class,response,segment,events; income with 4 decimals; class from the written value).

    python3 bench/simulate_numpy.py ROWS OUT.csv [SEED]
"""

import sys

import numpy as np

BAND_P = np.array([0.15, 0.40, 0.20, 0.25])
BAND_LO = np.array([16, 25, 50, 61])
BAND_HI = np.array([24, 49, 60, 90])  # exclusive, as numpy's randint
W_YOUNG = np.array([0.1, 0.75, 0.6, 0.8, 0.5, 0.79, 0.3])
W_OLD = np.array([0.2, 0.55, 0.65, 0.7, 0.63, 0.70, 0.4])
P_YOUNG = np.where(np.isin(np.arange(7), [2, 3, 4, 6]), 0.6, 0.4)
P_OLD = np.where(np.isin(np.arange(7), [1, 3, 5]), 0.6, 0.4)


def categorical(rng, p, n):
    """One uniform per draw: the smallest i with u < cumsum(p)[i], the last if rounding leaves none."""
    cum = np.cumsum(p / p.sum())
    return np.minimum(np.searchsorted(cum, rng.random(n), side="right"), len(p) - 1)


def simulate(n, seed):
    rng = np.random.default_rng(seed)
    band = categorical(rng, BAND_P, n)
    age = rng.integers(BAND_LO[band], BAND_HI[band])
    income = np.round(age + np.abs(20.0 + 100.0 * rng.standard_normal(n)), 4)
    older = age >= 50
    events = np.where(older, categorical(rng, W_OLD, n), categorical(rng, W_YOUNG, n))
    p = np.where(older, P_OLD[events], P_YOUNG[events])
    response = (rng.random(n) < p).astype(np.int64)
    t1 = np.select([age < 30, age < 50, age < 60], [200, 150, 75], 150)
    t2 = np.select([age < 30, age < 50, age < 60], [300, 250, 150], 200)
    cls = np.where(income >= t2, 2, np.where(income >= t1, 1, 0))
    segment = np.where(cls == 0, response, 1 + response)
    return age, income, cls, response, segment, events


def main():
    n = int(sys.argv[1])
    out = sys.argv[2]
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 20200413
    age, income, cls, response, segment, events = simulate(n, seed)
    table = np.column_stack([age, income, cls, response, segment, events])
    np.savetxt(
        out,
        table,
        fmt=["%d", "%.4f", "%d", "%d", "%d", "%d"],
        delimiter=",",
        header="age,income,class,response,segment,events",
        comments="",
    )


if __name__ == "__main__":
    main()
