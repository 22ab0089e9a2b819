"""Labelled video: from a camera, file or stream to an annotated video and timeline.

Sources (webcam, file, stream; bounded waits) are in :mod:`poseclf.pose.video_sources`; the outputs
(mp4, timeline, their staging under temporary names, the window) in
:mod:`poseclf.video.outputs`; the frame loop that feeds them in :mod:`poseclf.video.loop`; what it
gives (:class:`FrameResult`, :class:`VideoReport`) in :mod:`poseclf.video.results`.

:func:`label_frames` labels frames one by one: BlazePose in video (tracking) mode, the model's
class probabilities, :class:`~poseclf.video.smoothing.LabelSmoother` and
:class:`~poseclf.video.counting.RepetitionCounter`. :func:`run_video` is the one frame loop of
poseclf: it opens the source and the sinks, and sends what ``label_frames`` gives to them (the
overlays of :mod:`poseclf.pictures.draw`, the files, an optional window). Ctrl-C, SIGTERM, the
end of a file or a camera that disappears all end the loop cleanly: every frame processed so far
is in the video and the timeline, and both files are closed properly (playable, complete rows).

Nothing is lost on a bad input: every setting, both outputs (known extension, writable folder,
neither the source nor each other) and the source's first frame are checked before BlazePose
starts, and the outputs are written under temporary names and renamed at the end, so an
existing file is only ever replaced by a complete one.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from threadpoolctl import threadpool_limits

from ..files import check_output_file
from ..pose.blazepose import warn_if_mismatched
from ..pose.landmarks import Pose
from ..pose.video_sources import (
    DEFAULT_TIMEOUT_S,
    VideoError,
    VideoInfo,
    is_live_source,
    iter_frames,
    open_with_first_frame,
    parse_source,
)
from .answers import classify_pose as _classify
from .counting import RepetitionCounter
from .crops import CropFinder
from .falls import DEFAULT_FALLS_AFTER_S, FallDetector, FallEventWriter, check_falls_after
from .form_rules import FormRules, load_rules
from .loop import Sinks, StopFlag, Stops, run_frames
from .outputs import (
    FALLS_SUFFIXES,
    WINDOW_TITLE,
    StagedOutputs,
    TimelineWriter,
    VideoSink,
    check_outputs,
    open_window,
)
from .people import label_people, person_tracker
from .prefetch import ReadAhead, bgr_to_rgb
from .reps import REPORT_SUFFIXES, RepetitionTracker, plot_repetitions, write_report
from .results import (
    STOP_END,
    STOP_INTERRUPTED,
    STOP_MAX_FRAMES,
    STOP_QUIT,
    STOP_TERMINATED,
    FrameResult,
    VideoReport,
)
from .smoothing import (
    DEFAULT_ALPHA,
    DEFAULT_MARGIN,
    DEFAULT_MAX_MISSING_VIDEO,
    DEFAULT_MIN_FRAMES,
    DEFAULT_WINDOW_VIDEO,
    LabelSmoother,
    frames_or_seconds,
    seconds_to_frames,
)

if TYPE_CHECKING:
    from ..pose.extraction import ExtractOptions

#: The public names; the stop reasons, FrameResult and VideoReport live in results.py.
__all__ = [
    "STOP_END", "STOP_INTERRUPTED", "STOP_MAX_FRAMES", "STOP_QUIT", "STOP_TERMINATED",
    "FrameResult", "Smoothing", "VideoReport", "label_frames", "load_model", "make_counter",
    "make_smoother_and_counter", "run_video", "smooth_poses",
]

PLOT_SUFFIXES = (".png", ".svg", ".pdf")  # --reps-plot: what matplotlib writes without extras
DEFAULT_FPS = 30.0  # frame times of label_frames when none are given
COUNTER_MAX_MISSING_S = 0.5  # s without a pose the repetition counter bridges
COUNTER_MIN_OUT_S = 0.2  # s out of the counted class before an entry counts (see counting.py)

_StopFlag = StopFlag  # its name here before the loop moved to loop.py


# -- labelling -------------------------------------------------------------------------------
def load_model(model):
    """A :class:`~poseclf.classify.model.PoseModel` from itself or from a model file path.

    The one place the video job turns a ``--model`` argument into a model.
    """
    from ..classify.model import PoseModel

    if isinstance(model, (str, os.PathLike)):
        return PoseModel.load(model)
    return model


def label_frames(frames: Iterable[np.ndarray | tuple[np.ndarray, np.ndarray]], extractor, model,
                 smoother: LabelSmoother,
                 counter: RepetitionCounter | None = None, *,
                 reject: bool = True,
                 reps: RepetitionTracker | None = None, falls: FallDetector | None = None,
                 frame_time: Callable[[int], float] | None = None) -> Iterator[FrameResult]:
    """Label BGR frames one by one: BlazePose, the model, the smoother and the counter.

    The heart of :func:`run_video`, with no window, thread or file: drive it from Python
    (notebooks, tests, an app's own capture loop). ``extractor`` should be in video
    (tracking) mode; frames are read only as results are asked for. ``frames`` are BGR
    arrays, or ``(bgr, rgb)`` pairs from a reader that converts them ahead
    (:class:`~poseclf.video.prefetch.ReadAhead`). ``reps`` (with a ``counter``) measures each
    repetition; call its ``finish()`` after the last frame to close the one still open.
    ``falls`` (:class:`~poseclf.video.falls.FallDetector`) watches for falls;
    ``frame_time(index)`` gives each frame's time in seconds for it (default: the index at
    30 fps).
    """
    if reps is not None and counter is None:
        raise ValueError("measuring repetitions (reps) needs a counter")
    frame_time = frame_time or (lambda index: index / DEFAULT_FPS)
    count_index = None if counter is None else counter.index_in(smoother.classes)
    classes = tuple(smoother.classes)
    count_class = None if counter is None else counter.class_name
    for index, item in enumerate(frames):
        frame, rgb = item if isinstance(item, tuple) else (item, None)
        pose = extractor(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if rgb is None else rgb)
        proba, reason = _classify(model, pose, reject)
        smoothed = smoother.update(proba, absent=reason)
        repetitions = shown = None
        if counter is not None:
            counted = counter.update(smoothed.probabilities[count_index] if smoothed.detected
                                     else None)
            repetitions = counter.count
            if reps is not None:
                shown, _ = reps.update(index, pose, counter.state, counted)
        fall = {}
        if falls is not None:
            event = falls.update(frame_time(index), smoothed.label, smoothed.probabilities, pose,
                                 frame=index)
            fall = {"fall_alarm": falls.alarm, "fall_on_floor_s": falls.on_floor_s,
                    "fall_event": event}
        yield FrameResult(index, frame, pose, proba, reason, smoothed, repetitions, classes,
                          count_class, reps=shown, **fall)


def smooth_poses(poses: Iterable[Pose | None], model, smoother: LabelSmoother, *,
                 reject: bool = True) -> Iterator[tuple[np.ndarray | None, str, object]]:
    """(probabilities, absent reason, smoothed result) of each pose (None: nobody found), as
    :func:`label_frames` makes them from frames: for poses already extracted, e.g. a landmark
    table replayed (``bench/falls.py``)."""
    for pose in poses:
        proba, reason = _classify(model, pose, reject)
        yield proba, reason, smoother.update(proba, absent=reason)


# -- the run ---------------------------------------------------------------------------------
def run_video(
    source: str | int | os.PathLike,
    model,
    *,
    output: str | os.PathLike | None = None,
    timeline: str | os.PathLike | None = None,
    show: bool = False,
    count: str | None = None,
    smoothing: Smoothing | None = None,
    max_frames: int | None = None,
    extract: ExtractOptions | None = None,
    progress: bool = True,
    reject: bool = True,
    timeout: float | None = DEFAULT_TIMEOUT_S,
    reps: str | os.PathLike | None = None,
    rules: FormRules | str | os.PathLike | None = None,
    reps_plot: str | os.PathLike | None = None,
    falls: str | os.PathLike | None = None,
    falls_after: float = DEFAULT_FALLS_AFTER_S,
    people: int = 1,
) -> VideoReport:
    """Label every frame of a video source; write an annotated video and a timeline.

    Parameters
    ----------
    source : str, int or path
        Webcam index (``0`` or ``"0"``), video file, or stream URL.
    model : PoseModel or path
        The classifier (a model file is loaded with :func:`load_model`).
    output : path, optional
        Annotated video (``.mp4``, ``.m4v``, ``.mov`` or ``.avi``) at the source's size and
        frame rate.
    timeline : path, optional
        ``.csv`` or ``.jsonl``: one row per frame (see :class:`TimelineWriter`).
    show : bool, default=False
        Show a window; ``q`` or Esc stops. Without a display (or a GUI in OpenCV) the run goes
        on headless, with one warning.
    count : str, optional
        Class whose entries are counted as repetitions.
    smoothing : Smoothing, optional
        The smoother's and the counter's settings (default: :class:`Smoothing`'s defaults).
    max_frames : int, optional
        Stop after this many frames (1 or more).
    extract : ExtractOptions, optional
        BlazePose settings (:class:`~poseclf.pose.extraction.ExtractOptions`; it always runs in
        video mode).
    progress : bool, default=True
        A tqdm progress bar on stderr.
    reject : bool, default=True
        Frames the model rejects (``"unknown"``, ``"partial"``; see :mod:`poseclf.classify.novelty`)
        are handled like frames without a person: the smoother bridges a few, then shows the reason,
        and they never count as an entry into the counted class. False: always a class.
    timeout : float or None, default=10
        Seconds a camera or stream gets to open and give its first frame, and a stream each
        later frame (None: wait for ever).
    reps : path, optional
        ``.csv`` or ``.jsonl``: every counted repetition measured (start, bottom, end, tempo,
        each angle's min/max/range, the form rules broken; :mod:`poseclf.video.reps`). Needs
        ``count``.
    rules : FormRules, path or name, optional
        Form rules checked on each repetition (a TOML file, or ``"pushups"`` / ``"squats"``;
        :mod:`poseclf.video.form_rules`). Needs ``count``.
    reps_plot : path, optional
        ``.png``, ``.svg`` or ``.pdf``: the angles over time with the repetitions shaded.
        Needs ``count``.

    With any of the three, the overlay also shows the live angles that matter (the rules'
    ``show``, else the key angle) and the last repetition's form, and the report's
    ``measured`` lists the repetitions.
    falls : path, optional
        ``.jsonl``: watch for falls (:class:`~poseclf.video.falls.FallDetector`; the model needs
        a ``lying`` class, e.g. the shipped ``sitstandlie``) and write one line per fall, with a
        PNG snapshot of its annotated frame beside it (``EVENTS_fall1.png``, ...); the overlay
        shows an alarm banner.
    falls_after : float, default=2
        Seconds the person must stay down before a fall is raised (0 or more).
    people : int, default=1
        Up to this many people are followed, each labelled, smoothed and counted on their own
        (:mod:`poseclf.video.people`); above 1 BlazePose runs on the Tasks backend (the
        legacy graph follows one person), the timeline gets a ``person`` column and a row per
        person per frame, and the report's ``people`` has each person's count. ``reps``,
        ``rules``, ``reps_plot`` and ``falls`` follow one person: they need ``people=1``.

    Every setting, the outputs (extension, folder, not the source) and the source's first frame
    are checked before BlazePose starts; a bad one raises :class:`VideoError` and changes no
    file. The video and timeline are written under temporary names beside them and renamed at
    the end, so an existing file is only ever replaced by a complete one, and a failed run
    leaves it as it was.

    Returns
    -------
    VideoReport
        Ctrl-C ends the run early with ``stop_reason="interrupted"``, SIGTERM or SIGHUP with
        ``"terminated"`` (neither raises): the outputs hold every frame processed.
    """
    from ..pose.extraction import ExtractOptions

    if max_frames is not None and (int(max_frames) != max_frames or max_frames < 1):
        raise VideoError(f"max_frames must be an integer >= 1, got {max_frames!r}")
    target = parse_source(source)
    source_file = None if is_live_source(target) else target
    model_file = model if isinstance(model, (str, os.PathLike)) and Path(model).is_file() else None
    output, timeline = check_outputs(output, timeline, inputs=(source_file, model_file))
    extract = check_people(people, extract or ExtractOptions(),
                           one_person=[o for o, v in (("--reps", reps), ("--rules", rules),
                                                      ("--reps-plot", reps_plot),
                                                      ("--falls", falls)) if v is not None])
    measuring = reps is not None or rules is not None or reps_plot is not None
    if measuring and count is None:
        given = next(o for o, v in (("--reps", reps), ("--rules", rules),
                                    ("--reps-plot", reps_plot)) if v is not None)
        raise VideoError(f"{given} measures counted repetitions; give --count CLASS too")
    if rules is not None and not isinstance(rules, FormRules):
        rules = load_rules(rules)
    rules_file = Path(rules.source) if rules is not None and rules.source else None
    reps, reps_plot = check_reps_outputs(
        reps, reps_plot, inputs=(source_file, model_file, rules_file), outputs=(output, timeline))
    try:
        falls_after = check_falls_after(falls_after)
    except ValueError as err:
        raise VideoError(str(err)) from err
    if falls is not None:
        falls = check_output_file(falls, option="--falls", suffixes=FALLS_SUFFIXES,
                                  inputs=[source_file, model_file, output, timeline, reps,
                                          reps_plot])
    model = load_model(model)
    warn_if_mismatched(model.blazepose, extract.blazepose)
    classes = list(model.classes_)
    if count is not None:
        try:
            RepetitionCounter(count).index_in(classes)
        except ValueError as err:
            raise VideoError(str(err)) from err
    detector = None
    if falls is not None:
        try:
            detector = FallDetector(classes, after_s=falls_after)
        except ValueError as err:
            raise VideoError(f"--falls: {err}") from err
    capture, info, first = open_with_first_frame(source, timeout=timeout)
    window_open = False
    try:
        try:
            smoother, counter = make_smoother_and_counter(classes, info, smoothing, count=count)
        except ValueError as err:
            raise VideoError(str(err)) from err
        if counter is not None:
            counter.index_in(classes)  # a class the model lacks: the error lists its classes
        report = VideoReport(info=info, classes=classes, count_class=count,
                             repetitions=0 if counter else None)
        tracker = None
        if measuring and counter is not None:
            settings = smoothing or Smoothing()  # the angles are smoothed like the labels
            tracker = RepetitionTracker(info.fps, rules=rules,
                                        window=frames_or_seconds(settings.window, info.fps),
                                        alpha=settings.alpha)
        staging = StagedOutputs(output, timeline, reps, reps_plot, falls)
        with StopFlag() as signals, staging as staged:
            with (
                VideoSink(staged[output], info) if output else _Null() as video,
                TimelineWriter(staged[timeline], classes, people=people > 1) if timeline
                else _Null() as rows,
                FallEventWriter(staged[falls], falls) if falls else _Null() as events,
            ):
                window_open = bool(show) and open_window()
                sinks = Sinks(video, rows, window=window_open, progress=progress, falls=events)
                with (
                    CropFinder(extract, people) if people > 1
                    else extract.extractor(static_image_mode=False) as extractor,
                    _frames(first, capture, info) as frames,
                    threadpool_limits(limits=1),  # one BLAS thread: the other core is busy
                ):
                    started = time.perf_counter()
                    if people > 1:
                        results = label_people(
                            frames, extractor, model,
                            lambda: make_smoother_and_counter(classes, info, smoothing,
                                                              count=count),
                            person_tracker(info.fps),
                            reject=reject)
                    else:
                        results = label_frames(
                            frames, extractor, model, smoother, counter, reject=reject,
                            reps=tracker, falls=detector,
                            frame_time=(lambda _: time.perf_counter() - started) if info.live
                            else (lambda index: index / info.fps))
                    run_frames(results, info, sinks, Stops(signals, max_frames), report)
            # closed: the mp4 has its index, the timeline every row
            if tracker is not None:
                tracker.finish()
                report.measured = list(tracker.repetitions)
                if reps is not None:
                    write_report(tracker.repetitions, staged[reps])
                if reps_plot is not None:
                    plot_repetitions(tracker, title=f"{Path(info.source).name}: "
                                     f"{len(tracker.repetitions)} repetitions of {count}"
                                     ).savefig(staged[reps_plot], dpi=110)
            if report.frames > 0:
                staged.publish()
                report.output, report.timeline = output, timeline
                report.reps, report.reps_plot, report.falls = reps, reps_plot, falls
    finally:
        capture.release()
        if window_open:
            with contextlib.suppress(cv2.error):
                cv2.destroyWindow(WINDOW_TITLE)
                cv2.waitKey(1)
    return report


def check_people(people: int, extract: ExtractOptions,
                 one_person: Sequence[str] = ()) -> ExtractOptions:
    """The extraction options for ``people`` people (the Tasks backend above 1), after
    checking ``people``; ``one_person`` names the options given that follow one person only."""
    if isinstance(people, bool) or not isinstance(people, int) or people < 1:
        raise VideoError(f"--people {people!r}: give how many people to follow, 1 or more")
    if people == 1:
        return extract
    if one_person:
        raise VideoError(f"{one_person[0]} follows one person; drop it or --people {people}")
    try:
        return extract.for_people(people)
    except ValueError as err:
        raise VideoError(f"--people {people}: {err}") from err


@dataclass(frozen=True)
class Smoothing:
    """How a video's per-frame answers become a stable label and a count.

    ``window``, ``alpha``, ``min_frames``, ``margin`` and ``max_missing`` are
    :class:`~poseclf.video.smoothing.LabelSmoother` settings. Lengths are frames (``10``) or seconds
    (``"0.33s"``, converted with the source's frame rate); the window (0.33 s) and the bridged
    gap (0.17 s) default to seconds, so any frame rate is smoothed alike. ``enter`` and
    ``exit`` are :class:`~poseclf.video.counting.RepetitionCounter` thresholds (None: 0.6 and 0.4).
    """

    window: int | str = DEFAULT_WINDOW_VIDEO
    alpha: float = DEFAULT_ALPHA
    min_frames: int | str = DEFAULT_MIN_FRAMES
    margin: float = DEFAULT_MARGIN
    max_missing: int | str = DEFAULT_MAX_MISSING_VIDEO
    enter: float | None = None
    exit: float | None = None


def make_smoother_and_counter(classes, info: VideoInfo, smoothing: Smoothing | None = None, *,
                              count: str | None = None):
    """The smoother (and the counter of class ``count``) :func:`run_video` uses for a source;
    lengths in frames or seconds (``"0.33s"``) are converted with ``info.fps``."""
    s = smoothing or Smoothing()
    smoother = LabelSmoother(
        classes,
        window=frames_or_seconds(s.window, info.fps),
        alpha=s.alpha,
        min_frames=frames_or_seconds(s.min_frames, info.fps),
        margin=s.margin,
        max_missing=frames_or_seconds(s.max_missing, info.fps, minimum=0),
    )
    counter = None
    if count is not None:
        counter = make_counter(count, info.fps, enter=s.enter, exit=s.exit)
        counter.index_in(classes)
    return smoother, counter


def check_reps_outputs(reps, reps_plot, *, inputs=(), outputs=()) -> tuple[Path | None,
                                                                           Path | None]:
    """Check ``--reps`` (.csv, .jsonl) and ``--reps-plot`` (.png, .svg, .pdf) before the first
    frame: a known extension, a writable folder, none of the ``inputs`` (source, model, rules
    file) nor another output."""
    from ..files import check_output_file

    checked: list[Path | None] = []
    taken = [p for p in outputs if p is not None]
    for option, path, suffixes in (("--reps", reps, REPORT_SUFFIXES),
                                   ("--reps-plot", reps_plot, PLOT_SUFFIXES)):
        if path is None:
            checked.append(None)
            continue
        try:
            path = check_output_file(path, option=option, suffixes=suffixes,
                                     inputs=[*[i for i in inputs if i is not None], *taken])
        except ValueError as err:
            raise VideoError(str(err)) from err
        taken.append(path)
        checked.append(path)
    return checked[0], checked[1]


def make_counter(count: str, fps: float, *, enter: float | None = None,
                 exit: float | None = None) -> RepetitionCounter:
    """The repetition counter ``run_video`` uses at ``fps``: gaps of up to 0.5 s bridged, an
    out phase of at least 0.2 s before an entry counts; ``None`` thresholds keep the defaults."""
    thresholds = {k: v for k, v in (("enter", enter), ("exit", exit)) if v is not None}
    return RepetitionCounter(count, max_missing=seconds_to_frames(COUNTER_MAX_MISSING_S, fps),
                             min_out=seconds_to_frames(COUNTER_MIN_OUT_S, fps), **thresholds)


@contextlib.contextmanager
def _frames(first: np.ndarray, capture: cv2.VideoCapture, info: VideoInfo) -> Iterator:
    """The source's frames from ``first`` on; a file's are decoded ahead in a thread.

    A live source is read in the loop's thread: reading ahead would only add latency, and a
    stream's read can wait up to its timeout, which the thread could not be stopped during.
    """
    frames = itertools.chain([first], iter_frames(capture))
    if info.live:
        yield frames
        return
    with ReadAhead(frames, convert=bgr_to_rgb) as ahead:
        yield ahead


class _Null:
    """Stand-in for a sink that is not wanted."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> None:
        return None
