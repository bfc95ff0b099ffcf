"""Writes sklearn-metrics.json: scikit-learn's values of the scorers (src/search/scoring.ts) and of
the holdout evaluation (src/search/evaluate.ts) on small random cases: ties in the probabilities (vote
fractions of a few trees), ties for the predicted class, a class with no true rows that is predicted, a
class never predicted, a class absent from both, a zero probability for a true class.

The predicted class is numpy's argmax of the probabilities (the first maximum wins), as segserve's.
roc_auc: the binary case is roc_auc_score of the second column; the multiclass case is
roc_auc_score(multi_class="ovr", average="macro"), except where a class has no true rows (scikit-learn
raises there; segserve averages the classes whose one-vs-rest AUC is defined, each such AUC still
computed by scikit-learn's binary roc_auc_score).

Run from the repository root: /usr/bin/python3 test/search/sklearn-metrics.py (Debian's python3-sklearn),
then npx biome format --write test/search/sklearn-metrics.json.
"""

import json

import numpy as np
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.dummy import DummyClassifier
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    get_scorer,
    log_loss,
    mean_absolute_error,
    precision_recall_fscore_support,
    roc_auc_score,
)

rng = np.random.default_rng(9)


def votes(y, k, trees, skill):
    """Vote fractions of `trees` trees that each vote the true class with probability `skill`."""
    n = len(y)
    counts = np.zeros((n, k))
    for _ in range(trees):
        right = rng.random(n) < skill
        vote = np.where(right, y, rng.integers(0, k, n))
        counts[np.arange(n), vote] += 1
    return counts / trees


def dirichlet(y, k, boost):
    p = rng.dirichlet(np.ones(k), len(y))
    p[np.arange(len(y)), y] += boost
    return p / p.sum(axis=1, keepdims=True)


cases = []


def add(name, y, proba, labels=None, y_train=None):
    k = proba.shape[1]
    labels = list(range(k)) if labels is None else labels
    cases.append({"name": name, "y": y, "proba": proba, "labels": labels, "yTrain": y_train})


y = rng.integers(0, 2, 50)
add("binary, vote fractions of 10 trees (tied scores)", y, votes(y, 2, 10, 0.2))
y = rng.integers(0, 3, 60)
add("3 classes, vote fractions of 4 trees (tied argmax)", y, votes(y, 3, 4, 0.5), labels=[0, 1, 2])
y = rng.integers(0, 4, 80)
add("4 classes, continuous, labels 1 3 7 10", y, dirichlet(y, 4, 0.4), labels=[1, 3, 7, 10])
y = (rng.random(30) < 0.1).astype(int)
y[:3] = 1
add("binary, 3 positives of 30, continuous", y, dirichlet(y, 2, 0.3))
# 5 classes: class 2 has no true rows but is predicted, class 3 has true rows but is never predicted,
# class 4 is absent from both; one true class has probability 0.
y = rng.choice([0, 1, 3], 40)
p = votes(np.where(y == 3, 2, y), 5, 5, 0.7)
p[:, 3] = 0.0
p[:, 4] = 0.0
p[:, 0] += 0.01
p /= p.sum(axis=1, keepdims=True)
add("5 classes: one only predicted, one never predicted, one absent", y, p, y_train=rng.choice([0, 1, 3, 3], 90))
y = np.array([0, 1, 2, 2, 1, 0, 2])
add("3 classes, perfect one-hot; training majority tied", y, np.eye(3)[y], y_train=np.array([2, 1, 1, 2, 0]))


class Fixed(ClassifierMixin, BaseEstimator):
    """An 'estimator' answering fixed probabilities, to run scikit-learn's named scorers."""

    def __init__(self, proba, classes):
        self.proba = proba
        self.classes_ = np.asarray(classes)

    def fit(self, X, y):
        return self

    def predict_proba(self, X):
        return self.proba

    def predict(self, X):
        return self.classes_[np.argmax(self.proba, axis=1)]


out = {"sklearn": sklearn.__version__, "cases": []}
for case in cases:
    y, p, labels = case["y"], case["proba"], np.asarray(case["labels"])
    k = p.shape[1]
    pred = np.argmax(p, axis=1)
    present = [c for c in range(k) if 0 < np.sum(y == c) < len(y)]
    if k == 2:
        auc = roc_auc_score(y, p[:, 1])
    elif len(present) == k:
        auc = roc_auc_score(y, p, multi_class="ovr", average="macro")
    else:
        auc = float(np.mean([roc_auc_score(y == c, p[:, c]) for c in present]))
    scores = {
        "accuracy": accuracy_score(y, pred),
        "neg_mean_absolute_error": -mean_absolute_error(labels[y], labels[pred]),
        "neg_log_loss": -log_loss(y, p, labels=list(range(k))),
        "balanced_accuracy": balanced_accuracy_score(y, pred),
        "f1_macro": f1_score(y, pred, average="macro"),
        "roc_auc": auc,
    }
    # Where every class has true rows, scikit-learn's named scorers must agree (the names mean the same).
    if len(np.unique(y)) == k:
        est = Fixed(p, labels)
        X = np.zeros((len(y), 1))
        for name in scores:
            sk_name = "roc_auc_ovr" if name == "roc_auc" and k > 2 else name
            got = get_scorer(sk_name)(est, X, labels[y])
            assert abs(got - scores[name]) < 1e-12, (case["name"], name, got, scores[name])
    prec, rec, f1, support = precision_recall_fscore_support(y, pred, labels=list(range(k)), zero_division=0)
    y_train = y if case["yTrain"] is None else case["yTrain"]
    dummy = DummyClassifier(strategy="most_frequent").fit(np.zeros((len(y_train), 1)), y_train)
    out["cases"].append(
        {
            "name": case["name"],
            "classes": [int(v) for v in labels],
            "y": y.tolist(),
            "proba": p.ravel().tolist(),
            "yTrain": None if case["yTrain"] is None else y_train.tolist(),
            "scores": {name: float(v) for name, v in scores.items()},
            "evaluation": {
                "accuracy": float(accuracy_score(y, pred)),
                "balancedAccuracy": float(balanced_accuracy_score(y, pred)),
                "macroF1": float(f1_score(y, pred, average="macro")),
                "confusionMatrix": confusion_matrix(y, pred, labels=list(range(k))).tolist(),
                "perClass": [
                    {"precision": float(a), "recall": float(b), "f1": float(c), "support": int(d)}
                    for a, b, c, d in zip(prec, rec, f1, support)
                ],
                "majorityBaseline": {
                    "classIndex": int(dummy.predict(np.zeros((1, 1)))[0]),
                    "accuracy": float(dummy.score(np.zeros((len(y), 1)), y)),
                },
            },
        }
    )

with open("test/search/sklearn-metrics.json", "w", encoding="utf-8") as fh:
    json.dump(out, fh)
    fh.write("\n")
print(f"wrote {len(out['cases'])} cases (scikit-learn {sklearn.__version__})")
