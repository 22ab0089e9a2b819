"""``poseclf video SOURCE --model MODEL``: label a webcam, file or stream frame by frame."""

from __future__ import annotations

import argparse

from ..counting import ENTER_THRESHOLD, EXIT_THRESHOLD
from ..smoothing import (
    DEFAULT_ALPHA,
    DEFAULT_MARGIN,
    DEFAULT_MAX_MISSING,
    DEFAULT_MAX_MISSING_VIDEO,
    DEFAULT_MIN_FRAMES,
    DEFAULT_WINDOW,
    DEFAULT_WINDOW_VIDEO,
)
from ..video import STOP_INTERRUPTED, run_video
from ._common import EXIT_INTERRUPTED, EXIT_OK, add_extractor_options, extractor_kwargs


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "video",
        help="label a webcam, video file or stream in real time",
        description="Run BlazePose (tracking mode) and a trained model on every frame; show a "
        "stable label with its confidence, a repetition count and the skeleton. Ctrl-C, q or "
        "Esc stop cleanly: the output video and timeline hold every frame processed. Lengths "
        "below are frames (10) or seconds (0.3s, converted with the source's frame rate).",
    )
    parser.add_argument("source", metavar="SOURCE",
                        help="webcam index (0), video file, or stream URL")
    parser.add_argument("--model", required=True, metavar="MODEL",
                        help="trained model file (poseclf train)")
    parser.add_argument("--output", metavar="OUT.mp4",
                        help="write the annotated video (source size and frame rate)")
    parser.add_argument("--timeline", metavar="OUT.csv|OUT.jsonl",
                        help="write one row per frame: labels, confidence, repetitions, "
                        "smoothed probability per class")
    parser.add_argument("--no-window", dest="show", action="store_false",
                        help="do not open a window (headless; needs --output or --timeline "
                        "to keep anything)")
    parser.add_argument("--count", metavar="CLASS",
                        help="count repetitions: entries into this class")
    parser.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    parser.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    parser.add_argument("--no-reject", dest="reject", action="store_false",
                        help="always show a class: never 'unknown' (pose unlike the training "
                        "poses) or 'partial' (key joints hidden)")
    smooth = parser.add_argument_group("smoothing (MediaPipe's EMA, then label hysteresis)")
    smooth.add_argument("--window", default=DEFAULT_WINDOW_VIDEO, metavar="FRAMES",
                        help=f"moving-average window (default: {DEFAULT_WINDOW_VIDEO} = "
                        f"{DEFAULT_WINDOW} frames at 30 fps)")
    smooth.add_argument("--alpha", type=float, default=DEFAULT_ALPHA, metavar="A",
                        help=f"weight decay per frame back in time, (0, 1] "
                        f"(default: {DEFAULT_ALPHA})")
    smooth.add_argument("--min-frames", default=str(DEFAULT_MIN_FRAMES), metavar="FRAMES",
                        help="frames a new label must stay ahead before it is shown "
                        f"(default: {DEFAULT_MIN_FRAMES})")
    smooth.add_argument("--margin", type=float, default=DEFAULT_MARGIN, metavar="P",
                        help="smoothed-probability lead a new label needs "
                        f"(default: {DEFAULT_MARGIN})")
    smooth.add_argument("--max-missing", default=DEFAULT_MAX_MISSING_VIDEO, metavar="FRAMES",
                        help="frames without a person bridged before showing no_person "
                        f"(default: {DEFAULT_MAX_MISSING_VIDEO} = {DEFAULT_MAX_MISSING} frames "
                        "at 30 fps)")
    smooth.add_argument("--enter", type=float, default=ENTER_THRESHOLD, metavar="P",
                        help=f"--count: probability that enters the class "
                        f"(default: {ENTER_THRESHOLD})")
    smooth.add_argument("--exit", type=float, default=EXIT_THRESHOLD, metavar="P",
                        help=f"--count: probability that leaves it (default: {EXIT_THRESHOLD})")
    add_extractor_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = run_video(
        args.source, args.model, output=args.output, timeline=args.timeline, show=args.show,
        count=args.count, window=args.window, alpha=args.alpha, min_frames=args.min_frames,
        margin=args.margin, max_missing=args.max_missing, enter=args.enter, exit=args.exit,
        max_frames=args.max_frames, extractor_kwargs=extractor_kwargs(args),
        progress=not args.quiet, reject=args.reject,
    )
    if not args.quiet:
        reps = "" if report.repetitions is None else (
            f", {report.repetitions} repetitions of {report.count_class}")
        print(f"{report.info.source}: {report.frames} frames ({report.stop_reason}), "
              f"{report.pose_frames} with a person ({report.rejected_frames} of them unknown or "
              f"partial), {report.label_switches} label changes"
              f"{reps}, {report.fps:.1f} frames/s")
        for what, path in (("video", report.output), ("timeline", report.timeline)):
            if path is not None:
                print(f"{what} written to {path}")
    return EXIT_INTERRUPTED if report.stop_reason == STOP_INTERRUPTED else EXIT_OK
