"""Picture aspect from body proportions (poseclf.pose.aspect) and its correction."""

from pathlib import Path

import numpy as np
import pytest

from poseclf.pose.aspect import (
    REFERENCE_WIDTHS,
    check_aspect_factor,
    correct_aspect,
    estimate_aspect,
    pose_aspect_ratios,
)
from poseclf.pose.landmarks import PoseLandmark as P
from poseclf.pose.poses import Poses
from poseclf.pose.table import load_table

DATASETS = Path(__file__).resolve().parents[1] / "datasets"


def upright_skeleton(n: int = 1, torso: float = 0.5):
    """Upright, frontal skeletons: world (metres) and image landmarks of a 400x400 picture
    whose shoulder and hip widths have the reference proportions."""
    world = np.zeros((n, 33, 3))
    half_sh = REFERENCE_WIDTHS["shoulders"] * torso / 2
    half_hip = REFERENCE_WIDTHS["hips"] * torso / 2
    world[:, P.LEFT_SHOULDER] = (half_sh, -torso, 0)
    world[:, P.RIGHT_SHOULDER] = (-half_sh, -torso, 0)
    world[:, P.LEFT_HIP] = (half_hip, 0, 0)
    world[:, P.RIGHT_HIP] = (-half_hip, 0, 0)
    lm = np.zeros((n, 33, 4))
    lm[:, :, :2] = 0.5 + world[:, :, :2] * 0.5  # 0.5 picture per metre, centred
    lm[:, :, 3] = 1.0
    return lm, world, np.full((n, 2), 400.0)


@pytest.mark.parametrize("stretch", [0.5625, 0.8, 1.0, 1.33, 2.0])
def test_known_stretch_is_recovered(stretch):
    lm, world, sizes = upright_skeleton()
    sizes[:, 0] *= stretch  # the same normalised x on a wider (or narrower) picture
    assert pose_aspect_ratios(lm, world, sizes)[0] == pytest.approx(stretch, rel=1e-9)


def test_a_vertical_squash_reads_as_a_horizontal_stretch():
    lm, world, sizes = upright_skeleton()
    sizes[:, 1] /= 1.25
    assert pose_aspect_ratios(lm, world, sizes)[0] == pytest.approx(1.25)


def test_poses_that_are_not_upright_and_frontal_give_nan():
    lm, world, sizes = upright_skeleton(3)
    world[0, :, [0, 1]] = world[0, :, [1, 0]]  # lying: torso horizontal
    world[1, [P.LEFT_SHOULDER, P.LEFT_HIP], 2] = 1.0  # side view: widths point away
    world[1, [P.LEFT_SHOULDER, P.LEFT_HIP], 0] = 0.01
    world[2] = np.nan  # no world landmarks
    assert np.isnan(pose_aspect_ratios(lm, world, sizes)).all()


def test_unresized_table_is_near_one_and_a_stretched_copy_is_found():
    df = load_table(DATASETS / "sitstand_rhpr.csv")
    estimate = estimate_aspect(df)
    assert estimate.known and not estimate.looks_resized
    assert 0.9 < estimate.median < 1.1
    wide = df.copy()
    wide["width"] = (wide["width"] * 1.5).round().astype(np.int64)
    stretched = estimate_aspect(wide)
    assert stretched.looks_resized
    assert stretched.median / estimate.median == pytest.approx(1.5, rel=0.02)
    corrected, factor = correct_aspect(wide)
    assert factor == pytest.approx(stretched.median)
    assert estimate_aspect(corrected).median == pytest.approx(1.5 * estimate.median / factor,
                                                             rel=0.02)


def test_a_few_real_rows():
    df = load_table(DATASETS / "yoga_manoj.csv").iloc[:40]
    poses = Poses.from_table(df[df["detected"]])
    ratios = pose_aspect_ratios(poses.landmarks, poses.world_landmarks, poses.image_sizes)
    found = ratios[np.isfinite(ratios)]
    assert len(found) >= 5 and ((found > 0.5) & (found < 2)).all()


def test_too_few_poses_give_no_verdict_and_no_correction():
    df = load_table(DATASETS / "pushups_visolus.csv")  # nobody upright
    estimate = estimate_aspect(df)
    assert not estimate.known and "no upright frontal pose" in str(estimate)
    corrected, factor = correct_aspect(df)
    assert factor == 1.0 and (corrected["width"] == df["width"]).all()


def test_correction_divides_the_widths_only():
    df = load_table(DATASETS / "sitstand_rhpr.csv").iloc[:5]
    corrected, factor = correct_aspect(df, 2.0)
    assert factor == 2.0
    assert (corrected["width"] == (df["width"] / 2).round()).all()
    assert (corrected["height"] == df["height"]).all()
    assert corrected.drop(columns="width").equals(df.drop(columns="width"))


@pytest.mark.parametrize("bad", [0, -1, 10, float("nan"), "wide", None])
def test_bad_factor(bad):
    with pytest.raises(ValueError, match="aspect factor"):
        check_aspect_factor(bad)


def test_stats_names_a_resized_table():
    from poseclf.cli.dataset import resized_pictures_note

    df = load_table(DATASETS / "sitstand_rhpr.csv")
    assert resized_pictures_note(estimate_aspect(df), "rhpr.csv") == ""
    df["width"] = (df["width"] * 1.6).round().astype(np.int64)
    note = resized_pictures_note(estimate_aspect(df), "rhpr.csv")
    assert note.startswith("rhpr.csv: the people look 1.5") and "--aspect" in note
    assert "\n" not in note
