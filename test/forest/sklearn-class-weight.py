"""Writes sklearn-class-weight.json: scikit-learn trees fitted with class_weight='balanced' and with
the sample weights of class_weight='balanced_subsample' for one bootstrap sample, which segserve's
trees must reproduce (structure exactly, weighted class counts to 1e-9). Data like
sklearn-trees.py's (values exact in float32), with class 2 made rare; only configurations whose
tree is the same for 20 random_state values are kept (no ties between features, so the feature
draw order cannot matter).

Run from the repository root: /usr/bin/python3 test/forest/sklearn-class-weight.py (Debian's python3-sklearn).
"""

import json

import numpy as np
import sklearn
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.class_weight import compute_sample_weight

n = 90
i = np.arange(n)
x0 = np.floor(((i * 0.6180339887) % 1) * 512) / 64
x1 = np.floor(((i * 0.4142135623) % 1) * 256) / 16
x2 = (i * 3) % 7
y = ((x0 > 4.5).astype(int) + (x1 > 9).astype(int) + ((x2 == 2) & (x0 < 7)).astype(int)) % 3
y[[3, 17, 29, 41]] = (y[[3, 17, 29, 41]] + 1) % 3  # a little label noise
y[(y == 2) & (i % 3 != 0)] = 0  # class 2 made rare: the weights matter
X = np.stack([x0, x1, x2], axis=1).astype(float)
# A bootstrap-like sample: indices with repeats, some rows absent.
indices = (i * 7 + (i * i) % 11) % n
counts = np.bincount(indices, minlength=n)

balanced = compute_sample_weight("balanced", y)
subsample = compute_sample_weight("balanced", y, indices=indices)

out = {
    "sklearn": sklearn.__version__,
    "columns": [x0.tolist(), x1.tolist(), x2.tolist()],
    "y": y.tolist(),
    "counts": counts.tolist(),
    "classWeightBalanced": [float(balanced[y == k][0]) for k in range(3)],
    "classWeightSubsample": [float(subsample[(y == k) & (counts > 0)][0]) for k in range(3)],
    "cases": [],
}
configs = [(None, 1, 2), (3, 1, 2), (None, 3, 2), (2, 1, 2), (4, 2, 5), (None, 2, 6)]
for mode in ("balanced", "balanced_subsample"):
    for max_depth, min_leaf, min_split in configs:
        trees = set()
        for rs in range(20):
            if mode == "balanced":
                model = DecisionTreeClassifier(
                    max_depth=max_depth,
                    min_samples_leaf=min_leaf,
                    min_samples_split=min_split,
                    class_weight="balanced",
                    random_state=rs,
                ).fit(X, y)
            else:
                # What RandomForestClassifier(class_weight='balanced_subsample') gives one tree.
                model = DecisionTreeClassifier(
                    max_depth=max_depth, min_samples_leaf=min_leaf, min_samples_split=min_split, random_state=rs
                ).fit(X, y, sample_weight=counts * subsample)
            t = model.tree_
            leaf = t.feature < 0
            trees.add(
                json.dumps(
                    {
                        "feature": np.where(leaf, -1, t.feature).tolist(),
                        "threshold": np.where(leaf, 0.0, t.threshold).tolist(),
                        "left": t.children_left.tolist(),
                        "right": t.children_right.tolist(),
                        # Rounded: sums of fractional weights differ in the last bits with the
                        # order scikit-learn visits the samples in, which the feature draws change.
                        "value": np.round(t.value.reshape(-1), 9).tolist(),
                    }
                )
            )
        if len(trees) == 1:
            out["cases"].append(
                {
                    "mode": mode,
                    "maxDepth": max_depth,
                    "minSamplesLeaf": min_leaf,
                    "minSamplesSplit": min_split,
                    "tree": json.loads(trees.pop()),
                }
            )

with open("test/forest/sklearn-class-weight.json", "w", encoding="utf-8") as fh:
    json.dump(out, fh)
    fh.write("\n")
print(len(out["cases"]), "cases")
