"""Ingest: the reference data set and the live batch, as CSV.

The data is scikit-learn's bundled breast cancer (Wisconsin) set, standing
in for a churn table: six numeric features and a binary label. Nothing is
downloaded. Shuffled with the seed, the first 60% is the reference the
production model learnt from (data/reference.csv); the rest is the live
batch (data/live.csv).
Labelled rows of scored batches (incoming/batches/NAME.labels.csv beside
NAME.csv, see score.yaml) go to data/labelled.csv.

The live batch is the newest data the world sent: incoming/live.csv when
there is one (see simulate.py), else the held-out 40% moved by `shift`
standard deviations, to simulate drift from the command line.
"""
import os
import shutil

import numpy as np

from data import FEATURES, batches, read_batch, read_labels, split, write_csv

shift = float(os.environ.get("KILN_PARAM_SHIFT", "0"))
seed = int(os.environ.get("KILN_PARAM_SEED", "7"))
(X_ref, y_ref), (X_live, y_live) = split(seed, shift)
os.makedirs("data", exist_ok=True)
write_csv("data/reference.csv", X_ref, y_ref)
if os.path.exists("incoming/live.csv"):
    shutil.copyfile("incoming/live.csv", "data/live.csv.tmp")
    os.replace("data/live.csv.tmp", "data/live.csv")
    print("live batch: incoming/live.csv")
else:
    write_csv("data/live.csv", X_live, y_live)
    print("live batch: the held-out rows, shift %g" % shift)
# Rows of scored batches whose labels came back (the score pipeline's
# labelling queue, or outcomes known later): data/labelled.csv, which
# train.py learns from too.
X_lab, y_lab = [], []
for name in batches():
    labels = read_labels(name)
    if labels:
        ids, X = read_batch(name)
        X_lab += [x for i, x in zip(ids, X) if i in labels]
        y_lab += [labels[i] for i in ids if i in labels]
write_csv("data/labelled.csv", np.array(X_lab).reshape(-1, len(FEATURES)),
          y_lab)
print("labelled: %d rows from incoming/batches/" % len(y_lab))
print("reference: %d rows, features: %s" % (len(y_ref), ", ".join(FEATURES)))
