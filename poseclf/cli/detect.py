"""``poseclf detect IMAGE...``: find BlazePose landmarks in photos, print, draw, plot in 3D."""

from __future__ import annotations

import argparse
import json

from ..detect import detect_files
from ..extraction import PoseExtractor
from ._common import EXIT_FAILURE, EXIT_OK, add_extractor_options, extractor_kwargs


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "detect",
        help="find the pose landmarks in images",
        description="Print one line per image (file, people found, mean visibility), or JSON "
        "with the 33 landmarks. Unreadable files are reported and skipped (exit status 1).",
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    parser.add_argument("--json", action="store_true", help="print one JSON object per image")
    parser.add_argument("--draw", metavar="DIR", help="write each image with the skeleton drawn")
    parser.add_argument("--plot3d", metavar="DIR", help="write a 3D plot of the world landmarks")
    parser.add_argument("--num-poses", type=int, default=1, metavar="N",
                        help="people per image (needs --backend tasks; default: 1)")
    add_extractor_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    failures = 0
    with PoseExtractor(num_poses=args.num_poses, **extractor_kwargs(args)) as extractor:
        for found in detect_files(args.images, extractor, draw_dir=args.draw,
                                  plot3d_dir=args.plot3d):
            if not found.ok:
                failures += 1
            if args.json:
                print(json.dumps(found.to_dict()))
            elif found.ok:
                vis = found.mean_visibility
                shown = "-" if vis is None else f"{vis:.2f}"
                print(f"{found.path}\tpeople={len(found.poses)}\tmean_visibility={shown}")
            else:
                print(f"{found.path}\terror: {found.error}")
    if args.draw:
        print(f"drawn poses written to {args.draw}/")
    if args.plot3d:
        print(f"3D plots written to {args.plot3d}/")
    return EXIT_FAILURE if failures else EXIT_OK
