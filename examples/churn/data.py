"""The example's data: scikit-learn's breast cancer set as CSV files."""
import csv
import os

import numpy as np
from sklearn.datasets import load_breast_cancer

FEATURES = {  # column in the CSV -> feature in the data set
    "radius": "mean radius",
    "texture": "mean texture",
    "smoothness": "mean smoothness",
    "compactness": "mean compactness",
    "concavity": "mean concavity",
    "symmetry": "mean symmetry",
}


def split(seed, shift):
    """(reference X, y), (live X, y): 60/40, the live part moved by shift
    reference standard deviations."""
    data = load_breast_cancer()
    names = list(data.feature_names)
    X = data.data[:, [names.index(f) for f in FEATURES.values()]]
    y = data.target
    order = np.random.default_rng(seed).permutation(len(y))
    X, y = X[order], y[order]
    cut = int(len(y) * 0.6)
    live = X[cut:] + shift * X[:cut].std(axis=0)
    return (X[:cut], y[:cut]), (live, y[cut:])


def write_csv(path, X, y):
    """Write atomically: a drift trigger never reads half a file."""
    with open(path + ".tmp", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(list(FEATURES) + ["label"])
        for row, label in zip(X, y):
            w.writerow(["%.6g" % v for v in row] + [int(label)])
    os.replace(path + ".tmp", path)


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    data = np.array(rows[1:], dtype=float).reshape(-1, len(rows[0]))
    return data[:, :-1], data[:, -1].astype(int)


def halves(X, y):
    """The live batch's even rows (learnt from) and odd rows (held out)."""
    return (X[0::2], y[0::2]), (X[1::2], y[1::2])


BATCHES = "incoming/batches"


def batches():
    """The batch names in incoming/batches/, oldest first (names sort by
    arrival: b001, b002, or timestamps)."""
    if not os.path.isdir(BATCHES):
        return []
    return sorted(f[:-4] for f in os.listdir(BATCHES)
                  if f.endswith(".csv") and not f.endswith(".labels.csv"))


def read_batch(name):
    """(ids, X) of incoming/batches/NAME.csv: an id column, the features."""
    with open(os.path.join(BATCHES, name + ".csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    ids = [int(r["id"]) for r in rows]
    X = np.array([[float(r[c]) for c in FEATURES] for r in rows]).reshape(
        -1, len(FEATURES))
    return ids, X


def read_labels(name):
    """{id: label} of incoming/batches/NAME.labels.csv ({} when none)."""
    path = os.path.join(BATCHES, name + ".labels.csv")
    if not os.path.exists(path):
        return {}
    with open(path, newline="") as f:
        return {int(r["id"]): int(r["label"]) for r in csv.DictReader(f)}
