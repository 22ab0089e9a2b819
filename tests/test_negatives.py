"""Negatives: poses that are none of the classes tighten ``unknown`` near them.

Unit behaviour on made-up embeddings; the protocols of ``bench/rejection_protocols.py`` at a
small size on the shipped landmark tables (poseclf's own BlazePose extraction of real photos:
no photo needed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold

from poseclf.classify.model import PoseModel
from poseclf.classify.negatives import (
    Negatives,
    everyday_negatives,
    negatives_from_frames,
    negatives_from_tables,
)
from poseclf.classify.novelty import NoveltyScorer
from poseclf.classify.pose_classifier import NOVELTY_VIEWS
from poseclf.cli import main
from poseclf.errors import ModelFileError
from poseclf.pose.poses import Poses
from poseclf.pose.table import load_table
from poseclf.tables.exclusions import apply_exclusions, load_exclusions

TABLES = Path(__file__).resolve().parents[1] / "datasets"


# -- the rule on made-up embeddings ----------------------------------------------------------
def clusters(rng, centres, n=30, spread=0.3):
    return np.concatenate([rng.normal(c, spread, (n, 2)) for c in centres])


def test_a_pose_near_the_negatives_is_novel_inside_the_plain_threshold():
    rng = np.random.default_rng(0)
    X = clusters(rng, [(0, 0), (3, 0)])
    y = np.repeat(["a", "b"], 30)
    negatives = clusters(rng, [(1.0, 0.0)], n=40, spread=0.05)  # beside class a
    plain = NoveltyScorer().fit(X, y)
    tight = NoveltyScorer().fit(X, y, negatives=negatives)
    query = np.array([[0.7, 0.0]])  # at the edge of class a, nearer to the negatives
    assert not plain.is_novel(query)[0]  # the classes alone accept it ...
    assert tight.is_novel(query)[0]  # ... the negatives show it is none of them
    assert tight.negatives_ == {"given": 40, "kept": 40}
    # the training poses themselves stay accepted as often as calibrated
    assert tight.calibration_["accepted_with_negatives"] >= 0.95
    assert np.mean(tight.is_novel(X)) <= 0.05


def test_negatives_like_a_class_and_copies_of_training_poses_are_dropped():
    rng = np.random.default_rng(1)
    X = clusters(rng, [(0, 0), (3, 0)])
    y = np.repeat(["a", "b"], 30)
    members = clusters(rng, [(0, 0)], n=20, spread=0.05)  # typical poses of class a
    scorer = NoveltyScorer().fit(X, y, negatives=np.concatenate([members, X[:10]]))
    assert scorer.negatives_ == {"given": 30, "kept": 0}
    assert scorer.negative_reference_ is None and scorer.negative_ratio_ == np.inf
    np.testing.assert_array_equal(scorer.thresholds(X[:3]), scorer.threshold_)


def test_a_pose_far_from_its_predicted_class_is_novel_with_negatives():
    """Per-class rule: a tight class (b) and a loose one (a); a pose beside b, nearer to the
    training poses as a whole than the loose class's spread, is still unlike b."""
    rng = np.random.default_rng(3)
    X = np.concatenate([rng.normal((0, 0), 1.0, (40, 2)), rng.normal((5, 0), 0.05, (40, 2))])
    y = np.repeat(["a", "b"], 40)
    negatives = rng.normal((5, -0.5), 0.05, (30, 2))  # below class b
    scorer = NoveltyScorer().fit(X, y, negatives=negatives)
    query = np.array([[5.0, 0.6]])
    assert not scorer.is_novel(query)[0]  # the global distance accepts it ...
    assert scorer.is_novel(query, classes=["b"])[0]  # ... its class does not
    assert not scorer.is_novel(X[40:45], classes=["b"] * 5).any()
    assert list(scorer.classes_) == ["a", "b"] and scorer.class_thresholds_[1] < 1


def test_negatives_must_match_the_features():
    X = clusters(np.random.default_rng(2), [(0, 0), (3, 0)])
    with pytest.raises(ValueError, match="negatives have 3 features"):
        NoveltyScorer().fit(X, np.repeat(["a", "b"], 30), negatives=np.zeros((4, 3)))


# -- the shipped everyday negatives --------------------------------------------------------------
def test_everyday_negatives_are_the_shipped_pose_tables():
    negatives = everyday_negatives()
    assert {"pushups_visolus", "sitstand_rhpr", "yoga_manoj", "sit_video"} <= set(
        negatives.sources)
    assert not any("segments" in name or "exclusions" in name for name in negatives.sources)
    assert len(negatives) == sum(negatives.sources.values())
    assert negatives.poses.detected.all() and negatives.poses.has_world.all()
    fewer = negatives.without("yoga_manoj")
    assert "yoga_manoj" not in fewer.sources
    assert len(fewer) == len(negatives) - negatives.sources["yoga_manoj"]
    np.testing.assert_array_equal(fewer.poses.landmarks[:5], negatives.poses.landmarks[:5])


# -- the protocols, small, on real extractions ---------------------------------------------------
def table(name: str, reviewed: bool = True):
    df = load_table(TABLES / f"{name}.csv")
    if reviewed:
        df = apply_exclusions(df, load_exclusions([TABLES / "exclusions.csv"]), name)[0]
    return df[df["detected"]].reset_index(drop=True)


def train(df, negatives: Negatives | None, classifier: str = "svm") -> PoseModel:
    poses = Poses.from_table(df)
    return PoseModel.train(poses.landmarks, poses.image_sizes, df["label"].to_numpy(str),
                           classifier, cv=0, world_landmarks=poses.world_landmarks,
                           negatives=negatives)


def rejected(model: PoseModel, df) -> float:
    poses = Poses.from_table(df)
    labels = model.predict(poses.landmarks, poses.image_sizes,
                           world_landmarks=poses.world_landmarks)
    return float(np.mean(~np.isin(labels, model.classes_)))


@pytest.fixture(scope="module")
def raw_pushups():
    return table("pushups_visolus", reviewed=False)


def test_raw_folder_pushup_model_rejects_standing_people_with_the_negatives(raw_pushups):
    """Trained on the unreviewed push-up folder (a coach standing behind the athlete is among
    its poses): alone it accepts most standing people; with the everyday negatives (never the
    measured source) it rejects them."""
    standing = table("sitstand_rhpr")
    standing = standing[standing["label"] == "standing"].head(60)
    negatives = everyday_negatives().without("sitstand_rhpr")
    assert rejected(train(raw_pushups, None), standing) < 0.5
    assert rejected(train(raw_pushups, negatives), standing) >= 0.9


@pytest.mark.slow  # trains on whole tables
def test_negatives_keep_another_source_of_the_same_classes_accepted():
    """Leave-one-source-out: a yoga model of one source accepts the other source's photos of
    its classes, with the negatives (the measured source left out of them)."""
    manoj, marchenkova = table("yoga_manoj"), table("yoga_marchenkova")
    other = marchenkova[marchenkova["label"].isin(set(manoj["label"]))]
    model = train(manoj, everyday_negatives().without("yoga_marchenkova"))
    assert rejected(model, other) <= 0.03


@pytest.mark.slow  # trains on whole tables
def test_yoga_poses_of_classes_the_model_never_learned_become_unknown():
    """Leave-classes-out: a yoga model without 4 of its classes answers ``unknown`` to about
    half of their photos with the negatives (none of them of those 4 classes, none of this
    source), a seventh of them without (bench: 49.2% and 14.9%)."""
    left_out = ["bound_angle", "dancer", "goddess", "half_moon"]
    df = table("yoga_manoj")
    unseen = df["label"].isin(left_out)
    others = {name: table(name) for name in ("yoga_marchenkova", "sitstand_rhpr",
                                             "sitstand_multimediaimg", "sit_video",
                                             "pushups_visolus", "pushup_video")}
    negatives = negatives_from_frames({n: t[~t["label"].isin(left_out)]
                                       for n, t in others.items()})
    known = df[~unseen]
    assert rejected(train(known, None), df[unseen]) < 0.25
    assert rejected(train(known, negatives), df[unseen]) >= 0.45


@pytest.mark.slow  # trains on whole tables, twice
def test_turned_views_of_the_training_poses_make_other_sides_familiar():
    """A push-up model of one side-view video (pushup_video) with the everyday negatives and
    ``--novelty-views 30,60`` accepts the push-up photos, front and back views included
    (bench/rejection_protocols.py: 98.8%); without the turned views 92.6%."""
    video, photos = table("pushup_video"), table("pushups_visolus")
    negatives = everyday_negatives().without("pushups_visolus")
    poses = Poses.from_table(video)

    def model(**novelty) -> PoseModel:
        return PoseModel.train(poses.landmarks, poses.image_sizes, video["label"].to_numpy(str),
                               cv=0, world_landmarks=poses.world_landmarks, negatives=negatives,
                               novelty_params=novelty or None)

    turned = model(views=(30, 60))
    assert len(turned.novelty_.reference_) == 5 * len(video)
    assert rejected(turned, photos) <= 0.02
    assert rejected(model(), photos) >= 0.05


def _mlp(df, min_confidence: float | None = None) -> PoseModel:
    """poseclf train's default model of ``df`` (no negatives), with another confidence floor."""
    poses = Poses.from_table(df)
    novelty = None if min_confidence is None else {"min_confidence": min_confidence}
    return PoseModel.train(poses.landmarks, poses.image_sizes, df["label"].to_numpy(str), "mlp",
                           cv=0, world_landmarks=poses.world_landmarks,
                           embedder_params={"world": "only"}, novelty_params=novelty)


@pytest.mark.slow  # trains six models
def test_an_unsure_mlp_answers_unknown_to_yoga_classes_it_never_learned():
    """The confidence rule (an MLP of 3+ classes): the 10-class yoga source without 4 of its
    classes answers unknown to most photos of those 4 (bench/rejection_protocols.py without
    negatives: 69.2%; 48.1% without the rule) and keeps its own held-out photos (97.5%)."""
    left_out = ["bridge", "child", "seated_forward_bend", "warrior1"]
    df = table("yoga_marchenkova")
    unseen = df["label"].isin(left_out)
    known = df[~unseen].reset_index(drop=True)
    assert rejected(_mlp(known), df[unseen]) >= 0.6
    assert rejected(_mlp(known, min_confidence=0.0), df[unseen]) <= 0.55
    held_out_rejected = []
    for fit, held in StratifiedKFold(4, shuffle=True, random_state=1).split(known, known["label"]):
        model = _mlp(known.iloc[fit].reset_index(drop=True))
        held_out_rejected.append(rejected(model, known.iloc[held]) * len(held))
    assert sum(held_out_rejected) / len(known) <= 0.05


@pytest.mark.slow  # trains on whole tables
def test_training_on_a_shipped_table_does_not_count_it_against_itself():
    """The default negatives hold the shipped tables; a model trained on one of them drops its
    own poses from the negatives and keeps accepting them."""
    df = table("sitstand_multimediaimg")
    model = train(df, everyday_negatives(), classifier="knn")
    info = model.novelty_.negatives_
    assert info["kept"] <= info["given"] - len(df)
    assert rejected(model, df) <= 0.03


def test_saved_model_keeps_its_negatives_and_refuses_broken_ones(tmp_path, raw_pushups):
    model = train(raw_pushups, negatives_from_tables([TABLES / "sitstand_rhpr.csv"]))
    probe = table("sitstand_multimediaimg").head(20)
    loaded = PoseModel.load(model.save(tmp_path / "m.skops"))
    poses = Poses.from_table(probe)
    args = (poses.landmarks, poses.image_sizes)
    kwargs = {"world_landmarks": poses.world_landmarks}
    np.testing.assert_array_equal(loaded.predict_with_scores(*args, **kwargs).threshold,
                                  model.predict_with_scores(*args, **kwargs).threshold)
    assert loaded.metadata["rejection"]["negatives_sources"] == {"sitstand_rhpr": 181}
    good = model.novelty_.class_thresholds_
    model.novelty_.class_thresholds_ = good[:1]
    with pytest.raises(ModelFileError, match="per-class thresholds that do not match"):
        PoseModel.load(model.save(tmp_path / "classes.skops"))
    model.novelty_.class_thresholds_ = good
    model.novelty_.negative_reference_ = model.novelty_.negative_reference_[:, :3]
    with pytest.raises(ModelFileError, match="negative poses or a negative ratio"):
        PoseModel.load(model.save(tmp_path / "broken.skops"))


def test_model_files_keep_no_mirror_images_and_class_codes_not_names(tmp_path, raw_pushups):
    """The mirror images of the training poses and negatives are rebuilt from a column map
    (half the file), the per-class rule's labels are 1-byte class codes; scoring is the same
    as with the mirror images computed from the mirrored landmarks."""
    model = train(raw_pushups, everyday_negatives().without("sitstand_rhpr"))
    probe = Poses.from_table(table("sitstand_rhpr").head(40))
    args = (probe.landmarks, probe.image_sizes)
    kwargs = {"world_landmarks": probe.world_landmarks}
    for scorer in (model.novelty_, model.novelty_image_):
        assert scorer.mirror_columns_ is not None
        n_stored = (1 + 2 * len(NOVELTY_VIEWS)) * len(raw_pushups)  # and any turned views
        assert len(scorer.reference_) == n_stored
        assert len(scorer.negative_reference_) == scorer.negatives_["kept"]
        assert scorer.reference_labels_.dtype == np.uint8
        assert len(scorer.reference()) == 2 * n_stored
    scored = model.predict_with_scores(*args, **kwargs)
    loaded = PoseModel.load(model.save(tmp_path / "m.skops"))
    again = loaded.predict_with_scores(*args, **kwargs)
    np.testing.assert_array_equal(again.novelty, scored.novelty)
    np.testing.assert_array_equal(again.threshold, scored.threshold)
    # the same scorer holding its mirror images and class names, as files from before do
    old = model.novelty_
    labels = old.classes_[old.reference_labels_]
    reference, negatives = old.reference(), old._references()["negatives"]
    old.reference_, old.negative_reference_ = (reference.astype(np.float32),
                                               negatives.astype(np.float32))
    old.reference_labels_ = np.concatenate([labels, labels])
    old.mirror_columns_ = old.mirror_signs_ = None
    before = model.predict_with_scores(*args, **kwargs)
    np.testing.assert_array_equal(before.labels, scored.labels)
    np.testing.assert_allclose(before.threshold, scored.threshold, rtol=0, atol=1e-9)
    old.mirror_columns_, old.mirror_signs_ = np.zeros(3, dtype=np.int32), np.ones(3)
    with pytest.raises(ModelFileError, match="mirror column map"):
        PoseModel.load(model.save(tmp_path / "broken.skops"))


@pytest.mark.slow  # trains with the CLI twice
def test_train_command_uses_the_everyday_negatives_unless_told(tmp_path, capsys):
    shipped = str(TABLES / "pushups_visolus.csv")
    assert main(["train", shipped, "-o", str(tmp_path / "a.skops"), "--cv", "0"]) == 0
    out = capsys.readouterr().out
    assert "negatives:" in out and "poses kept" in out
    model = PoseModel.load(tmp_path / "a.skops")
    assert "yoga_manoj" in model.metadata["rejection"]["negatives_sources"]
    assert main(["train", shipped, "-o", str(tmp_path / "b.skops"), "--cv", "0",
                 "--no-negatives"]) == 0
    assert "no negatives" in capsys.readouterr().out
    assert PoseModel.load(tmp_path / "b.skops").novelty_.negative_reference_ is None
