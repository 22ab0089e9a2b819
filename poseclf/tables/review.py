"""Review a landmark table before training: per-class statistics and out-of-fold outliers.

:func:`table_stats` is what ``poseclf stats`` prints; :func:`find_outliers` lists the rows whose
own label loses to another class when a model that did not see them classifies them
(``poseclf outliers``), the first photos to look at for a wrong label or a bad detection.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError


# -- statistics -------------------------------------------------------------------------
def class_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per-class counts of a landmark table: images, detected, no_person, unreadable."""
    from .stats import COUNT_COLUMNS, class_counts

    reasons = df["reason"].fillna("").astype(str).to_numpy(str)
    classes, _, counts = class_counts(df["label"].astype(str).to_numpy(str),
                                      df["detected"].astype(bool).to_numpy(), reasons)
    return pd.DataFrame(counts[:-1], columns=list(COUNT_COLUMNS),
                        index=pd.Index(classes, name="label"))


def table_stats(df: pd.DataFrame) -> pd.DataFrame:
    """Per class: ``images``, ``detected``, ``no_person``, ``unreadable``, ``detection_rate``
    and ``mean_visibility`` (mean landmark visibility over the detected rows).

    A last row ``all`` sums the counts over the classes (:func:`poseclf.tables.stats.class_stats`
    as a DataFrame).
    """
    from ..pose.plain_table import TableArrays
    from .stats import COUNT_COLUMNS, RATE_COLUMNS, class_stats

    stats = class_stats(TableArrays.from_table(df))
    summary = pd.DataFrame(stats.counts, columns=list(COUNT_COLUMNS),
                           index=pd.Index(stats.labels, name="label"))
    summary[list(RATE_COLUMNS)] = stats.rates
    return summary


# -- review: out-of-fold outliers ---------------------------------------------------------------
OUTLIER_RANDOM_STATE = 0  # fold shuffling seed: the same outliers on every run
DEFAULT_OUTLIER_FOLDS = 5
LABEL_LOSES = "label loses"  # another class scores higher than the row's own label
UNLIKE_ITS_CLASS = "unlike its class"  # out-of-fold novelty above the rejection threshold
LEAST_TYPICAL = "least typical"  # among the highest out-of-fold novelty: shown for review only
DISPUTED = (LABEL_LOSES, UNLIKE_ITS_CLASS)  # the problems that make a row an outlier


def out_of_fold_proba(
    df: pd.DataFrame,
    classifier: str = "knn",
    folds: int = DEFAULT_OUTLIER_FOLDS,
    *,
    random_state: int = OUTLIER_RANDOM_STATE,
) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """Class probabilities of every detected row from a model that never saw that row.

    Parameters
    ----------
    df : DataFrame
        Landmark table; rows without a pose are left out.
    classifier : str, default="knn"
        A name of the classifier registry (:func:`poseclf.classify.classifiers.make_classifier`).
    folds : int, default=5
        Stratified K-fold (lowered to the largest class size); 0 means leave-one-out.

    Returns
    -------
    rows : DataFrame
        The detected rows, in table order.
    proba : ndarray of shape (len(rows), n_classes)
    classes : list of str
    novelty : ndarray of shape (len(rows),)
        Each row's novelty score divided by the rejection threshold of the model that did not
        see it: above 1, that model would answer ``unknown`` (NaN where it could not tell).
    """
    from sklearn.model_selection import LeaveOneOut, StratifiedKFold, cross_validate

    from ..classify.evaluation import check_training_labels, small_classes_as_input_error
    from ..classify.pose_classifier import PoseClassifier
    from ..classify.pose_rows import pose_rows
    from ..pose.poses import Poses

    rows = df[df["detected"].astype(bool)].reset_index(drop=True)
    labels = rows["label"].astype(str).to_numpy()
    classes = sorted(set(labels))
    if len(classes) < 2:
        found = f"only {classes[0]!r}" if classes else "no detected row"
        raise InputError(f"outlier review needs detected rows of at least 2 classes and the "
                         f"table has {found}: add the photos of another class")
    poses = Poses.from_table(rows)
    world = poses.world_landmarks if poses.has_world.all() else None  # else image-only novelty
    X = pose_rows(poses.landmarks, poses.image_sizes, world)
    if folds == 0:
        splitter = LeaveOneOut()
    else:
        largest = int(pd.Series(labels).value_counts().max())
        splitter = StratifiedKFold(max(2, min(folds, largest)), shuffle=True,
                                   random_state=random_state)
    try:
        folds_of = list(splitter.split(X, labels))
    except ValueError as err:
        raise InputError(f"outlier review: too few detected rows per class for {folds} folds "
                         f"({err}); add photos or try another --folds") from err
    # a fold whose training rows hold one class has nothing to compare against: its rows keep
    # probability 0 everywhere
    folds_of = [(train, test) for train, test in folds_of if len(set(labels[train])) >= 2]
    proba = np.zeros((len(rows), len(classes)))
    novelty = np.full(len(rows), np.nan)
    if not folds_of:
        return rows, proba, classes, novelty
    try:
        for train, _ in folds_of:
            check_training_labels(labels[train])
        with small_classes_as_input_error(labels):
            fitted = cross_validate(PoseClassifier(classifier), X, labels, cv=folds_of,
                                    return_estimator=True, return_indices=True,
                                    error_score="raise")
    except InputError as err:
        raise InputError(f"outlier review trains without each fold in turn; {err} (in "
                         "every fold's training rows: add photos, or use --folds 0)") from err
    column = {c: i for i, c in enumerate(classes)}
    for estimator, test in zip(fitted["estimator"], fitted["indices"]["test"], strict=True):
        scores = estimator.predict_with_scores(X[test], reject=False)
        proba[np.ix_(test, [column[c] for c in estimator.classes_])] = scores.proba
        if estimator.novelty_ is not None:
            novelty[test] = scores.novelty / scores.threshold
    return rows, proba, classes, novelty


def find_outliers(
    df: pd.DataFrame,
    classifier: str = "knn",
    folds: int = DEFAULT_OUTLIER_FOLDS,
    *,
    least_typical: int = 0,
    random_state: int = OUTLIER_RANDOM_STATE,
) -> pd.DataFrame:
    """Detected rows that a model trained without them disputes.

    Two kinds, told apart by ``problem``: ``label loses`` (another class scores higher than the
    row's own label: a wrong label, or a pose between classes) and ``unlike its class`` (the
    model would answer ``unknown``: often a bad detection, such as BlazePose finding a bystander
    or mixing two people, or a rare variant of the pose). With ``least_typical`` = N, the N
    undisputed rows of highest novelty follow as ``least typical``: not outliers, but where
    bad detections hide when there are several alike (on the push-up photos, 4 of the 7 reviewed
    bad detections are among the 10 least typical rows, 2 are disputed, 1 is neither).

    Returns
    -------
    DataFrame
        ``path``, ``label``, ``predicted``, ``label_score``, ``predicted_score``, ``margin``
        (predicted minus label score), ``novelty`` (score / rejection threshold), ``problem``
        and one ``score_<class>`` column per class; label losses first, clearest cases first,
        then rows unlike their class, then the least typical ones.
    """
    rows, proba, classes, novelty = out_of_fold_proba(df, classifier, folds,
                                                      random_state=random_state)
    index = {c: i for i, c in enumerate(classes)}
    own = proba[np.arange(len(rows)), [index[c] for c in rows["label"].astype(str)]]
    best = proba.argmax(axis=1)
    out = pd.DataFrame({
        "path": rows["path"],
        "label": rows["label"].astype(str),
        "predicted": np.asarray(classes, dtype=object)[best],
        "label_score": own,
        "predicted_score": proba[np.arange(len(rows)), best],
    })
    out["margin"] = out["predicted_score"] - out["label_score"]
    out["novelty"] = novelty
    loses, unlike = out["margin"] > 0, ~(out["margin"] > 0) & (out["novelty"] > 1.0)
    out["problem"] = np.where(loses, LABEL_LOSES, np.where(unlike, UNLIKE_ITS_CLASS, ""))
    for c, i in index.items():
        out[f"score_{c}"] = proba[:, i]
    typical = out[~loses & ~unlike & out["novelty"].notna()].sort_values(
        ["novelty", "path"], ascending=[False, True]).head(max(0, int(least_typical))).copy()
    typical["problem"] = LEAST_TYPICAL
    flagged = pd.concat([
        out[loses].sort_values(["margin", "path"], ascending=[False, True]),
        out[unlike].sort_values(["novelty", "path"], ascending=[False, True]),
        typical,
    ])
    return flagged.reset_index(drop=True)
