"""Score: the production model ($KILN_MODEL_CHURN_PRODUCTION,
churn@production) on every batch in incoming/batches/, and the
challenger (churn@challenger, when there is one) beside it, in shadow.

Writes predictions/NAME.csv for each batch (id, probability, prediction)
and scores/batch.csv, the newest batch's probabilities, which the monitor
step compares with the training set's.

The challenger's predictions go to predictions/challenger/vN/NAME.csv
(N: its version), only for batches whose labels have not come back when
it first sees them: live predictions, made before the outcome was known,
so that the monitor compares the two models on live batches alone. A
file written once is kept; predictions/challenger/scored.csv lists them
(version, batch).

With --baseline it scores the data the model learnt from instead
(data/reference.csv, written by the churn pipeline) into
scores/training.csv: the same model's scores, so the comparison holds
whichever version production points at (a gated run, a rollback)."""
import csv
import os
import pickle
import sys

from data import batches, read_batch, read_csv, read_labels


def write(path, header, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    os.replace(path + ".tmp", path)


with open(os.environ["KILN_MODEL_CHURN_PRODUCTION"], "rb") as f:
    model = pickle.load(f)
if "--baseline" in sys.argv[1:]:
    X, _ = read_csv("data/reference.csv")
    p = model.predict_proba(X)[:, 1]
    write("scores/training.csv", ["probability"], [["%.6f" % v] for v in p])
    print("scores/training.csv: %d rows, mean %.3f" % (len(p), p.mean()))
    sys.exit(0)
names = batches()
if not names:
    sys.exit("no batch in incoming/batches/ to score")
for name in names:
    ids, X = read_batch(name)
    p = model.predict_proba(X)[:, 1]
    write("predictions/%s.csv" % name, ["id", "probability", "prediction"],
          [[i, "%.6f" % v, int(v >= 0.5)] for i, v in zip(ids, p)])
    print("predictions/%s.csv: %d rows, mean %.3f" % (name, len(p), p.mean()))
write("scores/batch.csv", ["probability"], [["%.6f" % v] for v in p])
print("scores/batch.csv: batch %s" % names[-1])
os.makedirs("predictions/challenger", exist_ok=True)
shadow = os.environ.get("KILN_MODEL_CHURN_CHALLENGER")
if shadow:
    with open(shadow, "rb") as f:
        challenger = pickle.load(f)
    out = "predictions/challenger/v%s" % os.environ[
        "KILN_MODEL_CHURN_CHALLENGER_VERSION"]
    os.makedirs(out, exist_ok=True)
    for name in names:
        path = "%s/%s.csv" % (out, name)
        if os.path.exists(path) or read_labels(name):
            continue  # scored already, or not live: its outcome is known
        ids, X = read_batch(name)
        p = challenger.predict_proba(X)[:, 1]
        write(path, ["id", "probability", "prediction"],
              [[i, "%.6f" % v, int(v >= 0.5)] for i, v in zip(ids, p)])
        print("%s: %d rows, mean %.3f (challenger)" % (path, len(p), p.mean()))
ledger = sorted((d[1:], f[:-4])
                for d in os.listdir("predictions/challenger") if d[0] == "v"
                for f in os.listdir("predictions/challenger/" + d))
write("predictions/challenger/scored.csv", ["version", "batch"], ledger)
