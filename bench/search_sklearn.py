"""The scikit-learn peer of bench/search.mjs: the post's randomized search, or one fixed forest.

    /usr/bin/python3 bench/search_sklearn.py search CSV [N_JOBS]   -> the post's search (n_iter 100, cv 3)
    /usr/bin/python3 bench/search_sklearn.py fixed CSV PARAMS_JSON -> one forest; prints its joblib size

Prints one JSON line. Same CSV, same 60/40 split sizes and the same space as segserve's defaults.
"""
import io
import json
import sys
import time

import joblib
import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import RandomizedSearchCV, train_test_split
from sklearn.preprocessing import OrdinalEncoder

FEATURES = ["age", "income", "response", "events"]

mode, path = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
data = np.genfromtxt(path, delimiter=",", names=True)
X = np.column_stack([data[f] for f in FEATURES]).astype(float)
y = data["segment"].astype(int)
X[:, 2:] = OrdinalEncoder().fit_transform(X[:, 2:])
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.4, random_state=23)
t_read = time.perf_counter()

if mode == "search":
    n_jobs = int(sys.argv[3]) if len(sys.argv) > 3 else -1
    space = {
        "n_estimators": [50, 62, 75, 87, 100],
        "max_depth": [3, 4, 6, 8, 10, None],
        "min_samples_split": [2, 4],
        "min_samples_leaf": [1, 2, 4],
        "bootstrap": [True, False],
    }
    search = RandomizedSearchCV(
        RandomForestClassifier(max_features="sqrt"), space, n_iter=100, cv=3, scoring="accuracy",
        random_state=42, n_jobs=n_jobs,
    )
    search.fit(X_train, y_train)
    model = search.best_estimator_
    extra = {"cvScore": float(search.best_score_), "params": search.best_params_}
else:
    params = json.loads(sys.argv[3])
    model = RandomForestClassifier(**params, random_state=0, n_jobs=1).fit(X_train, y_train)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    extra = {"joblibBytes": buffer.getbuffer().nbytes, "nodes": int(sum(t.tree_.node_count for t in model.estimators_))}
seconds = time.perf_counter() - t_read
print(json.dumps({"seconds": seconds, "readSeconds": t_read - t0, "testAccuracy": float(model.score(X_test, y_test)), **extra}))
