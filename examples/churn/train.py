"""Train: a gradient-boosted classifier on the reference data and half of
the live batch (the other half is held out for evaluate), and the rows of
scored batches whose labels came back (data/labelled.csv). The live and
labelled rows weigh `live_weight` times as much: the newest data says most
about the data the model will see.

One item of the sweep: max_depth and learning_rate come from the item
(KILN_PARAM_*), the model goes to models/model-DEPTH-RATE.pkl, and its
validation metrics (a fifth of the rows, held out here) to
reports/train-DEPTH-RATE.json, which kiln records and the pick step ranks
by val_auc."""
import json
import os
import pickle

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import accuracy_score, roc_auc_score

from data import halves, read_csv

X_ref, y_ref = read_csv("data/reference.csv")
(X_new, y_new), _ = halves(*read_csv("data/live.csv"))
X_lab, y_lab = read_csv("data/labelled.csv")
X_new, y_new = np.vstack([X_new, X_lab]), np.concatenate([y_new, y_lab])
X, y = np.vstack([X_ref, X_new]), np.concatenate([y_ref, y_new])
weight = float(os.environ.get("KILN_PARAM_LIVE_WEIGHT", "3"))
w = np.r_[np.ones(len(y_ref)), np.full(len(y_new), weight)]
seed = int(os.environ.get("KILN_PARAM_SEED", "7"))
depth = os.environ.get("KILN_PARAM_MAX_DEPTH", "3")
rate = os.environ.get("KILN_PARAM_LEARNING_RATE", "0.1")
val = np.random.default_rng(seed).random(len(y)) < 0.2
model = GradientBoostingClassifier(
    n_estimators=int(os.environ.get("KILN_PARAM_N_ESTIMATORS", "100")),
    max_depth=int(depth), learning_rate=float(rate), random_state=seed)
model.fit(X[~val], y[~val], sample_weight=w[~val])
metrics = {
    "val_auc": float(roc_auc_score(y[val], model.predict_proba(X[val])[:, 1])),
    "val_accuracy": float(accuracy_score(y[val], model.predict(X[val]))),
}
name = "%s-%s" % (depth, rate)
os.makedirs("models", exist_ok=True)
os.makedirs("reports", exist_ok=True)
with open("models/model-%s.pkl.tmp" % name, "wb") as f:
    pickle.dump(model, f)
os.replace("models/model-%s.pkl.tmp" % name, "models/model-%s.pkl" % name)
with open("reports/train-%s.json" % name, "w") as f:
    json.dump(metrics, f, indent=2)
print("trained on %d rows (%d of them live), validated on %d: %s %s"
      % ((~val).sum(), len(y_new), val.sum(), model, metrics))
