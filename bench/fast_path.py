"""One pose through each shipped model's classifier, three ways, side by side in one run.

Run from the repository root::

    python bench/fast_path.py [--repeat 300]

Prints milliseconds per pose of the fitted classifier's ``predict_proba`` on one embedded pose
(a) as scikit-learn runs it, (b) inside ``sklearn.config_context(assume_finite=True,
skip_parameter_validation=True)``, and (c) through poseclf's lean path
(:func:`poseclf.classify.lean_predict.lean_predict_proba`), and the ratios (a)/(c) and (b)/(c):
whether scikit-learn's own switches make the lean path unnecessary. Needs only the shipped models
and the shipped push-up table (no ../shared).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import sklearn

from poseclf.classify.embedding import pose_matrix
from poseclf.classify.lean_predict import lean_predict_proba
from poseclf.classify.model import PoseModel
from poseclf.pose.poses import training_arrays
from poseclf.pose.table import load_table

TABLE = Path(__file__).resolve().parents[1] / "datasets" / "pushups_visolus.csv"


def per_call_ms(call: Callable[[], object], repeat: int) -> float:
    """Best of three timings of ``repeat`` calls, in ms per call."""
    call()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeat):
            call()
        best = min(best, (time.perf_counter() - start) / repeat * 1e3)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=300, help="calls per timing")
    args = parser.parse_args()
    landmarks, sizes, _ = training_arrays(load_table(TABLE))
    for name in ("pushups", "sitstand", "yoga"):
        model = PoseModel.load(name)
        embed, classifier = model.pipeline[:-1], model.pipeline[-1]
        one = embed.transform(pose_matrix(landmarks[:1], sizes[:1]))
        lean = lean_predict_proba(classifier, embed.transform(pose_matrix(landmarks[:4],
                                                                           sizes[:4])))
        plain = per_call_ms(lambda c=classifier, x=one: c.predict_proba(x), args.repeat)
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            switched = per_call_ms(lambda c=classifier, x=one: c.predict_proba(x), args.repeat)
        if lean is None:
            print(f"{name}: no lean path for {type(classifier).__name__}")
            continue
        fast = per_call_ms(lambda f=lean, x=one: f(x), args.repeat)
        print(f"{name:9s} sklearn {plain:.3f} ms   sklearn+switches {switched:.3f} ms   "
              f"lean {fast:.3f} ms   ratios {plain / fast:.1f}x and {switched / fast:.1f}x")


if __name__ == "__main__":
    main()
