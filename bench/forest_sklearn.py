"""One whole-process run of scikit-learn's RandomForestClassifier for bench/forest.mjs.

Reads the CSV, takes the first n - ceil(0.4 n) rows for training and the rest for testing (the
same rows as bench/forest_ours.mjs), fits with n_jobs=1, predicts, prints one JSON line.
Usage: python3 bench/forest_sklearn.py CSV [--trees 100] [--depth 10] [--seed 1]
"""

import argparse
import json
import math
import time

t0 = time.perf_counter()

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402

FEATURES = ["age", "income", "response", "events"]
TARGET = "segment"

parser = argparse.ArgumentParser()
parser.add_argument("csv")
parser.add_argument("--trees", type=int, default=100)
parser.add_argument("--depth", default="10")
parser.add_argument("--seed", type=int, default=1)
parser.add_argument("--test-size", type=float, default=0.4)
args = parser.parse_args()

with open(args.csv, encoding="utf-8") as fh:
    header = fh.readline().strip().split(",")
cols = [header.index(name) for name in FEATURES + [TARGET]]
data = np.loadtxt(args.csv, delimiter=",", skiprows=1, usecols=cols, dtype=np.float64, ndmin=2)
t_read = time.perf_counter()

n = data.shape[0]
n_test = math.ceil(n * args.test_size)
n_train = n - n_test
X = data[:, : len(FEATURES)]
y = data[:, len(FEATURES)].astype(np.int64)
X_train, y_train, X_test, y_test = X[:n_train], y[:n_train], X[n_train:], y[n_train:]

model = RandomForestClassifier(
    n_estimators=args.trees,
    max_depth=None if args.depth == "none" else int(args.depth),
    max_features="sqrt",
    bootstrap=True,
    n_jobs=1,
    random_state=args.seed,
)
t_fit0 = time.perf_counter()
model.fit(X_train, y_train)
t_fit = time.perf_counter()
accuracy = float(np.mean(model.predict(X_test) == y_test))
t_pred = time.perf_counter()

print(
    json.dumps(
        {
            "impl": "scikit-learn " + sklearn.__version__,
            "nTrain": int(n_train),
            "nTest": int(n_test),
            "readSeconds": t_read - t0,
            "fitSeconds": t_fit - t_fit0,
            "predictSeconds": t_pred - t_fit,
            "accuracy": accuracy,
            "nodes": int(sum(e.tree_.node_count for e in model.estimators_)),
        }
    )
)
