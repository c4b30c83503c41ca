"""Monitor: what the production model said about the newest batch.

Metrics ($KILN_METRICS, the monitor step's): the distribution of its
predicted probabilities (mean, p10, p25, p50, p75, p90, and hist.0 to
hist.9, the share in each tenth), low_confidence_share (the share with a
probability between params low and high), and, for the newest batch whose
labels came back (incoming/batches/NAME.labels.csv), live_accuracy and
live_auc on its labelled rows (live_labelled: how many). The step's
validation (kind: validate) adds the drift of these scores from the
training set's, as drift.probability.psi.

The labelling queue, labels/queue.csv (batch, id, probability): every
low-confidence row of every batch that has no label yet, oldest batch
first; a row leaves it when its label comes back."""
import csv
import json
import os

import numpy as np
from sklearn.metrics import accuracy_score, roc_auc_score

from data import batches, read_labels

low = float(os.environ.get("KILN_PARAM_LOW", "0.4"))
high = float(os.environ.get("KILN_PARAM_HIGH", "0.6"))


def predictions(name):
    with open("predictions/%s.csv" % name, newline="") as f:
        rows = list(csv.DictReader(f))
    return [int(r["id"]) for r in rows], np.array(
        [float(r["probability"]) for r in rows])


names = batches()
queue, live = [], None
for name in names:
    ids, p = predictions(name)
    labels = read_labels(name)
    queue += [(name, i, v) for i, v in zip(ids, p)
              if low <= v <= high and i not in labels]
    known = [(labels[i], v) for i, v in zip(ids, p) if i in labels]
    if known:
        live = known
ids, p = predictions(names[-1])
metrics = {
    "rows": len(p),
    "mean": float(p.mean()),
    "low_confidence_share": float(np.mean((p >= low) & (p <= high))),
    "queue": len(queue),
}
for q in (10, 25, 50, 75, 90):
    metrics["p%d" % q] = float(np.quantile(p, q / 100))
counts, _ = np.histogram(p, bins=10, range=(0, 1))
metrics["hist"] = {str(k): float(c) / len(p) for k, c in enumerate(counts)}
if live:
    y = np.array([label for label, _ in live])
    s = np.array([v for _, v in live])
    metrics["live_labelled"] = len(y)
    metrics["live_accuracy"] = float(accuracy_score(y, s >= 0.5))
    if len(set(y)) == 2:
        metrics["live_auc"] = float(roc_auc_score(y, s))
os.makedirs("labels", exist_ok=True)
with open("labels/queue.csv.tmp", "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["batch", "id", "probability"])
    w.writerows([b, i, "%.6f" % v] for b, i, v in queue)
os.replace("labels/queue.csv.tmp", "labels/queue.csv")
with open(os.environ.get("KILN_METRICS", "reports/monitor.json"), "w") as f:
    json.dump(metrics, f, indent=2)
print("batch %s: %s" % (names[-1], json.dumps(metrics)))
