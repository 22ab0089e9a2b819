"""``poseclf extract VIDEO --segments --people N``: a row per person per sampled frame.

Segments files with a ``person`` column and the row keys work without a video; the runs use
``squat.mp4`` beside ``yoga.mp4`` (tests/people_videos.py, real BlazePose on the Tasks backend),
30 frames: both people are followed from frame 5 on, the squatter on the left.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import shared_data_or_skip
from people_videos import PairPlan, make_pair_video

from poseclf.cli import main
from poseclf.errors import SegmentsError
from poseclf.pose.table import LANDMARK_COLUMNS, frame_path, load_table, parse_frame_path
from poseclf.video.segment_people import row_keys
from poseclf.video.segments import Segment, check_segments, read_segments, write_segments

PLAN = PairPlan(30)
STRIDE = 5
SAMPLED = [10, 15, 20, 25]  # the frames of a 10-29 segment at stride 5


# -- segments files and row names (no video) -------------------------------------------------
def test_a_person_column_labels_one_person_and_an_empty_cell_everyone(tmp_path):
    path = tmp_path / "segments.csv"
    path.write_text("start_frame,end_frame,label,person\n0,9,squat,1\n5,9,yoga,2\n10,20,rest,\n")
    segments = read_segments(path)
    assert segments == [Segment(0, 9, "squat", 1), Segment(5, 9, "yoga", 2),
                        Segment(10, 20, "rest")]
    assert read_segments(write_segments(segments, tmp_path / "again.csv")) == segments


def test_a_segments_file_without_persons_is_written_as_before(tmp_path):
    path = write_segments([Segment(0, 9, "a")], tmp_path / "segments.csv")
    assert path.read_text() == "start_frame,end_frame,label\n0,9,a\n"


@pytest.mark.parametrize("segments, message", [
    ([Segment(0, 9, "a", 1), Segment(5, 12, "b", 1)], "one label per person"),
    ([Segment(0, 9, "a"), Segment(5, 12, "b", 2)], "one label per person"),
    ([Segment(0, 9, "a"), Segment(9, 12, "b")], "one label only"),
    ([Segment(0, 9, "a", 0)], "person must be a person id"),
])
def test_segments_that_give_a_person_two_labels_are_refused(segments, message):
    with pytest.raises(ValueError, match=message):
        check_segments(segments)


def test_two_people_may_have_their_own_segments_over_the_same_frames():
    segments = [Segment(5, 12, "b", 2), Segment(0, 9, "a", 1)]
    assert check_segments(segments) == segments[::-1]


def test_overlaps_are_found_as_by_comparing_every_pair():
    """The one-pass check against the rule written out: every pair of segments, one person's
    overlapping another's or everyone's."""
    def clash(segments):
        return any(b.start_frame <= a.end_frame and b.end_frame >= a.start_frame
                   and (a.person is None or b.person is None or a.person == b.person)
                   for i, a in enumerate(segments) for b in segments[i + 1:])

    rng = np.random.default_rng(0)
    refused = 0
    for _ in range(3000):
        segments = []
        for _ in range(rng.integers(1, 7)):
            start = int(rng.integers(0, 30))
            person = [None, None, 1, 2, 3][rng.integers(5)]
            segments.append(Segment(start, start + int(rng.integers(0, 9)), "x", person))
        try:
            check_segments(segments)
        except ValueError:
            refused += 1
            assert clash(segments), segments
        else:
            assert not clash(segments), segments
    assert 0 < refused < 3000


@pytest.mark.parametrize("cell", ["abc", "0", "-1", "1.5"])
def test_a_person_that_is_not_an_id_is_refused_with_its_row(tmp_path, cell):
    path = tmp_path / "segments.csv"
    path.write_text(f"start_frame,end_frame,label,person\n0,9,a,1\n10,20,b,{cell}\n")
    with pytest.raises(SegmentsError, match=f"row 2: person '{cell}' is not a person id"):
        read_segments(path)


def test_a_person_row_is_named_by_frame_and_person_and_keyed_by_its_segment():
    assert frame_path("dir/pair.mp4", 12, 3) == "pair.mp4#000012@p3"
    assert parse_frame_path("pair.mp4#000012@p3") == ("pair.mp4", 12)
    rows = pd.DataFrame({"path": ["pair.mp4#000012@p3", "pair.mp4#000012@p1"],
                         "segment_person": [0, 1]})
    assert list(row_keys(rows)) == ["pair.mp4#000012@p0", "pair.mp4#000012@p1"]


# -- the command on two people side by side ------------------------------------------------------
@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    videos = shared_data_or_skip() / "videos"
    folder = tmp_path_factory.mktemp("extract_people")
    return make_pair_video(videos / "squat.mp4", videos / "yoga.mp4", folder / "pair.mp4", PLAN)


def extract(pair, segments, table, *more):
    return main(["extract", str(pair), "--segments", str(segments), "--people", "2",
                 "--stride", str(STRIDE), "-o", str(table), "-q", *more])


def sides(df: pd.DataFrame) -> pd.Series:
    """``"left"`` or ``"right"`` per detected row: where the median keypoint is."""
    x = df[[c for c in LANDMARK_COLUMNS if c.endswith("_x")]].median(axis=1)
    return np.where(x < 0.5, "left", "right")


@pytest.fixture(scope="module")
def everyone(pair):
    """The table of one segment for everyone (frames 10-29)."""
    segments = write_segments([Segment(10, 29, "exercise")], pair.parent / "everyone.csv")
    table = pair.parent / "everyone_table.csv"
    assert extract(pair, segments, table) == 0
    return load_table(table)


@pytest.mark.slow
def test_each_person_followed_has_a_row_per_sampled_frame_on_their_own_side(everyone):
    assert list(everyone["frame"]) == [f for f in SAMPLED for _ in (1, 2)]
    assert list(everyone["person"]) == [1, 2] * len(SAMPLED)
    assert list(everyone["path"]) == [f"pair.mp4#{f:06d}@p{p}" for f in SAMPLED for p in (1, 2)]
    assert everyone["detected"].all() and (everyone["label"] == "exercise").all()
    side = pd.Series(sides(everyone)).groupby(everyone["person"].to_numpy()).unique()
    assert sorted(s[0] for s in side) == ["left", "right"]  # one side each, both sides
    assert all(len(s) == 1 for s in side), side


@pytest.fixture(scope="module")
def persons(pair, everyone):
    """The squatter (left) and the yoga person (right) labelled by the ids of the first run:
    the segments file and the table."""
    ids = dict(zip(sides(everyone), everyone["person"], strict=True))
    segments = write_segments([Segment(10, 29, "squat", int(ids["left"])),
                               Segment(10, 29, "yoga", int(ids["right"]))],
                              pair.parent / "persons.csv")
    table = pair.parent / "persons_table.csv"
    assert extract(pair, segments, table) == 0
    return segments, table


@pytest.mark.slow
def test_a_person_column_labels_each_person_with_their_own_segment(pair, everyone, persons,
                                                                   capsys):
    """Each row has its own person's label, and the id and landmarks of the run for everyone;
    a re-run reuses every row."""
    segments, table = persons
    df = load_table(table)
    assert len(df) == 2 * len(SAMPLED)
    assert set(zip(sides(df), df["label"], strict=True)) == {("left", "squat"), ("right", "yoga")}
    same = everyone.set_index("path").loc[df["path"], list(LANDMARK_COLUMNS)].to_numpy()
    np.testing.assert_array_equal(df[list(LANDMARK_COLUMNS)].to_numpy(), same)
    capsys.readouterr()
    assert extract(pair, segments, table) == 0
    assert "extracted 0 in" in capsys.readouterr().out
    pd.testing.assert_frame_equal(load_table(table), df)


@pytest.mark.slow
def test_a_table_of_several_people_trains_a_model_of_one_pose_a_row(persons, tmp_path, capsys):
    _, table = persons
    assert main(["train", str(table), "-o", str(tmp_path / "m.skops"), "--cv", "0",
                 "--no-negatives"]) == 0
    assert f"on {2 * len(SAMPLED)} poses, 2 classes" in capsys.readouterr().out
    assert main(["stats", str(table)]) == 0
