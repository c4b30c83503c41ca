"""Simulate production sending a batch to score: incoming/batches/NAME.csv,
an id column and the features, no label (the outcome is not known yet).

Usage: batch.py NAME [SHIFT] [--unsure F] [--labels | --labels-only]
  SHIFT    move the rows by this many standard deviations (default 0)
  --unsure replace this share (0..1) of the rows by cases the served
           model (serving/model.pkl) cannot place: mixes of a row of each
           class it scores between 0.4 and 0.6, as a new kind of customer
           would be
  --labels also write NAME.labels.csv (id, label): the outcomes, known
           later; they give live accuracy and join the next retrain
  --labels-only
           write only NAME.labels.csv, for a batch written before with the
           same arguments: its outcomes come back after it was scored
The rows are the held-out part of the data set, as in simulate.py."""
import argparse
import csv
import os

import numpy as np

from data import FEATURES, split

ap = argparse.ArgumentParser()
ap.add_argument("name")
ap.add_argument("shift", nargs="?", type=float, default=0.0)
ap.add_argument("--unsure", type=float, default=0.0)
ap.add_argument("--labels", action="store_true")
ap.add_argument("--labels-only", action="store_true")
args = ap.parse_args()
(X_ref, y_ref), (X, y) = split(int(os.environ.get("KILN_PARAM_SEED", "7")),
                               args.shift)
n = int(round(args.unsure * len(y)))
if n:
    import pickle
    with open("serving/model.pkl", "rb") as f:
        model = pickle.load(f)
    rng = np.random.default_rng(len(args.name))
    a, b = X_ref[y_ref == 0], X_ref[y_ref == 1]
    found = np.empty((0, X.shape[1]))
    while len(found) < n:
        t = rng.uniform(0, 1, (5000, 1))
        mix = (t * a[rng.integers(0, len(a), 5000)]
               + (1 - t) * b[rng.integers(0, len(b), 5000)])
        p = model.predict_proba(mix)[:, 1]
        found = np.vstack([found, mix[(p >= 0.4) & (p <= 0.6)]])
    X = np.vstack([found[:n], X[n:]])
    y = np.r_[(rng.uniform(0, 1, n) < 0.5).astype(int), y[n:]]
os.makedirs("incoming/batches", exist_ok=True)


def write(path, header, rows):
    """Aside (a hidden name, which a data trigger skips), then renamed into
    place: the trigger sees whole files, once."""
    aside = os.path.join(os.path.dirname(path), "." + os.path.basename(path))
    with open(aside, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    os.replace(aside, path)


base = os.path.join("incoming/batches", args.name)
if not args.labels_only:
    write(base + ".csv", ["id"] + list(FEATURES),
          [[i] + ["%.6g" % v for v in row] for i, row in enumerate(X)])
    print("%s.csv: %d rows, shift %g, %d unsure"
          % (base, len(y), args.shift, n))
if args.labels or args.labels_only:
    write(base + ".labels.csv", ["id", "label"],
          [[i, int(label)] for i, label in enumerate(y)])
    print("%s.labels.csv: %d labels" % (base, len(y)))
