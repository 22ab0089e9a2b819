"""Several people in one video: each labelled, smoothed and counted on their own.

:func:`label_people` is :func:`~poseclf.video.run.label_frames` for ``--people N`` > 1: a
:class:`~poseclf.video.crops.CropFinder` finds up to N people per frame (BlazePose on the Tasks
backend, on the whole frame and on a crop around each person followed), a
:class:`~poseclf.video.tracking.PersonTracker` gives each an id that follows them, and each id
has its own smoother and counter, made fresh for a new id and dropped when the id ends. Each
frame gives a :class:`PeopleFrame`: one :class:`~poseclf.video.results.FrameResult` per person
the tracker holds (a person missing from the frame is fed to their smoother as absent).
:func:`follow_people` is the finding and tracking alone (``poseclf extract --people N`` uses it
to give each table row its person id).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from ..pose.landmarks import Pose
from .answers import classify_pose
from .counting import RepetitionCounter
from .crops import CropFinder
from .results import FrameResult
from .smoothing import LabelSmoother, seconds_to_frames
from .tracking import PersonTracker

#: A person's smoother and counter (None without ``--count``), made for each new id.
PersonState = tuple[LabelSmoother, RepetitionCounter | None]
PERSON_GAP_S = 2.0  # s a person may be out of the picture and keep their id (--people > 1)


def person_tracker(fps: float) -> PersonTracker:
    """The tracker of a video at ``fps`` frames/s: a person keeps their id for
    :data:`PERSON_GAP_S` out of the picture."""
    return PersonTracker(max_gap=seconds_to_frames(PERSON_GAP_S, fps))


@dataclass(frozen=True)
class PeopleFrame:
    """One frame of a several-people run: a :class:`FrameResult` per person, in id order.

    ``people`` holds every person the tracker still follows, including those missing from this
    frame (their ``pose`` is None); it is empty when nobody has been seen lately.
    """

    index: int
    frame: np.ndarray
    people: tuple[FrameResult, ...] = ()
    rate: float | None = None

    @property
    def fall_event(self) -> None:
        """Falls are watched for one person only (``--falls`` needs ``--people 1``)."""
        return None


def label_people(frames: Iterable[np.ndarray | tuple[np.ndarray, np.ndarray]],
                 finder: CropFinder, model, new_state: Callable[[], PersonState],
                 tracker: PersonTracker, *, reject: bool = True) -> Iterator[PeopleFrame]:
    """Label BGR frames with several people: BlazePose (``finder``, told whom ``tracker``
    follows), the tracker, the model, and a smoother and counter per person id (``new_state()``
    makes them for a new id).

    ``frames`` are BGR arrays or ``(bgr, rgb)`` pairs, as for ``label_frames``.
    """
    classes = tuple(model.classes_)
    states: dict[int, PersonState] = {}
    count_index: int | None = None
    for index, frame, followed in follow_people(frames, finder, tracker):
        people = []
        for person, pose in followed:
            if person not in states:
                states[person] = new_state()
            smoother, counter = states[person]
            proba, reason = classify_pose(model, pose, reject)
            smoothed = smoother.update(proba, absent=reason)
            repetitions = None
            if counter is not None:
                if count_index is None:
                    count_index = counter.index_in(classes)
                counter.update(smoothed.probabilities[count_index] if smoothed.detected
                               else None)
                repetitions = counter.count
            people.append(FrameResult(index, frame, pose, proba, reason, smoothed, repetitions,
                                      classes, None if counter is None else counter.class_name,
                                      person=person))
        live = {p.person for p in people}
        for person in [p for p in states if p not in live]:
            del states[person]  # the id ended: it is never given again
        yield PeopleFrame(index, frame, tuple(people))


def follow_people(frames: Iterable[np.ndarray | tuple[np.ndarray, np.ndarray]],
                  finder: CropFinder, tracker: PersonTracker
                  ) -> Iterator[tuple[int, np.ndarray, list[tuple[int, Pose | None]]]]:
    """``(index, BGR frame, [(person id, pose or None), ...])`` for each frame: the poses
    ``finder`` finds (told whom ``tracker`` follows) and the ids ``tracker`` gives them, every
    person it follows listed in id order (None: missing from this frame).

    ``frames`` are BGR arrays or ``(bgr, rgb)`` pairs, every frame of the video from its first:
    the ids depend on the frames seen before.
    """
    for index, item in enumerate(frames):
        frame, rgb = item if isinstance(item, tuple) else (item, None)
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if rgb is None else rgb
        poses = finder.find(index, rgb, tracker.followed(index))
        yield index, frame, tracker.update(index, poses, frame)
