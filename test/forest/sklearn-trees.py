"""Writes sklearn-trees.json: scikit-learn DecisionTreeClassifier trees that segserve's CART must
reproduce exactly. Only configurations whose tree is the same for 20 random_state values are kept
(no ties between features, so the feature draw order cannot matter).

Run from the repository root: /usr/bin/python3 test/forest/sklearn-trees.py (Debian's python3-sklearn).
"""

import json

import numpy as np
import sklearn
from sklearn.tree import DecisionTreeClassifier

n = 60
i = np.arange(n)
x0 = np.floor(((i * 0.6180339887) % 1) * 80) / 8
x1 = np.floor(((i * 0.4142135623) % 1) * 64) / 4
x2 = (i * 3) % 7
y = ((x0 > 4.5).astype(int) + (x1 > 9).astype(int) + ((x2 == 2) & (x0 < 7)).astype(int)) % 3
y[[3, 17, 29, 41]] = (y[[3, 17, 29, 41]] + 1) % 3  # a little label noise
X = np.stack([x0, x1, x2], axis=1).astype(float)
counts = (i * 5) % 4  # bootstrap-like sample counts 0..3, a quarter of the rows left out

out = {
    "sklearn": sklearn.__version__,
    "columns": [x0.tolist(), x1.tolist(), x2.tolist()],
    "y": y.tolist(),
    "counts": counts.tolist(),
    "cases": [],
}
configs = [(None, 1, 2), (3, 1, 2), (None, 3, 2), (None, 1, 8), (2, 1, 2), (4, 2, 5)]
for weighted in (False, True):
    for max_depth, min_leaf, min_split in configs:
        trees = set()
        for rs in range(20):
            model = DecisionTreeClassifier(
                max_depth=max_depth, min_samples_leaf=min_leaf, min_samples_split=min_split, random_state=rs
            ).fit(X, y, sample_weight=counts.astype(float) if weighted else None)
            t = model.tree_
            leaf = t.feature < 0
            trees.add(
                json.dumps(
                    {
                        "feature": np.where(leaf, -1, t.feature).tolist(),
                        "threshold": np.where(leaf, 0.0, t.threshold).tolist(),
                        "left": t.children_left.tolist(),
                        "right": t.children_right.tolist(),
                        "value": t.value.reshape(-1).tolist(),
                        "importances": model.feature_importances_.tolist(),
                    }
                )
            )
        if len(trees) == 1:
            out["cases"].append(
                {
                    "weighted": weighted,
                    "maxDepth": max_depth,
                    "minSamplesLeaf": min_leaf,
                    "minSamplesSplit": min_split,
                    "tree": json.loads(trees.pop()),
                }
            )

with open("test/forest/sklearn-trees.json", "w", encoding="utf-8") as fh:
    json.dump(out, fh)
    fh.write("\n")
print(len(out["cases"]), "cases")
