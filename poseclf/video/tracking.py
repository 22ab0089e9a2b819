"""Who is who across frames: a person id for every pose BlazePose finds in a frame.

:class:`PersonTracker` keeps an id on each person while they move, cross, leave and come back
within ``max_gap`` frames. Each frame is matched in two stages, each an optimal one-to-one
assignment (:func:`scipy.optimize.linear_sum_assignment`):

1. **motion**: a pose near where a track was last seen (mean distance of the keypoints both
   see, in the track's torso lengths, at most ``max_move`` per frame since it was seen) takes
   that track's id, unless their looks clearly differ;
2. **looks**: the poses left over are matched to the people left over, lost ones included, by
   the colour histogram of the torso and the size of the body: a person who left the picture and
   came back, or two people who changed places faster than the motion stage allows.

A pose left after both starts a *candidate*, followed by motion but not reported. Once seen in
``min_frames`` frames in a row it becomes a person: the one it looks like among the people not
seen in this frame, else, when nobody is missing or after :data:`REIDENTIFY_FRAMES` frames, a
new id (BlazePose's first frames on a person who jumped are often off in size and colour). A
candidate missed once is dropped (a one-frame false detection never gets an id), and one that
lies on a person seen in the frame (:data:`ON_SOMEONE_OVERLAP`) waits; a person not
seen for more than ``max_gap`` frames ends, and the id is never given again. Two poses on one
person (the keypoints' boxes overlap more than :data:`DUPLICATE_IOU`) count once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from ..pose.landmarks import VISIBILITY_THRESHOLD, Pose

TORSO = (11, 12, 23, 24)  # shoulders and hips
HUE_BINS, SATURATION_BINS = 16, 8
MIN_TORSO_PX = 8.0  # below this the torso length is taken from the keypoints' box
# Torso lengths a person may move between two frames. On the two-person dev video 90% of the
# matched moves are under 0.06; BlazePose re-locking on a person jumps 0.5-0.9 (re-identified by
# looks instead), and its first frame after the halves swap sits 0.6 from the old place.
DEFAULT_MAX_MOVE = 0.4
DEFAULT_MAX_LOOKS = 0.6  # Bhattacharyya distance of the torso colours that still re-identifies
MOTION_MAX_LOOKS = 0.85  # looks further apart than this veto a motion match
MAX_SIZE_RATIO = 2.0  # torso lengths further apart than this never re-identify
LOOKS_MEMORY = 0.9  # weight of a track's earlier colour histogram in its running average
DEFAULT_MIN_FRAMES = 3  # frames in a row a new pose is seen before it is a person
# Frames in a row a new pose that looks like nobody waits, while someone is missing, before it
# gets a new id: BlazePose's first frames on a person who jumped (two people changing places at
# once) have the wrong size and colours (on the dev pair 3 frames: looks 0.67, 1.6x the size).
REIDENTIFY_FRAMES = 10
DUPLICATE_IOU = 0.6  # keypoint boxes overlapping more than this are one person found twice
DUPLICATE_OVERLAP = 0.6  # share of a box inside another's past which the two are one person
# Share of the smaller of a candidate's and a person's boxes inside the other past which the
# candidate does not become a person while that person is seen: a second pose on someone (the
# Tasks landmarker tracking a part of them, or a cross-fade's second image) is not a new person.
# On the swapped dev pair such poses overlapped the squatter by 0.25-0.41.
ON_SOMEONE_OVERLAP = 0.1


@dataclass(eq=False)
class Track:
    """One person (or candidate) followed over frames: last pose, when it was seen, how it
    looks; ``id`` is None while it is a candidate."""

    pose: Pose
    seen: int  # index of the last frame it was matched in
    looks: np.ndarray | None = None  # running colour histogram of the torso
    id: int | None = None
    frames: int = 1  # frames it was matched in
    matched: bool = field(default=True, compare=False)  # matched in the current frame

    def take(self, pose: Pose, index: int, looks: np.ndarray | None) -> None:
        """Match ``pose`` of frame ``index`` to this track."""
        self.pose, self.seen, self.matched = pose, index, True
        self.frames += 1
        self.looks = _blend(self.looks, looks, max(1 - 1 / self.frames, LOOKS_MEMORY))


class PersonTracker:
    """Give the poses of each frame the ids of the people they belong to.

    Parameters
    ----------
    max_gap : int, default=30
        Frames a person may be missing (left the picture, hidden, not found) and come back
        under the same id.
    max_move : float, default=0.4
        Torso lengths a person may move from one frame to the next and still be matched by
        position.
    max_looks : float, default=0.6
        Largest colour-histogram distance (Bhattacharyya, 0 same, 1 disjoint) at which a pose
        left over by the motion stage is re-identified as a missing or displaced person.
    min_frames : int, default=3
        Frames in a row a new pose must be seen before it is reported as a person.

    Examples
    --------
    >>> tracker = PersonTracker(max_gap=15)
    >>> tracker.update(0, [], None)
    []
    """

    def __init__(self, max_gap: int = 30, max_move: float = DEFAULT_MAX_MOVE,
                 max_looks: float = DEFAULT_MAX_LOOKS,
                 min_frames: int = DEFAULT_MIN_FRAMES) -> None:
        if int(max_gap) != max_gap or max_gap < 0:
            raise ValueError(f"max_gap must be an integer >= 0, got {max_gap!r}")
        if int(min_frames) != min_frames or min_frames < 1:
            raise ValueError(f"min_frames must be an integer >= 1, got {min_frames!r}")
        if not max_move > 0:
            raise ValueError(f"max_move must be > 0, got {max_move!r}")
        if not 0 <= max_looks <= 1:
            raise ValueError(f"max_looks must be in [0, 1], got {max_looks!r}")
        self.max_gap, self.max_move, self.max_looks = int(max_gap), float(max_move), max_looks
        self.min_frames = int(min_frames)
        self.tracks: list[Track] = []
        self._next_id = 1

    def update(self, index: int, poses: list[Pose],
               frame_bgr: np.ndarray | None) -> list[tuple[int, Pose | None]]:
        """Match the ``poses`` of frame ``index``; returns ``(id, pose)`` for every live track,
        in id order, with ``pose`` None for a person missing from this frame.

        ``frame_bgr`` (None: positions only) gives the colours that re-identify people.
        """
        self.tracks = [t for t in self.tracks
                       if index - t.seen <= (self.max_gap if t.id is not None else 1)]
        poses = without_duplicates(poses)
        looks = [_looks(frame_bgr, p) for p in poses]
        for track in self.tracks:
            track.matched = False
        left = self._match_by_motion(index, poses, looks, range(len(poses)))
        left = self._match_by_looks(index, poses, looks, left)
        self.tracks += [Track(poses[i], index, looks[i]) for i in left]
        self._promote(index)
        people = sorted((t for t in self.tracks if t.id is not None), key=lambda t: t.id)
        return [(t.id, t.pose if t.matched else None) for t in people]

    def followed(self, index: int) -> list[Pose]:
        """The last pose of everyone who may still be in frame ``index``: the people (in id
        order), then the candidates seen in the frame before."""
        people = sorted((t for t in self.tracks if t.id is not None and index - t.seen
                         <= self.max_gap), key=lambda t: t.id)
        return [t.pose for t in people] + [t.pose for t in self.tracks
                                           if t.id is None and index - t.seen <= 1]

    def _promote(self, index: int) -> None:
        """Candidates seen ``min_frames`` times become people: a missing one they look like,
        else a new id; not while they lie on a person seen in this frame."""
        for candidate in [t for t in self.tracks if t.id is None]:
            if candidate.frames < self.min_frames or any(
                    t.id is not None and t.matched
                    and box_overlap(candidate.pose, t.pose) > ON_SOMEONE_OVERLAP
                    for t in self.tracks):
                continue
            missing = [t for t in self.tracks if t.id is not None and not t.matched]
            cost = [self._looks_cost(t, candidate.pose, candidate.looks) for t in missing]
            if missing and np.isfinite(min(cost)):
                person = missing[int(np.argmin(cost))]
                person.pose, person.seen, person.matched = candidate.pose, index, True
                person.looks = _blend(person.looks, candidate.looks, LOOKS_MEMORY)
                self.tracks.remove(candidate)
            elif not missing or candidate.frames >= max(REIDENTIFY_FRAMES, self.min_frames):
                candidate.id = self._next_id
                self._next_id += 1

    def _looks_cost(self, track: Track, pose: Pose, looks: np.ndarray | None) -> float:
        """Colour distance of ``pose`` to ``track``: inf past ``max_looks`` or a body size
        more than :data:`MAX_SIZE_RATIO` apart."""
        ratio = torso_length(pose) / torso_length(track.pose)
        distance = looks_distance(track.looks, looks, unknown=np.inf)
        if distance <= self.max_looks and 1 / MAX_SIZE_RATIO <= ratio <= MAX_SIZE_RATIO:
            return distance
        return np.inf

    # -- the two stages ------------------------------------------------------------------
    def _match_by_motion(self, index: int, poses, looks, candidates) -> list[int]:
        """Match by position: every track, candidates included."""
        candidates = list(candidates)
        tracks = [t for t in self.tracks if not t.matched]
        cost = np.full((len(tracks), len(candidates)), np.inf)
        for r, track in enumerate(tracks):
            allowed = self.max_move * np.sqrt(max(index - track.seen, 1))
            for c, i in enumerate(candidates):
                moved = motion_distance(track.pose, poses[i])
                if moved <= allowed and looks_distance(track.looks, looks[i]) <= MOTION_MAX_LOOKS:
                    cost[r, c] = moved
        return self._assign(index, tracks, candidates, cost, poses, looks)

    def _match_by_looks(self, index: int, poses, looks, candidates) -> list[int]:
        tracks = [t for t in self.tracks if not t.matched and t.id is not None]
        cost = np.array([[self._looks_cost(t, poses[i], looks[i]) for i in candidates]
                         for t in tracks]).reshape(len(tracks), len(candidates))
        return self._assign(index, tracks, candidates, cost, poses, looks)

    def _assign(self, index: int, tracks: list[Track], candidates: list[int], cost: np.ndarray,
                poses, looks) -> list[int]:
        """Give each track its pose of the cheapest one-to-one matching (finite costs only);
        returns the candidates left."""
        taken = set()
        if tracks and candidates and np.isfinite(cost).any():
            from scipy.optimize import linear_sum_assignment

            finite = np.where(np.isfinite(cost), cost, 1e9)
            for r, c in zip(*linear_sum_assignment(finite), strict=True):
                if not np.isfinite(cost[r, c]):
                    continue
                i = candidates[c]
                tracks[r].take(poses[i], index, looks[i])
                taken.add(i)
        return [i for i in candidates if i not in taken]


# -- measures ------------------------------------------------------------------------------
def keypoints_px(pose: Pose) -> np.ndarray:
    """The (33, 2) keypoints of ``pose`` in pixels."""
    return pose.landmarks[:, :2] * np.asarray(pose.image_size, dtype=np.float32)


def torso_length(pose: Pose) -> float:
    """Pixels from the shoulders' midpoint to the hips' (a third of the keypoints' box height
    when that is too short, e.g. a person seen from above)."""
    xy = keypoints_px(pose)
    length = float(np.linalg.norm(xy[[11, 12]].mean(0) - xy[[23, 24]].mean(0)))
    if length >= MIN_TORSO_PX:
        return length
    return max(float(np.ptp(xy, axis=0).max()) / 3, 1.0)


def motion_distance(before: Pose, after: Pose) -> float:
    """Mean distance between the keypoints both poses see, in ``before``'s torso lengths (all
    33 when they share fewer than 4)."""
    seen = ((before.landmarks[:, 3] >= VISIBILITY_THRESHOLD)
            & (after.landmarks[:, 3] >= VISIBILITY_THRESHOLD))
    if seen.sum() < 4:
        seen[:] = True
    step = np.linalg.norm(keypoints_px(after)[seen] - keypoints_px(before)[seen], axis=1)
    return float(step.mean()) / torso_length(before)


def looks_distance(a: np.ndarray | None, b: np.ndarray | None, unknown: float = 0.0) -> float:
    """Bhattacharyya distance of two torso colour histograms; ``unknown`` when one is missing."""
    if a is None or b is None:
        return unknown
    return float(cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA))


def _looks(frame_bgr: np.ndarray | None, pose: Pose) -> np.ndarray | None:
    """Hue-saturation histogram of the torso's box (shoulders and hips), or None when there is
    no frame or the box is off the picture or a few pixels wide."""
    if frame_bgr is None:
        return None
    height, width = frame_bgr.shape[:2]
    xy = pose.landmarks[list(TORSO), :2] * (width, height)
    x0, y0 = np.floor(xy.min(0)).astype(int)
    x1, y1 = np.ceil(xy.max(0)).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    hsv = cv2.cvtColor(frame_bgr[y0:y1, x0:x1], cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [HUE_BINS, SATURATION_BINS], [0, 180, 0, 256])
    return cv2.normalize(hist, None, 1.0, 0.0, cv2.NORM_L1)


def without_duplicates(poses: list[Pose]) -> list[Pose]:
    """``poses`` without the later of two whose keypoint boxes overlap more than
    :data:`DUPLICATE_IOU` (BlazePose finding one person twice)."""
    kept: list[Pose] = []
    for pose in poses:
        if all(box_iou(pose, other) <= DUPLICATE_IOU for other in kept):
            kept.append(pose)
    return kept


def box_iou(a: Pose, b: Pose) -> float:
    """Intersection over union of the boxes around two poses' keypoints."""
    (ax0, ay0), (ax1, ay1) = _box(a)
    (bx0, by0), (bx1, by1) = _box(b)
    inter = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return inter / union if union > 0 else 0.0


def box_overlap(a: Pose, b: Pose) -> float:
    """The share of the smaller of two poses' keypoint boxes that lies inside the other."""
    (ax0, ay0), (ax1, ay1) = _box(a)
    (bx0, by0), (bx1, by1) = _box(b)
    inter = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    smaller = min((ax1 - ax0) * (ay1 - ay0), (bx1 - bx0) * (by1 - by0))
    return inter / smaller if smaller > 0 else 0.0


def _box(pose: Pose) -> tuple[np.ndarray, np.ndarray]:
    xy = keypoints_px(pose)
    return xy.min(0), xy.max(0)


def _blend(old: np.ndarray | None, new: np.ndarray | None,
           memory: float = LOOKS_MEMORY) -> np.ndarray | None:
    if old is None or new is None:
        return new if old is None else old
    return memory * old + (1 - memory) * new
