"""Train: a gradient-boosted classifier on the reference data and half of
the live batch (the other half is held out for evaluate), and the rows of
scored batches whose labels came back (data/labelled.csv). The live and
labelled rows weigh `live_weight` times as much: the newest data says most
about the data the model will see."""
import os
import pickle

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier

from data import halves, read_csv

X_ref, y_ref = read_csv("data/reference.csv")
(X_new, y_new), _ = halves(*read_csv("data/live.csv"))
X_lab, y_lab = read_csv("data/labelled.csv")
X_new, y_new = np.vstack([X_new, X_lab]), np.concatenate([y_new, y_lab])
X, y = np.vstack([X_ref, X_new]), np.concatenate([y_ref, y_new])
model = GradientBoostingClassifier(
    n_estimators=int(os.environ.get("KILN_PARAM_N_ESTIMATORS", "100")),
    max_depth=int(os.environ.get("KILN_PARAM_MAX_DEPTH", "3")),
    learning_rate=float(os.environ.get("KILN_PARAM_LEARNING_RATE", "0.1")),
    random_state=int(os.environ.get("KILN_PARAM_SEED", "7")))
weight = float(os.environ.get("KILN_PARAM_LIVE_WEIGHT", "3"))
model.fit(X, y, sample_weight=np.r_[np.ones(len(y_ref)),
                                    np.full(len(y_new), weight)])
os.makedirs("models", exist_ok=True)
with open("models/model.pkl.tmp", "wb") as f:
    pickle.dump(model, f)
os.replace("models/model.pkl.tmp", "models/model.pkl")
print("trained on %d rows (%d of them live): %s" % (len(y), len(y_new), model))
