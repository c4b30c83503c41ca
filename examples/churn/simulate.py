"""Simulate the world sending a new batch: incoming/live.csv, moved by
SHIFT standard deviations (default 0.5). Usage: simulate.py [SHIFT]"""
import os
import sys

from data import split, write_csv

shift = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5
_, (X, y) = split(int(os.environ.get("KILN_PARAM_SEED", "7")), shift)
os.makedirs("incoming", exist_ok=True)
write_csv("incoming/live.csv", X, y)
print("incoming/live.csv: %d rows, shift %g" % (len(y), shift))
