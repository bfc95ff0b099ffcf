"""The scikit-learn side of bench/accuracy.mjs, in two commands.

split: the fixed holdout both sides use. scikit-learn's train_test_split(stratify=y, test_size,
  random_state=seed) on the target column; the two CSVs keep the source file's header and row lines
  byte for byte (only their order and grouping change). Also lists the feature columns that are
  constant in the training part (segserve refuses them as features: both sides then leave them out).
    python3 bench/accuracy_sklearn.py split DATA.csv --target T --out-dir DIR [--test-size 0.3] [--seed 0]
fit: RandomForestClassifier(n_estimators, max_features="sqrt", n_jobs=1, random_state) fitted on the
  training CSV, scored on the test CSV (every column but the target and the --drop ones is a numeric
  feature).
    python3 bench/accuracy_sklearn.py fit TRAIN.csv TEST.csv --target T [--drop a,b] [--trees 100] [--seed 0]
Each prints one JSON line.
"""

import argparse
import csv
import json
import os
import sys
import time

t0 = time.perf_counter()

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402


def fail(message):
    print(f"bench/accuracy_sklearn.py: {message}", file=sys.stderr)
    sys.exit(2)


def read(path, target):
    """Header, raw row lines and parsed rows of a CSV without multi-line fields."""
    with open(path, encoding="utf-8", newline="") as fh:
        lines = fh.read().splitlines()
    if not lines:
        fail(f"{path}: empty file")
    rows = list(csv.reader(lines))
    header, body = rows[0], rows[1:]
    if target not in header:
        fail(f"{path}: no column {target!r}; columns are {', '.join(header)}")
    for i, row in enumerate(body):
        if len(row) != len(header):
            fail(f"{path}: line {i + 2} has {len(row)} cells, expected {len(header)}")
    return lines[0], lines[1:], header, body


def xy(path, target, drop):
    _, _, header, body = read(path, target)
    t = header.index(target)
    for name in drop:
        if name not in header:
            fail(f"{path}: --drop names no column {name!r}")
    feats = [j for j in range(len(header)) if j != t and header[j] not in drop]
    try:
        X = np.array([[float(r[j]) for j in feats] for r in body], dtype=np.float64)
    except ValueError as err:
        fail(f"{path}: a feature cell is not a number ({err}); this peer reads numeric features only")
    y = np.array([r[t] for r in body])
    return X, y


parser = argparse.ArgumentParser()
sub = parser.add_subparsers(dest="cmd", required=True)
p_split = sub.add_parser("split")
p_split.add_argument("data")
p_split.add_argument("--target", required=True)
p_split.add_argument("--out-dir", required=True)
p_split.add_argument("--test-size", type=float, default=0.3)
p_split.add_argument("--seed", type=int, default=0)
p_fit = sub.add_parser("fit")
p_fit.add_argument("train")
p_fit.add_argument("test")
p_fit.add_argument("--target", required=True)
p_fit.add_argument("--drop", default="")
p_fit.add_argument("--trees", type=int, default=100)
p_fit.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

if args.cmd == "split":
    head, lines, header, body = read(args.data, args.target)
    t = header.index(args.target)
    y = [r[t] for r in body]
    idx_train, idx_test = train_test_split(
        np.arange(len(body)), test_size=args.test_size, stratify=y, random_state=args.seed
    )
    train_rows = [body[i] for i in idx_train]
    constant = [
        name
        for j, name in enumerate(header)
        if j != t and len({r[j].strip() for r in train_rows}) == 1
    ]
    stem = os.path.splitext(os.path.basename(args.data))[0]
    paths = {}
    for part, idx in (("train", idx_train), ("test", idx_test)):
        paths[part] = os.path.join(args.out_dir, f"{stem}.{part}.csv")
        with open(paths[part], "w", encoding="utf-8", newline="") as fh:
            fh.write(head + "\n")
            fh.writelines(lines[i] + "\n" for i in idx)
    print(
        json.dumps(
            {
                "rows": len(body),
                "train": paths["train"],
                "test": paths["test"],
                "trainRows": int(len(idx_train)),
                "testRows": int(len(idx_test)),
                "classes": len(set(y)),
                "constant": constant,
            }
        )
    )
else:
    drop = [name for name in args.drop.split(",") if name]
    X_train, y_train = xy(args.train, args.target, drop)
    X_test, y_test = xy(args.test, args.target, drop)
    t_read = time.perf_counter()
    model = RandomForestClassifier(
        n_estimators=args.trees, max_features="sqrt", n_jobs=1, random_state=args.seed
    )
    t_fit0 = time.perf_counter()
    model.fit(X_train, y_train)
    t_fit = time.perf_counter()
    accuracy = float(np.mean(model.predict(X_test) == y_test))
    print(
        json.dumps(
            {
                "impl": "scikit-learn " + sklearn.__version__,
                "nTrain": int(len(y_train)),
                "nTest": int(len(y_test)),
                "nFeatures": int(X_train.shape[1]),
                "readSeconds": t_read - t0,
                "fitSeconds": t_fit - t_fit0,
                "testAccuracy": accuracy,
            }
        )
    )
