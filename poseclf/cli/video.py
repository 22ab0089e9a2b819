"""``poseclf video SOURCE --model MODEL``: label a webcam, file or stream frame by frame."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable

from ..errors import InputError
from ..pose.defaults import DEFAULT_TIMEOUT_S
from ..video.counting import ENTER_THRESHOLD, EXIT_THRESHOLD
from ..video.defaults import (
    DEFAULT_ALPHA,
    DEFAULT_FALLS_AFTER_S,
    DEFAULT_MARGIN,
    DEFAULT_MAX_MISSING,
    DEFAULT_MAX_MISSING_VIDEO,
    DEFAULT_MIN_FRAMES,
    DEFAULT_WINDOW,
    DEFAULT_WINDOW_VIDEO,
    TIMELINE_SUFFIXES,
    VIDEO_CODECS,
)
from ._common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    add_extractor_options,
    extract_options,
    float_in,
    positive_int,
    probability,
)


def length(minimum: int) -> Callable[[str], int | float]:
    """Option type: frames (an integer >= ``minimum``) or seconds (``0.3s``), checked at parse.

    Returns the text unchanged (converted with the source's frame rate once it is open).
    """
    def parse(text: str) -> str:
        from ..video.smoothing import parse_length

        try:
            parse_length(text, minimum=minimum)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
        return text
    parse.__name__ = "length"
    return parse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "video",
        help="label a webcam, video file or stream in real time",
        description="Run BlazePose (tracking mode) and a trained model on every frame; show a "
        "stable label with its confidence, a repetition count and the skeleton. Ctrl-C, q, Esc "
        "or SIGTERM stop cleanly: the output video and timeline hold every frame processed. "
        "Both are written under temporary names and renamed at the end, so an existing file is "
        "only replaced by a complete one. Without a display the window is left out (one "
        "warning). Lengths below are frames (10) or seconds (0.3s, converted with the source's "
        "frame rate).",
    )
    parser.add_argument("source", metavar="SOURCE",
                        help="webcam index (0), video file, or stream URL")
    parser.add_argument("--model", required=True, metavar="MODEL",
                        help="trained model file (poseclf train) or shipped model name")
    parser.add_argument("--output", metavar="OUT.mp4",
                        help="write the annotated video (source size and frame rate; "
                        f"{', '.join(VIDEO_CODECS)})")
    parser.add_argument("--timeline", metavar="OUT.csv|OUT.jsonl",
                        help="write one row per frame: labels, confidence, repetitions, "
                        "smoothed probability per class")
    parser.add_argument("--no-window", dest="show", action="store_false",
                        help="do not open a window (headless; only the summary is printed "
                        "unless --output or --timeline keep the labels)")
    parser.add_argument("--count", metavar="CLASS",
                        help="count repetitions: entries into this class")
    parser.add_argument("--reps", metavar="REPS.csv|REPS.jsonl",
                        help="--count: write every repetition measured (start, bottom, end, "
                        "time down/up, each joint angle's min/max/range, form rules broken)")
    parser.add_argument("--rules", metavar="FILE.toml|pushups|squats",
                        help="--count: form rules checked on each repetition (a TOML file or a "
                        "shipped one); the overlay shows the verdict")
    parser.add_argument("--reps-plot", metavar="REPS.png",
                        help="--count: draw the joint angles over time with the repetitions "
                        "shaded and broken rules marked (.png, .svg, .pdf)")
    parser.add_argument("--people", type=positive_int, default=1, metavar="N",
                        help="follow up to N people, each labelled, smoothed and counted on "
                        "their own, in their own colour; above 1 BlazePose runs on the Tasks "
                        "backend and the timeline has a person column (default: 1)")
    parser.add_argument("--max-frames", type=positive_int, metavar="N",
                        help="stop after N frames (1 or more)")
    parser.add_argument("--timeout", type=float_in(0, math.inf, low_open=True, high_open=True),
                        default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                        help="how long a camera or stream may take to open and give a frame "
                        f"(default: {DEFAULT_TIMEOUT_S:g})")
    parser.add_argument("--falls", metavar="EVENTS.jsonl",
                        help="watch for falls (the model needs a 'lying' class: --model "
                        "sitstandlie): one JSON line per fall (start, time on the floor, "
                        "confidence) and a PNG snapshot beside it (EVENTS_fall1.png, ...); the "
                        "overlay shows an alarm banner")
    parser.add_argument("--falls-after", type=float_in(0, math.inf, high_open=True),
                        metavar="SECONDS",
                        help="with --falls: seconds the person must stay down before a fall is "
                        f"raised, 0 or more (default: {DEFAULT_FALLS_AFTER_S:g})")
    parser.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    parser.add_argument("--no-reject", dest="reject", action="store_false",
                        help="always show a class: never 'unknown' (pose unlike the training "
                        "poses) or 'partial' (key joints hidden)")
    smooth = parser.add_argument_group("smoothing (MediaPipe's EMA, then label hysteresis)")
    smooth.add_argument("--window", type=length(1), default=DEFAULT_WINDOW_VIDEO,
                        metavar="FRAMES",
                        help=f"moving-average window, 1 frame or more (default: "
                        f"{DEFAULT_WINDOW_VIDEO} = {DEFAULT_WINDOW} frames at 30 fps)")
    smooth.add_argument("--alpha", type=float_in(0, 1, low_open=True), default=DEFAULT_ALPHA,
                        metavar="A", help=f"weight decay per frame back in time, in (0, 1] "
                        f"(default: {DEFAULT_ALPHA})")
    smooth.add_argument("--min-frames", type=length(1), default=str(DEFAULT_MIN_FRAMES),
                        metavar="FRAMES",
                        help="frames a new label must stay ahead before it is shown, 1 or more "
                        f"(default: {DEFAULT_MIN_FRAMES})")
    smooth.add_argument("--margin", type=float_in(0, 1, high_open=True), default=DEFAULT_MARGIN,
                        metavar="P", help="smoothed-probability lead a new label needs, in "
                        f"[0, 1) (default: {DEFAULT_MARGIN})")
    smooth.add_argument("--max-missing", type=length(0), default=DEFAULT_MAX_MISSING_VIDEO,
                        metavar="FRAMES",
                        help="frames without a person bridged before showing no_person, 0 or "
                        f"more (default: {DEFAULT_MAX_MISSING_VIDEO} = {DEFAULT_MAX_MISSING} "
                        "frames at 30 fps)")
    smooth.add_argument("--enter", type=probability, metavar="P",
                        help="--count: probability that enters the class, in [0, 1], above "
                        f"--exit (default: {ENTER_THRESHOLD})")
    smooth.add_argument("--exit", type=probability, metavar="P",
                        help="--count: probability that leaves it, in [0, 1], below --enter "
                        f"(default: {EXIT_THRESHOLD})")
    add_extractor_options(parser)
    parser.set_defaults(func=run)


def check_options(args: argparse.Namespace) -> None:
    """The checks that involve several options; an :class:`InputError` names them and the fix."""
    from ..video.outputs import display_problem

    if args.count is None and (args.enter is not None or args.exit is not None):
        given = "--enter" if args.enter is not None else "--exit"
        raise InputError(f"{given} sets a threshold of --count; give --count CLASS too")
    for option, value in (("--reps", args.reps), ("--rules", args.rules),
                          ("--reps-plot", args.reps_plot)):
        if value is not None and args.count is None:
            raise InputError(f"{option} measures counted repetitions; give --count CLASS too")
    enter = ENTER_THRESHOLD if args.enter is None else args.enter
    exit_ = EXIT_THRESHOLD if args.exit is None else args.exit
    if not exit_ < enter:
        raise InputError(f"--exit {exit_:g} must be below --enter {enter:g} (defaults "
                         f"{EXIT_THRESHOLD:g} and {ENTER_THRESHOLD:g}); need 0 <= exit < enter "
                         "<= 1")
    if args.falls_after is not None and args.falls is None:
        raise InputError("--falls-after sets the wait of --falls; give --falls EVENTS.jsonl too")
    if args.quiet and not (args.output or args.timeline or args.reps or args.reps_plot
                           or args.falls) and (
            not args.show or display_problem() is not None):
        raise InputError("nothing would be shown or kept (no window, --quiet, no --output or "
                         "--timeline); give --output OUT.mp4 or --timeline "
                         f"OUT{TIMELINE_SUFFIXES[0]}, or drop --quiet for the summary")


def run(args: argparse.Namespace) -> int:
    from ..pose.video_sources import SourceTimeout
    from ..video.run import STOP_TERMINATED, Smoothing, run_video

    check_options(args)
    if not getattr(args, "verbose", False):
        # FFmpeg's decoder messages ("moov atom not found", ...) would come before our own
        # one-line error; -v (or OPENCV_FFMPEG_LOGLEVEL) keeps them.
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "0")
    try:
        report = run_video(
            args.source, args.model, output=args.output, timeline=args.timeline,
            show=args.show, count=args.count, smoothing=Smoothing(
                window=args.window, alpha=args.alpha, min_frames=args.min_frames,
                margin=args.margin, max_missing=args.max_missing, enter=args.enter,
                exit=args.exit),
            max_frames=args.max_frames, extract=extract_options(args), progress=not args.quiet,
            reject=args.reject, timeout=args.timeout, reps=args.reps, rules=args.rules,
            reps_plot=args.reps_plot, falls=args.falls, people=args.people,
            falls_after=(DEFAULT_FALLS_AFTER_S if args.falls_after is None
                         else args.falls_after),
        )
    except SourceTimeout as err:
        # The abandoned open is still inside OpenCV: a normal interpreter shutdown would abort
        # ("terminate called ..."). Nothing was started or written: say why and leave at once.
        print(f"poseclf video: error: {' '.join(str(err).split())}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(err.exit_status)
    if not args.quiet:
        reps = "" if report.repetitions is None else (
            f", {report.repetitions} repetitions of {report.count_class}")
        if args.people > 1:
            reps = f", {len(report.people)} people followed (ids)"
        print(f"{report.info.source}: {report.frames} frames ({report.stop_reason}), "
              f"{report.pose_frames} with a person ({report.rejected_frames} of them unknown or "
              f"partial), {report.label_switches} label changes"
              f"{reps}, {report.fps:.1f} frames/s")
        for person, tally in sorted(report.people.items()):
            count = ("" if tally.repetitions is None
                     else f", {tally.repetitions} repetitions of {report.count_class}")
            print(f"  person {person}: frames {tally.first_frame}-{tally.last_frame}, "
                  f"{tally.pose_frames} with a pose{count}")
        if args.reps or args.rules or args.reps_plot:
            from ..video.reps import report_text

            print(report_text(report.measured))
        if report.falls is not None or args.falls:
            print(f"{len(report.fall_events)} fall(s)" + "".join(
                f"; at {e.start_s:.1f} s, on the floor {e.on_floor_s:.1f} s when raised "
                f"(confidence {e.confidence:.2f})" for e in report.fall_events))
        for what, path in (("video", report.output), ("timeline", report.timeline),
                           ("repetitions", report.reps), ("repetition plot", report.reps_plot),
                           ("fall events", report.falls)):
            if path is not None:
                print(f"{what} written to {path}")
    if report.interrupted:
        kept = (f"the outputs hold its {report.frames} frames" if report.output or report.timeline
                else "no output written")
        print(f"poseclf video: {report.stop_reason} ({kept})", file=sys.stderr)
        return EXIT_TERMINATED if report.stop_reason == STOP_TERMINATED else EXIT_INTERRUPTED
    return EXIT_OK

