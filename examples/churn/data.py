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
    data = np.array(rows[1:], dtype=float)
    return data[:, :-1], data[:, -1].astype(int)


def halves(X, y):
    """The live batch's even rows (learnt from) and odd rows (held out)."""
    return (X[0::2], y[0::2]), (X[1::2], y[1::2])
