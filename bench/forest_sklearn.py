"""One whole-process run of scikit-learn's RandomForestClassifier for bench/forest.mjs.

fit: reads the encoded train and test CSVs (forest_data.mjs: f0..f{d-1},y; nan = missing), fits
with n_jobs=1, times predict_proba on every test row: the first call (firstPredictSeconds) and then
--predict-calls more in the same process (predictSeconds: their median), prints one JSON line.
    python3 bench/forest_sklearn.py fit TRAIN.csv TEST.csv [--trees 100] [--depth none|10] [--seed 1]
        [--predict-calls 5]
train: the peer of `segserve train --no-search` for the peak-memory comparison: reads a CSV with a
header (every column but --target a numeric feature), holds out the last --test-size of the rows,
fits, scores predict_proba on the held-out rows and pickles the model to --out.
    python3 bench/forest_sklearn.py train DATA.csv --target y --out MODEL.pkl [--trees 100]
"""

import argparse
import json
import math
import pickle
import time

import numpy as np
import sklearn
from sklearn.ensemble import RandomForestClassifier

parser = argparse.ArgumentParser()
sub = parser.add_subparsers(dest="cmd", required=True)
fit_p = sub.add_parser("fit")
fit_p.add_argument("train")
fit_p.add_argument("test")
fit_p.add_argument("--predict-calls", type=int, default=5)
train_p = sub.add_parser("train")
train_p.add_argument("data")
train_p.add_argument("--target", required=True)
train_p.add_argument("--out", required=True)
train_p.add_argument("--test-size", type=float, default=0.4)
for p in (fit_p, train_p):
    p.add_argument("--trees", type=int, default=100)
    p.add_argument("--depth", default="none")
    p.add_argument("--seed", type=int, default=1)
args = parser.parse_args()


def model():
    return RandomForestClassifier(
        n_estimators=args.trees,
        max_depth=None if args.depth == "none" else int(args.depth),
        max_features="sqrt",
        bootstrap=True,
        n_jobs=1,
        random_state=args.seed,
    )


if args.cmd == "fit":
    train = np.loadtxt(args.train, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    test = np.loadtxt(args.test, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    X_train, y_train = train[:, :-1], train[:, -1].astype(np.int64)
    X_test, y_test = test[:, :-1], test[:, -1].astype(np.int64)
    m = model()
    t0 = time.perf_counter()
    m.fit(X_train, y_train)
    t1 = time.perf_counter()
    proba = m.predict_proba(X_test)
    t2 = time.perf_counter()
    warm = []
    for _ in range(max(1, args.predict_calls)):
        s0 = time.perf_counter()
        m.predict_proba(X_test)
        warm.append(time.perf_counter() - s0)
    accuracy = float(np.mean(m.classes_[np.argmax(proba, axis=1)] == y_test))
    print(
        json.dumps(
            {
                "impl": "scikit-learn " + sklearn.__version__,
                "nTrain": int(X_train.shape[0]),
                "nTest": int(X_test.shape[0]),
                "fitSeconds": t1 - t0,
                "firstPredictSeconds": t2 - t1,
                "predictSeconds": float(np.median(warm)),
                "accuracy": accuracy,
                "nodes": int(sum(e.tree_.node_count for e in m.estimators_)),
            }
        )
    )
else:
    with open(args.data, encoding="utf-8") as fh:
        header = fh.readline().strip().split(",")
    target = header.index(args.target)
    data = np.loadtxt(args.data, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    y = data[:, target].astype(np.int64)
    X = np.delete(data, target, axis=1)
    del data
    n = X.shape[0]
    n_test = math.ceil(n * args.test_size)
    m = model()
    t0 = time.perf_counter()
    m.fit(X[: n - n_test], y[: n - n_test])
    t1 = time.perf_counter()
    proba = m.predict_proba(X[n - n_test :])
    accuracy = float(np.mean(m.classes_[np.argmax(proba, axis=1)] == y[n - n_test :]))
    with open(args.out, "wb") as fh:
        pickle.dump(m, fh, protocol=pickle.HIGHEST_PROTOCOL)
    print(json.dumps({"fitSeconds": t1 - t0, "accuracy": accuracy, "rows": int(n)}))
