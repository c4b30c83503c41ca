"""Evaluate: the new model on the held-out half of the live batch, and the
production model on the same rows.

Writes accuracy, auc and f1 of the new model, and production_accuracy
and production_auc of the model the registry's production alias points at
(0 when there is none), has_production (1 or 0) and same_as_production
(1 when the new model's bytes are production's: nothing new to try),
to reports/metrics.json (the step's metrics file), so the deploy gate can
compare them.
"""
import filecmp
import json
import os
import pickle

from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from data import halves, read_csv


def auc(model, X, y):
    return float(roc_auc_score(y, model.predict_proba(X)[:, 1]))


_, (X, y) = halves(*read_csv("data/live.csv"))
with open("models/model.pkl", "rb") as f:
    model = pickle.load(f)
pred = model.predict(X)
metrics = {
    "accuracy": float(accuracy_score(y, pred)),
    "auc": auc(model, X, y),
    "f1": float(f1_score(y, pred)),
    "production_accuracy": 0.0,
    "production_auc": 0.0,
    "has_production": 0,
    "same_as_production": 0,
}
production = os.environ.get("KILN_MODEL_CHURN_PRODUCTION")
if production and os.path.exists(production):
    with open(production, "rb") as f:
        current = pickle.load(f)
    metrics["production_accuracy"] = float(accuracy_score(y, current.predict(X)))
    metrics["production_auc"] = auc(current, X, y)
    metrics["has_production"] = 1
    metrics["same_as_production"] = int(
        filecmp.cmp("models/model.pkl", production, shallow=False))
os.makedirs("reports", exist_ok=True)
with open("reports/metrics.json", "w") as f:
    json.dump(metrics, f, indent=2)
print(json.dumps(metrics, indent=2))
