"""``poseclf detect IMAGE...``: find BlazePose landmarks in photos, print, draw, plot in 3D."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import InputError
from ._common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    add_extractor_options,
    extract_options,
    positive_int,
)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "detect",
        help="find the pose landmarks in images",
        description="Print one line per image (file, people found, mean visibility), or JSON "
        "with the 33 landmarks. A file that cannot be read as an image is reported on stderr, "
        "one line each, and skipped (exit status 1).",
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE|DIR",
                        help="image files, or folders of images (searched recursively)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per image")
    parser.add_argument("--draw", metavar="DIR",
                        help="write each image with the skeleton drawn (DIR/<name>_pose.png; "
                        "images sharing a name go into subfolders named after their folders)")
    parser.add_argument("--plot3d", metavar="DIR",
                        help="write a 3D plot of the world landmarks (DIR/<name>_3d.png)")
    parser.add_argument("--num-poses", type=positive_int, default=1, metavar="N",
                        help="people per image, 1 or more (more needs --backend tasks; "
                        "default: 1)")
    add_extractor_options(parser)
    parser.set_defaults(func=run)


def check_images(command: str, paths: Sequence[str],
                 outputs: dict[str, tuple[str | None, str]]) -> list[Path] | None:
    """The images a command line names, with its output folders checked before any work.

    ``outputs`` maps an option (``--draw``) to its folder (or None) and the ending of the files
    written there. Prints one line per problem (a missing path, a pipe or device, a folder
    without images, an output folder that is a file or not writable, an output that would
    replace an input) and returns None when there is any.
    """
    from ..files import check_output_dir
    from ..pose.image_paths import check_image_arguments, output_paths

    folders = [folder for folder, _ in outputs.values() if folder is not None]
    images, problems = check_image_arguments(paths, skip=folders)
    for option, (folder, ending) in outputs.items():
        if folder is not None:
            try:
                check_output_dir(folder, option=option, inputs=paths)
                output_paths(images, folder, ending, option=option)
            except InputError as err:
                problems.append(err)
    for err in problems:
        report_unreadable(command, str(err))
    return None if problems else images


def shown(text: str | os.PathLike) -> str:
    """A path or message as printable text (:func:`poseclf.pictures.detect.printable`)."""
    from ..pictures.detect import printable  # OpenCV with it: not at start-up

    return printable(text)


def report_unreadable(command: str, error: str) -> None:
    """One stderr line for a problem with an input (for an unreadable image, the run goes on)."""
    print(f"poseclf {command}: error: {shown(' '.join(error.split()))}", file=sys.stderr)




def run(args: argparse.Namespace) -> int:
    from ..pictures.detect import DRAWING_ENDING, PLOT_ENDING, detect_files

    images = check_images("detect", args.images, {"--draw": (args.draw, DRAWING_ENDING),
                                                  "--plot3d": (args.plot3d, PLOT_ENDING)})
    if images is None:
        return EXIT_USAGE
    failures = 0
    with extract_options(args).extractor(num_poses=args.num_poses) as extractor:
        for found in detect_files(images, extractor, draw_dir=args.draw,
                                  plot3d_dir=args.plot3d):
            if not found.ok:
                failures += 1
                report_unreadable("detect", found.error)
            if args.json:
                print(json.dumps(found.to_dict()))
            elif found.ok:
                vis = found.mean_visibility
                visibility = "-" if vis is None else f"{vis:.2f}"
                print(f"{shown(found.path)}\tpeople={len(found.poses)}\t"
                      f"mean_visibility={visibility}")
    if args.draw:
        print(f"drawn poses written to {args.draw}/")
    if args.plot3d:
        print(f"3D plots written to {args.plot3d}/")
    return EXIT_FAILURE if failures else EXIT_OK
