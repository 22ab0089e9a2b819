"""``poseclf demo``: run the whole flow offline on material that ships with the install."""

from __future__ import annotations

import argparse

from ..demo import run_demo
from ._common import EXIT_OK


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole flow on built-in sample material (offline)",
        description="Detect and draw the pose in sample photos, plot it in 3D, and show what "
        "to try next. Everything runs offline on material that ships with the install.",
    )
    parser.add_argument("-o", "--out", default="poseclf-demo", metavar="DIR",
                        help="folder for the pictures (default: ./poseclf-demo)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = run_demo(args.out)
    for line in report.lines:
        print(line)
    print(f"\nPictures written to {report.out_dir}/:")
    for path in report.pictures:
        print(f"  {path}")
    print(
        "\nNext: `poseclf detect YOUR_PHOTO.jpg --draw out/ --plot3d out/` on your own photos,\n"
        "and `poseclf --help` for the dataset, train and video jobs."
    )
    return EXIT_OK
