"""``poseclf demo``: run the whole flow offline on material that ships with the install."""

from __future__ import annotations

import argparse

from ..files import check_output_dir
from ._common import EXIT_OK

NEXT_STEPS = """\
What to try next:
  poseclf detect YOUR_PHOTO.jpg --draw out/ --plot3d out/      the pose in your own photos
  poseclf predict --model yoga YOUR_PHOTO.jpg --draw out/      a shipped model (poseclf models)
  poseclf extract MY_PHOTOS/ -o my.csv                         one sub-folder per class
  poseclf train my.csv -o my.skops --card my.md                train, cross-validate, document
  poseclf video 0 --model my.skops                             live labels on the webcam"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole flow on built-in sample material (offline)",
        description="Detect and draw the pose in sample photos, plot it in 3D, classify it "
        "with a shipped model, and train a small classifier on a shipped landmark table. "
        "Everything runs offline on material that ships with the install.",
    )
    parser.add_argument("-o", "--out", default="poseclf-demo", metavar="DIR",
                        help="folder for the pictures (default: ./poseclf-demo)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    check_output_dir(args.out, option="-o")
    report = run_demo(args.out)
    for line in report.lines:
        print(line)
    print(f"\nPictures written to {report.out_dir}/:")
    for path in report.pictures:
        print(f"  {path}")
    print("\n" + NEXT_STEPS)
    return EXIT_OK
