"""The cards and the summary of a review page: one card per table row, in the order to look.

:func:`review_cards` gathers what :mod:`poseclf.tables.review` already computes (out-of-fold
probabilities and novelty through :func:`~poseclf.tables.review.find_outliers`, per-class counts
through :func:`~poseclf.tables.review.table_stats`), a model's answers when one is given, the
rows an exclusion list already names, and 3D joint angles for the large view.
:mod:`poseclf.tables.review_page` turns the result into HTML.

The default order puts first what is most likely wrong and can still change a model: the
disputed rows in the order ``poseclf outliers`` prints them, then the other detected rows from
the least to the most typical of their class, then the rows without a pose (they never reach
training), then the rows cross-validation could not score.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..classify.embedding import ANGLE_TRIPLES
from ..errors import InputError
from ..pose.landmarks import LANDMARK_NAMES, NO_PERSON
from ..pose.poses import Poses
from .dataset import UNREADABLE
from .exclusions import apply_exclusions
from .review import (
    DEFAULT_OUTLIER_FOLDS,
    LEAST_TYPICAL,
    find_outliers,
    table_stats,
)

log = logging.getLogger(__name__)

NO_PERSON_FLAG = "no person"  # the flag names a person reads on the page
UNREADABLE_FLAG = "unreadable"
DEFAULT_LEAST_TYPICAL = 10  # as `poseclf outliers --least-typical`: flagged, not disputed
#: Flags in the order the page lists them.
FLAGS: tuple[str, ...] = ("label loses", "unlike its class", LEAST_TYPICAL, NO_PERSON_FLAG,
                          UNREADABLE_FLAG)
#: Joint names of :data:`~poseclf.classify.embedding.ANGLE_TRIPLES` (their vertices).
ANGLE_NAMES: tuple[str, ...] = tuple(LANDMARK_NAMES[v].replace("_", " ")
                                     for _, v, _ in ANGLE_TRIPLES)


@dataclass
class ReviewCards:
    """What a review page shows.

    Attributes
    ----------
    cards : DataFrame
        One row per table row, in the default order: ``row`` (position in the table), ``path``,
        ``label``, ``detected``, ``reason``, ``flags`` (list of str), ``predicted``,
        ``probability`` (out-of-fold score of ``predicted``), ``label_score``, ``novelty``
        (out-of-fold, 1 = the rejection threshold), ``model_label``, ``model_probability``,
        ``model_novelty`` (NaN/None without a model), ``angles`` (list of degrees in
        :data:`ANGLE_NAMES` order, or None), ``excluded`` (reason from the exclusion lists, or
        None).
    summary : DataFrame
        :func:`~poseclf.tables.review.table_stats` plus ``cv_recall`` per class.
    report : dict or None
        :func:`~poseclf.classify.evaluation.evaluation_report` of the out-of-fold predictions
        (None when cross-validation could not run).
    note : str
        How the scores were made, or why there are none.
    """

    cards: pd.DataFrame
    summary: pd.DataFrame
    report: dict | None
    note: str
    table_name: str = ""
    classes: list[str] = field(default_factory=list)


def joint_angles(poses: Poses) -> np.ndarray:
    """Angles (degrees) at the joints of :data:`ANGLE_TRIPLES`, ``(n, 8)``, from the world
    landmarks (metres, so the angles are 3D); NaN where a pose has none."""
    world = poses.world_landmarks.astype(np.float64)
    a, v, b = (np.array(i) for i in zip(*ANGLE_TRIPLES, strict=True))
    u, w = world[:, a] - world[:, v], world[:, b] - world[:, v]
    norms = np.linalg.norm(u, axis=2) * np.linalg.norm(w, axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = np.clip(np.einsum("nkd,nkd->nk", u, w) / norms, -1.0, 1.0)
    return np.degrees(np.arccos(cosine))


def _row_flags(reason: str) -> list[str]:
    if reason == NO_PERSON:
        return [NO_PERSON_FLAG]
    if reason.startswith(UNREADABLE):
        return [UNREADABLE_FLAG]
    return []


def _model_answers(model, rows: pd.DataFrame, detected: np.ndarray) -> pd.DataFrame:
    """``model_label``, ``model_probability``, ``model_novelty`` of each row (None: no pose)."""
    out = pd.DataFrame({"model_label": None, "model_probability": np.nan,
                        "model_novelty": np.nan}, index=rows.index)
    if not detected.any():
        return out
    poses = Poses.from_table(rows[detected])
    scores = model.predict_with_scores(poses.landmarks, poses.image_sizes,
                                       world_landmarks=poses.world_landmarks)
    threshold = np.asarray(scores.threshold, dtype=float)
    out.loc[detected, "model_label"] = [str(label) for label in scores.labels]
    out.loc[detected, "model_probability"] = scores.proba.max(axis=1)
    out.loc[detected, "model_novelty"] = np.asarray(scores.novelty, dtype=float) / threshold
    return out


def review_cards(
    df: pd.DataFrame,
    *,
    table_name: str = "",
    model=None,
    exclusions: pd.DataFrame | None = None,
    classifier: str = "knn",
    folds: int = DEFAULT_OUTLIER_FOLDS,
    least_typical: int = DEFAULT_LEAST_TYPICAL,
) -> ReviewCards:
    """The cards of a review page for the landmark table ``df``.

    Parameters
    ----------
    df : DataFrame
        A landmark table (:func:`~poseclf.pose.table.load_table`).
    table_name : str
        The table's file name without extension: the ``table`` column of the saved exclusion
        list, and the entries of ``exclusions`` that apply.
    model : PoseModel, optional
        Its label, probability and novelty are added to every detected row.
    exclusions : DataFrame, optional
        :func:`~poseclf.tables.exclusions.load_exclusions`: rows it names start ticked.
    classifier, folds
        Of the out-of-fold models (as ``poseclf outliers``).
    least_typical : int, default=10
        The N undisputed rows of highest novelty are flagged ``least typical``.
    """
    df = df.reset_index(drop=True)
    paths = df["path"].astype(str)
    detected = df["detected"].astype(bool).to_numpy()
    cards = pd.DataFrame({
        "row": np.arange(len(df)),
        "path": paths,
        "label": df["label"].astype(str),
        "detected": detected,
        "reason": df["reason"].fillna("").astype(str),
    })
    cards["flags"] = [_row_flags(r) for r in cards["reason"]]
    for column in ("predicted", "probability", "label_score", "novelty"):
        cards[column] = None if column == "predicted" else np.nan
    report, note = None, ""
    order = pd.Series(np.inf, index=cards.index)  # rank of each row in the default order
    try:
        scored = find_outliers(df, classifier=classifier, folds=folds,
                               least_typical=len(df))
    except InputError as err:
        scored = None
        note = f"no cross-validation: {err}"
        log.info("review page without out-of-fold scores: %s", err)
    if scored is not None:
        # a path that occurs twice is the same picture: both rows get its scores and flags
        rows_of = pd.Series(cards.index, index=paths).groupby(level=0).agg(list)
        shown_typical = 0
        for rank, row in enumerate(scored.itertuples(index=False)):
            flag = row.problem
            if flag == LEAST_TYPICAL:
                flag = flag if shown_typical < least_typical else ""
                shown_typical += 1
            for i in rows_of[row.path]:
                cards.at[i, "predicted"] = row.predicted
                cards.at[i, "probability"] = row.predicted_score
                cards.at[i, "label_score"] = row.label_score
                cards.at[i, "novelty"] = row.novelty
                order[i] = min(order[i], rank)
                if flag and flag not in cards.at[i, "flags"]:
                    cards.at[i, "flags"] = [*cards.at[i, "flags"], flag]
        note = (f"out-of-fold scores: {classifier}, {folds or 'leave-one-out'} "
                f"{'folds' if folds else ''}; novelty 1 = the rejection threshold").replace(
                    "  ", " ")
        from ..classify.evaluation import evaluation_report

        oof = cards[cards["predicted"].notna()]
        report = evaluation_report(oof["label"], oof["predicted"])
    # then the rows without a pose, then the rows nobody could score; table order within each
    base = float(len(cards))
    order[~detected] = base + cards.index[~detected]
    left = np.isinf(order.to_numpy())
    order[left] = 2 * base + cards.index[left]
    cards = cards.iloc[np.argsort(order.to_numpy(), kind="stable")].reset_index(drop=True)

    if model is not None:
        answers = _model_answers(model, df, detected)
        cards = cards.join(answers, on="row")
    else:
        cards["model_label"], cards["model_probability"], cards["model_novelty"] = (
            None, np.nan, np.nan)
    angles = joint_angles(Poses.from_table(df))
    cards["angles"] = [None if np.isnan(angles[r]).all() else
                       [None if np.isnan(a) else round(float(a)) for a in angles[r]]
                       for r in cards["row"]]
    cards["excluded"] = None
    if exclusions is not None and len(exclusions):
        _, matched = apply_exclusions(df, exclusions, table_name)
        reasons = matched.drop_duplicates("path").set_index("path")["reason"]
        hit = cards["path"].isin(reasons.index)
        cards.loc[hit, "excluded"] = cards.loc[hit, "path"].map(reasons).to_numpy()

    summary = table_stats(df)
    if report is not None:
        recall = {c: v["recall"] for c, v in report["per_class"].items()}
        summary["cv_recall"] = summary.index.map(recall)
        summary.loc["all", "cv_recall"] = report["accuracy"]
    else:
        summary["cv_recall"] = np.nan
    classes = sorted(set(cards["label"]))
    return ReviewCards(cards, summary, report, note, table_name=table_name or "",
                       classes=classes)


def table_stem(path) -> str:
    """The ``table`` value of an exclusion list for the table file ``path``."""
    return Path(path).stem
