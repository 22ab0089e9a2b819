"""The ``svm`` classifier before and after PlattSVC, side by side in one run.

Run from the repository root::

    git show 818d578:poseclf/classify/lean_predict.py > /tmp/lean_before.py
    python bench/svm_calibration.py [--before-lean /tmp/lean_before.py] [--repeat 300]

"before" is ``StandardScaler`` + ``CalibratedClassifierCV(SVC, method="sigmoid", cv=3,
ensemble=False)``, as poseclf built it until PlattSVC; "after" is today's ``svm``
(``StandardScaler`` + :class:`~poseclf.classify.calibrated_svc.PlattSVC`), same SVC parameters,
folds and random state. On the committed dev tables (``datasets/*.csv``) it prints:

1. stratified 5-fold accuracy (``bench/accuracy.py``'s protocol: ``cross_validate_model``'s folds,
   mirror images on the training folds), and between the two out-of-fold probabilities the
   largest difference and the share of equal labels;
2. cross-source accuracy (``bench/accuracy.CROSS_SOURCE``: train on one source, test on the
   classes it shares with the other), with the same two comparisons;
3. for models trained like the shipped ones (``models/build.sh``'s tables without the rows of
   ``datasets/exclusions.csv``): milliseconds per single pose of the classifier's
   ``predict_proba`` in scikit-learn and through the lean path. The lean path of the "before"
   model is the one of ``--before-lean`` (a ``lean_predict.py`` of poseclf before PlattSVC, whose
   reader of scikit-learn's private calibration objects today's poseclf no longer has); without
   it, "before" has no lean path, as for an old model file today.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from poseclf.classify import classifiers
from poseclf.classify.classifiers import RANDOM_STATE, SVM_C, SVM_CALIBRATION_CV, SVM_GAMMA
from poseclf.classify.embedding import pose_matrix
from poseclf.classify.evaluation import CV_RANDOM_STATE
from poseclf.classify.lean_predict import lean_predict_proba
from poseclf.classify.model import PoseModel
from poseclf.classify.pose_classifier import PoseClassifier
from poseclf.classify.pose_rows import pose_rows
from poseclf.pose.poses import training_arrays
from poseclf.pose.table import load_table
from poseclf.tables.exclusions import apply_exclusions, load_exclusions

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import CROSS_SOURCE  # noqa: E402 - the bench folder is not a package
from fast_path import per_call_ms  # noqa: E402

DATASETS = Path(__file__).resolve().parents[1] / "datasets"
FOLD_TABLES = ("pushups_visolus", "sitstand_multimediaimg", "sitstand_rhpr", "yoga_manoj",
               "yoga_marchenkova")
SHIPPED = {"pushups": ("pushups_visolus", "pushup_video"),  # models/build.sh
           "sitstand": ("sitstand_multimediaimg", "sitstand_rhpr", "sit_video"),
           "yoga": ("yoga_manoj", "yoga_marchenkova")}


def calibrated_classifier_cv_svm(*, C: float = SVM_C, gamma=SVM_GAMMA, kernel: str = "rbf",
                                 class_weight="balanced", random_state: int = RANDOM_STATE):
    """The ``svm`` classifier as poseclf built it before PlattSVC."""
    return Pipeline([
        ("scale", StandardScaler()),
        ("svc", CalibratedClassifierCV(
            SVC(C=C, gamma=gamma, kernel=kernel, class_weight=class_weight,
                random_state=random_state),
            method="sigmoid", cv=SVM_CALIBRATION_CV, ensemble=False)),
    ])


VERSIONS = {"before": calibrated_classifier_cv_svm, "after": classifiers._BUILDERS["svm"]}


@contextlib.contextmanager
def svm_built_by(builder: Callable):
    """The registry's ``svm`` built by ``builder`` for the time of the block."""
    saved = classifiers._BUILDERS["svm"]
    classifiers._BUILDERS["svm"] = builder
    try:
        yield
    finally:
        classifiers._BUILDERS["svm"] = saved


def arrays(names, exclude: bool = False):
    """Landmarks, sizes and labels of the named tables, stacked (optionally without the rows
    ``datasets/exclusions.csv`` names, as ``models/build.sh`` trains)."""
    parts = []
    for name in names:
        table = load_table(DATASETS / f"{name}.csv")
        if exclude:
            table = apply_exclusions(table, load_exclusions([DATASETS / "exclusions.csv"]),
                                     name)[0]
        lm, sizes, labels = training_arrays(table)
        parts.append((lm, sizes, labels.astype(str)))
    return tuple(np.concatenate(p) for p in zip(*parts, strict=True))


def fold_proba(lm, sizes, labels) -> np.ndarray:
    """Out-of-fold probabilities, as :func:`poseclf.classify.evaluation.cross_validate_model`."""
    folds = min(5, int(np.unique(labels, return_counts=True)[1].min()))
    splitter = StratifiedKFold(folds, shuffle=True, random_state=CV_RANDOM_STATE)
    return cross_val_predict(PoseClassifier("svm", rejection=False), pose_rows(lm, sizes),
                             labels, cv=splitter, method="predict_proba")


def compare(name: str, labels: np.ndarray, classes: np.ndarray, proba: dict) -> None:
    pred = {v: classes[np.argmax(p, axis=1)] for v, p in proba.items()}
    acc = {v: 100 * np.mean(p == labels) for v, p in pred.items()}
    print(f"{name:<26}{acc['before']:8.1f}{acc['after']:8.1f}"
          f"{np.abs(proba['before'] - proba['after']).max():14.2e}"
          f"{100 * np.mean(pred['before'] == pred['after']):12.1f}", flush=True)


def header(title: str) -> None:
    print(f"\n{title}\n{'':<26}{'before':>8}{'after':>8}{'max |dp|':>14}{'same label':>12}")


def fold_table() -> None:
    header("Stratified 5-fold accuracy (%), out-of-fold probabilities compared")
    for name in FOLD_TABLES:
        lm, sizes, labels = arrays([name])
        proba = {}
        for version, builder in VERSIONS.items():
            with svm_built_by(builder):
                proba[version] = fold_proba(lm, sizes, labels)
        compare(name, labels, np.unique(labels), proba)


def cross_source_table() -> None:
    header("Cross-source accuracy (%): train on one source, test on the classes it shares")
    for a, b in CROSS_SOURCE:
        lm_a, s_a, y_a = arrays([a])
        lm_b, s_b, y_b = arrays([b])
        shared = sorted(set(y_a) & set(y_b))
        ka, kb = np.isin(y_a, shared), np.isin(y_b, shared)
        proba = {}
        for version, builder in VERSIONS.items():
            with svm_built_by(builder):
                model = PoseModel.train(lm_a[ka], s_a[ka], y_a[ka], "svm", cv=0,
                                        embedder_params={"world": "off"})
            proba[version] = model.predict_proba(lm_b[kb], s_b[kb])
        compare(f"{a[:11]}>{b[:11]}", y_b[kb], np.asarray(model.classes_), proba)


def load_module(path: Path):
    """A ``lean_predict.py`` of another poseclf version, importing today's other modules."""
    spec = importlib.util.spec_from_file_location("poseclf.classify._lean_before", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def speed_table(before_lean: Path | None, repeat: int) -> None:
    lean_of = {"before": load_module(before_lean).lean_predict_proba if before_lean else None,
               "after": lean_predict_proba}
    print("\nSingle pose: ms per predict_proba of the classifier (embedding excluded), models "
          "trained like the shipped ones;\nin-sample probabilities of the two models compared")
    print(f"{'':<10}{'sklearn before':>15}{'after':>8}{'lean before':>13}{'after':>8}"
          f"{'max |dp|':>11}{'same label':>12}")
    for name, tables in SHIPPED.items():
        lm, sizes, labels = arrays(tables, exclude=True)
        row, proba = {}, {}
        for version, builder in VERSIONS.items():
            with svm_built_by(builder):
                model = PoseModel.train(lm, sizes, labels, "svm", cv=0,
                                        embedder_params={"world": "off"})
            embed, classifier = model.pipeline[:-1], model.pipeline[-1]
            X = embed.transform(pose_matrix(lm, sizes))
            one = X[:1]
            proba[version] = classifier.predict_proba(X)
            row["sklearn", version] = per_call_ms(lambda c=classifier, x=one: c.predict_proba(x),
                                                  repeat)
            lean = lean_of[version](classifier, X[:32]) if lean_of[version] else None
            row["lean", version] = (per_call_ms(lambda f=lean, x=one: f(x), repeat)
                                    if lean is not None else float("nan"))
        classes = np.asarray(model.classes_)
        same = np.mean(classes[proba["before"].argmax(1)] == classes[proba["after"].argmax(1)])
        print(f"{name:<10}{row['sklearn', 'before']:15.3f}{row['sklearn', 'after']:8.3f}"
              f"{row['lean', 'before']:13.3f}{row['lean', 'after']:8.3f}"
              f"{np.abs(proba['before'] - proba['after']).max():11.2e}{100 * same:12.1f}",
              flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before-lean", type=Path, default=None,
                        help="lean_predict.py of poseclf before PlattSVC (times its lean path)")
    parser.add_argument("--repeat", type=int, default=300, help="calls per timing")
    parser.add_argument("--speed-only", action="store_true")
    args = parser.parse_args(argv)
    if not args.speed_only:
        fold_table()
        cross_source_table()
    speed_table(args.before_lean, args.repeat)


if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    main()
