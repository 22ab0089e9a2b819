"""The three rejection protocols of the "unknown and partial that hold" issue, on the shipped
landmark tables (``datasets/``), in one run.

Run from the repository root (no photos needed: the tables are poseclf's own extraction)::

    python bench/rejection_protocols.py [--classifier knn] [--world-features only] [--no-negatives]

Models are trained as ``poseclf train`` trains them by default (world landmarks, the shipped
everyday negatives, ``datasets/exclusions.csv`` applied), except that the negatives never hold
a source that is measured (``Negatives.without``) nor, for leave-classes-out, the left-out
classes of any source: a measured photo is never also a negative.

1. **Leave-one-source-out**: train on one source, share of the other source's poses of the
   same classes accepted (target >= 97% in every pair, the whole rule counted).
2. **Raw folder**: a push-up model trained on the push-up table without review, share of the
   sit/stand and yoga poses rejected (targets: >= 90% of standing and sitting people, >= 85% of
   yoga photos).
3. **Leave-classes-out**: a yoga model trained without 4 of its classes; share of the poses of
   those 4 answered ``unknown`` (target >= 50%) and 5-fold in-class acceptance of the others
   (target >= 97%).

Each line prints the whole rule, then its parts alone: ``unknown`` (the novelty against each
pose's threshold: the ratio and per-class rules of the negatives included), the threshold only
(the calibrated novelty threshold, floored by the negatives, without those two rules) and
``partial``. ``--no-negatives`` gives the figures of the rule before negatives.
``--variants`` adds a line under each: other novelty scores on the same models and folds
(``bench/novelty_variants.py``), ``whole/unknown`` for each. ``--views``, ``--view-pitch``,
``--world-features`` and ``--novelty-views`` train the models with those options of ``poseclf
train``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from poseclf.classify.defaults import DEFAULT_CLASSIFIER, DEFAULT_WORLD_FEATURES, WORLD_MODES
from poseclf.classify.model import PoseModel
from poseclf.classify.negatives import Negatives, everyday_negatives, negatives_from_frames
from poseclf.pose.poses import Poses
from poseclf.pose.table import load_table
from poseclf.tables.exclusions import apply_exclusions, load_exclusions

try:
    from novelty_variants import VARIANTS, Variants
except ImportError:  # imported as bench.rejection_protocols
    from bench.novelty_variants import VARIANTS, Variants

REPO = Path(__file__).resolve().parents[1]
TABLES = REPO / "datasets"
PUSHUPS = ("pushups_visolus", "pushup_video")
SITSTAND = ("sitstand_rhpr", "sitstand_multimediaimg", "sit_video")
YOGA = ("yoga_manoj", "yoga_marchenkova")
#: (train source, measured source): same classes, another source.
PAIRS = [("yoga_manoj", "yoga_marchenkova"), ("yoga_marchenkova", "yoga_manoj"),
         ("sitstand_rhpr", "sitstand_multimediaimg"), ("sitstand_multimediaimg", "sitstand_rhpr"),
         ("sitstand_rhpr", "sit_video"), ("sitstand_multimediaimg", "sit_video"),
         ("pushups_visolus", "pushup_video"), ("pushup_video", "pushups_visolus")]
#: Yoga classes left out of the leave-classes-out models, per source.
LEFT_OUT = {"yoga_manoj": ("bound_angle", "dancer", "goddess", "half_moon"),
            "yoga_marchenkova": ("bridge", "child", "seated_forward_bend", "warrior1")}


def table(name: str, reviewed: bool = True) -> pd.DataFrame:
    """Detected rows of a shipped table, without the reviewed bad detections."""
    df = load_table(TABLES / f"{name}.csv")
    if reviewed:
        df = apply_exclusions(df, load_exclusions([TABLES / "exclusions.csv"]), name)[0]
    return df[df["detected"]].reset_index(drop=True)


VARIANTS_ON = False  # --variants
TRAIN_OPTIONS: dict = {}  # --views, --view-pitch, --world-features: PoseModel.train options


def train(df: pd.DataFrame, classifier: str, negatives: Negatives | None) -> PoseModel:
    poses = Poses.from_table(df)
    labels = df["label"].to_numpy(str)
    model = PoseModel.train(poses.landmarks, poses.image_sizes, labels, classifier, cv=0,
                            world_landmarks=poses.world_landmarks, negatives=negatives,
                            **TRAIN_OPTIONS)
    if VARIANTS_ON:
        neg = None if negatives is None else negatives.poses[negatives.poses.detected]
        model.variants = Variants(model, poses, labels, neg)
    return model


def parts(model: PoseModel, df: pd.DataFrame) -> dict[str, np.ndarray]:
    """Rejected flags: the whole rule and each part alone (and with --variants, each
    variant's whole rule and unknown part, as ``"<variant> whole"`` and ``"<variant>"``)."""
    poses = Poses.from_table(df)
    result = model.predict_with_scores(poses.landmarks, poses.image_sizes,
                                       world_landmarks=poses.world_landmarks)
    unknown = result.novelty > result.threshold
    out = {"whole": unknown | result.partial, "unknown": unknown,
           "threshold only": result.novelty > model.rejection_threshold,
           "partial": result.partial}
    if VARIANTS_ON:
        classes = np.asarray(model.classes_)[np.argmax(result.proba, axis=1)]
        for name, flags in model.variants.unknown(poses, classes, unknown).items():
            out[f"{name} whole"] = flags | result.partial
            out[name] = flags
    return out


def line(text: str, flags: dict[str, np.ndarray], accepted: bool) -> str:
    share = {k: (1 - v.mean()) if accepted else v.mean() for k, v in flags.items()}
    cells = "  ".join(f"{k} {100 * share[k]:5.1f}%" for k in
                      ("whole", "unknown", "threshold only", "partial"))
    text = f"   {text:46} n={len(flags['whole']):4d}  {cells}"
    if VARIANTS_ON:
        text += "\n   " + " " * 46 + "  whole/unknown: " + " | ".join(
            f"{name} {100 * share[name + ' whole']:5.1f}/{100 * share[name]:5.1f}"
            for name in VARIANTS)
    return text


def leave_one_source_out(classifier: str, negatives: Negatives | None) -> list[float]:
    print("1. Leave-one-source-out: share of the other source's poses ACCEPTED (target >= 97%)")
    out = []
    for source, other in PAIRS:
        train_df, test_df = table(source), table(other)
        test_df = test_df[test_df["label"].isin(set(train_df["label"]))]
        neg = None if negatives is None else negatives.without(other)
        flags = parts(train(train_df, classifier, neg), test_df)
        out.append(1 - flags["whole"].mean())
        print(line(f"{source} -> {other}", flags, accepted=True))
    return out


def raw_folder(classifier: str, negatives: Negatives | None) -> dict[str, float]:
    print("2. Raw folder: push-up model without review, share REJECTED (targets: sit/stand "
          ">= 90%, yoga >= 85%)")
    raw = table("pushups_visolus", reviewed=False)
    out = {}
    for other in SITSTAND + YOGA:
        neg = None if negatives is None else negatives.without(other)
        flags = parts(train(raw, classifier, neg), table(other))
        out[other] = flags["whole"].mean()
        print(line(f"raw push-ups -> {other}", flags, accepted=False))
    return out


def leave_classes_out(classifier: str, use_negatives: bool) -> None:
    print("3. Leave-classes-out: unseen yoga classes REJECTED (target >= 50%), in-class "
          "ACCEPTED (5-fold, target >= 97%)")
    for source, left_out in LEFT_OUT.items():
        df = table(source)
        unseen = df["label"].isin(left_out)
        negatives = None
        if use_negatives:  # no left-out class anywhere, nothing of the measured source
            frames = {name: t[~t["label"].isin(left_out)] for name, t in (
                (n, table(n)) for n in PUSHUPS + SITSTAND + YOGA if n != source)}
            negatives = negatives_from_frames(frames)
        known = df[~unseen].reset_index(drop=True)
        print(line(f"{source} without {len(left_out)} classes: unseen",
                   parts(train(known, classifier, negatives), df[unseen]), accepted=False))
        flags = {}
        folds = StratifiedKFold(5, shuffle=True, random_state=1)
        for fit, held in folds.split(known, known["label"]):
            model = train(known.iloc[fit].reset_index(drop=True), classifier, negatives)
            for key, value in parts(model, known.iloc[held]).items():
                flags.setdefault(key, np.zeros(len(known), dtype=bool))[held] = value
        print(line(f"{source} without {len(left_out)} classes: in-class", flags, accepted=True))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--classifier", default=DEFAULT_CLASSIFIER)
    parser.add_argument("--no-negatives", action="store_true",
                        help="train without negatives (the rule before them)")
    parser.add_argument("--variants", action="store_true",
                        help="also measure other novelty scores (bench/novelty_variants.py)")
    parser.add_argument("--views", type=lambda t: tuple(map(float, t.split(","))), default=(),
                        help="yaw angles of the view augmentation, e.g. 15,30")
    parser.add_argument("--view-pitch", type=float, default=0.0)
    parser.add_argument("--novelty-views", type=lambda t: tuple(map(float, t.split(","))),
                        default=(), help="yaw angles of the novelty scorer's turned views, "
                        "e.g. 30,60 (poseclf train --novelty-views)")
    parser.add_argument("--world-features", choices=WORLD_MODES, default=DEFAULT_WORLD_FEATURES)
    args = parser.parse_args(argv)
    global VARIANTS_ON
    VARIANTS_ON = args.variants
    TRAIN_OPTIONS.update(views=args.views, view_pitch=args.view_pitch,
                         embedder_params={"world": args.world_features})
    if args.novelty_views:
        TRAIN_OPTIONS["novelty_params"] = {"views": args.novelty_views}
    start = time.perf_counter()
    negatives = None if args.no_negatives else everyday_negatives()
    print(f"classifier {args.classifier}; options {TRAIN_OPTIONS}; negatives: "
          + ("none" if negatives is None else ", ".join(
              f"{k} {v}" for k, v in negatives.sources.items())) + "\n")
    loso = leave_one_source_out(args.classifier, negatives)
    print(f"   lowest: {100 * min(loso):.1f}%\n")
    raw = raw_folder(args.classifier, negatives)
    sit = np.mean([raw[s] for s in SITSTAND])
    yoga = np.mean([raw[s] for s in YOGA])
    print(f"   mean over sources: sit/stand {100 * sit:.1f}%, yoga {100 * yoga:.1f}%\n")
    leave_classes_out(args.classifier, negatives is not None)
    print(f"\n({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
