"""Monitor: what the production model said about the newest batch.

Metrics ($KILN_METRICS, the monitor step's): the distribution of its
predicted probabilities (mean, p10, p25, p50, p75, p90, and hist.0 to
hist.9, the share in each tenth), low_confidence_share (the share with a
probability between params low and high), and, for the newest batch whose
labels came back (incoming/batches/NAME.labels.csv), live_accuracy and
live_auc on its labelled rows (live_labelled: how many). The step's
validation (kind: validate) adds the drift of these scores from the
training set's, as drift.probability.psi.

Champion and challenger, as metrics named after the alias that read each
model (the status page's models view shows them as that version's live
metrics): challenger.live_batches, the live batches the challenger
(churn@challenger) scored in shadow (predictions/challenger/vN/) whose
labels have come back since, challenger.live_auc and
challenger.live_accuracy on their rows, and production.live_auc and
production.live_accuracy on the same rows (without a challenger, on the
newest labelled batch's). The score pipeline's promote and retire steps
decide on them.

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


def live_metrics(pairs):
    """(auc, accuracy) of [(label, probability)]; auc 0 with one class."""
    y = np.array([label for label, _ in pairs])
    s = np.array([v for _, v in pairs])
    auc = float(roc_auc_score(y, s)) if len(set(y)) == 2 else 0.0
    return auc, float(accuracy_score(y, s >= 0.5))


version = os.environ.get("KILN_MODEL_CHURN_CHALLENGER_VERSION", "0")
mine, theirs, counted = [], [], 0
shadow = "predictions/challenger/v%s" % version
for name in names:
    labels = read_labels(name)
    path = "%s/%s.csv" % (shadow, name)
    if version == "0" or not labels or not os.path.exists(path):
        continue
    with open(path, newline="") as f:
        ch = {int(r["id"]): float(r["probability"]) for r in csv.DictReader(f)}
    ids, p = predictions(name)
    prod = dict(zip(ids, p))
    rows = [i for i in ch if i in labels and i in prod]
    mine += [(labels[i], ch[i]) for i in rows]
    theirs += [(labels[i], prod[i]) for i in rows]
    counted += 1
metrics["challenger.live_batches"] = counted
metrics["challenger.live_auc"], metrics["challenger.live_accuracy"] = (
    live_metrics(mine) if mine else (0.0, 0.0))
if not theirs and live:
    theirs = live
metrics["production.live_auc"], metrics["production.live_accuracy"] = (
    live_metrics(theirs) if theirs else (0.0, 0.0))
os.makedirs("labels", exist_ok=True)
with open("labels/queue.csv.tmp", "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["batch", "id", "probability"])
    w.writerows([b, i, "%.6f" % v] for b, i, v in queue)
os.replace("labels/queue.csv.tmp", "labels/queue.csv")
with open(os.environ.get("KILN_METRICS", "reports/monitor.json"), "w") as f:
    json.dump(metrics, f, indent=2)
print("batch %s: %s" % (names[-1], json.dumps(metrics)))
