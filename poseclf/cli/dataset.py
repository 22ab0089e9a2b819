"""``poseclf extract``, ``outliers`` and ``stats``: build and review landmark tables."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ..classify.defaults import CLASSIFIERS
from ..errors import InputError
from ..files import check_input_dir, check_input_file, check_output_file, replace_atomically
from ..pose.defaults import TABLE_SUFFIXES
from ._common import (
    EXIT_OK,
    add_extractor_options,
    check_images_found,
    extract_options,
    float_at_least,
    non_negative_int,
    positive_int,
    row_folds,
)

if TYPE_CHECKING:
    from ..pose.aspect import AspectEstimate

SHEET_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")  # what OpenCV writes


def register(subparsers) -> None:
    _register_extract(subparsers)
    _register_outliers(subparsers)
    _register_stats(subparsers)


# -- extract ------------------------------------------------------------------------------------
def _register_extract(subparsers) -> None:
    parser = subparsers.add_parser(
        "extract",
        help="build a landmark table from a photo folder or a labelled video",
        description="DATA_DIR/<class>/**/<image> -> one table row per image (class = first-level "
        "folder). Re-running the same command resumes: rows of unchanged files are kept. With "
        "a video and --segments SEGMENTS.csv (start_frame,end_frame,label or start_s,end_s,"
        "label), the frames of each segment become rows labelled with it (a re-run keeps the "
        "finished segments); several videos take one --segments each, in the same order. "
        "With --people N, every person in those frames gets a row (path VIDEO#FRAME@pID), "
        "labelled by the segment, or only the person its person column names. "
        "SAMPLES.csv, a pose-samples CSV of MediaPipe's pose-classification colab or ML Kit's "
        "Android sample (name,class_name,x1,y1,z1,...,z33 in pixels; `poseclf export TABLE "
        "--format mlkit-csv` writes one), becomes a table without reading any picture.",
    )
    parser.add_argument("source", nargs="+", metavar="DATA_DIR|VIDEO|SAMPLES.csv",
                        help="photo folder, video file(s), or an ML Kit pose-samples CSV")
    parser.add_argument("-o", "--output", required=True, metavar="TABLE",
                        help="landmark table to write (.csv or .parquet)")
    parser.add_argument("--workers", type=positive_int, metavar="N",
                        help="processes extracting, this one included (default: one per "
                        "core, fewer for a small folder)")
    parser.add_argument("--batch-size", type=positive_int, metavar="N",
                        help="images per worker task (default: automatic, at most 32)")
    parser.add_argument("--checkpoint-seconds", type=float_at_least(0), metavar="S", default=None,
                        help="save the table at most every S seconds while running "
                        "(default: 10; 0 after every batch, or every segment of a video)")
    parser.add_argument("--no-resume", action="store_true",
                        help="re-extract every image (or video frame) even if TABLE has its row")
    parser.add_argument("--segments", metavar="SEGMENTS.csv", action="append",
                        help="labelled frame ranges of VIDEO (start_frame,end_frame,label, "
                        "and with --people an optional person); "
                        "once per VIDEO")
    parser.add_argument("--stride", type=positive_int, default=1, metavar="K",
                        help="with --segments: every K-th frame of each segment (default: 1)")
    parser.add_argument("--people", type=positive_int, default=1, metavar="N",
                        help="with --segments: follow up to N people (the ids `poseclf video "
                        "--people N` shows) and write a row per person per frame, with a person "
                        "column; a segments file may then have a person column (an id: that "
                        "person only; empty or absent: everyone in the frame). Above 1 "
                        "BlazePose runs on the Tasks backend and each video is followed from "
                        "its first frame (default: 1)")
    parser.add_argument("--cluster", metavar="ADDRESS|local:N",
                        help="run on a Dask cluster: a scheduler address (tcp://host:8786) or "
                        "local:N worker processes started here (needs "
                        "pip install \"poseclf[cluster]\"); --workers is then ignored")
    parser.add_argument("--image-size", type=image_size, metavar="WIDTHxHEIGHT",
                        help="with SAMPLES.csv: the pictures' size in pixels for samples whose "
                        "name has none (default: each pose's smallest square around its "
                        "landmarks)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_extractor_options(parser)
    parser.set_defaults(func=run_extract)


def image_size(text: str) -> tuple[int, int]:
    """Option type: ``WIDTHxHEIGHT`` in whole pixels, both at least 1."""
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit() or min(int(width),
                                                                     int(height)) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT in pixels, e.g. "
                                         "640x480")
    return int(width), int(height)


def _checkpoint_s(args: argparse.Namespace) -> float:
    from ..tables.engine import DEFAULT_CHECKPOINT_S

    return DEFAULT_CHECKPOINT_S if args.checkpoint_seconds is None else args.checkpoint_seconds


def run_extract(args: argparse.Namespace) -> int:
    sources = [Path(s) for s in args.source]
    check_output_file(args.output, option="-o", suffixes=TABLE_SUFFIXES,
                      inputs=[*sources, *(args.segments or [])])
    if args.people > 1 and not args.segments:
        raise InputError(f"--people {args.people} is for a video with --segments SEGMENTS.csv; "
                         "photos with several people: `poseclf predict --people N` labels them, "
                         "extract takes one person per photo")
    if len(sources) == 1 and sources[0].suffix.lower() == ".csv" and not args.segments:
        return _import_samples(args, sources[0])
    if args.image_size is not None:
        raise InputError("--image-size is for an ML Kit pose-samples CSV (SAMPLES.csv); photos "
                         "and videos have their own size")
    if args.segments or any(s.is_file() for s in sources):
        return _extract_video(args, sources)
    if len(sources) > 1:
        raise InputError("give one DATA_DIR (several sources are for videos with --segments)")
    source = check_input_dir(sources[0], what="folder (DATA_DIR/<class>/<image>)")
    from ..tables.dataset import extract_folder

    report = extract_folder(
        source, args.output, options=extract_options(args), workers=args.workers,
        batch_size=args.batch_size, checkpoint_s=_checkpoint_s(args),
        resume=not args.no_resume, progress=not args.quiet, cluster=args.cluster,
    )
    print(report)
    return EXIT_OK


def _import_samples(args: argparse.Namespace, source: Path) -> int:
    """SAMPLES.csv (ML Kit's pose samples) to a landmark table; no picture is read."""
    from ..pose.table import save_table
    from ..tables.engine import read_previous
    from ..tables.mlkit_csv import MLKIT_FIELDS, is_mlkit_csv, read_mlkit_csv

    check_input_file(source, what="pose-samples CSV")
    if not is_mlkit_csv(source):
        raise InputError(f"{source}: not an ML Kit pose-samples CSV (its first line does not "
                         f"have the {MLKIT_FIELDS} fields name,class_name,x1,y1,z1,...,z33); "
                         "give such a file, a photo folder, or a video with --segments")
    read_previous(Path(args.output))  # an existing file that is not a table is not replaced
    table = read_mlkit_csv(source, args.image_size)
    save_table(table, args.output)
    classes = table["label"].value_counts().sort_index()
    print(f"{args.output}: {len(table)} pose(s) from {source} (no picture read; visibility 1 "
          f"and no world landmarks, which the format lacks): "
          + ", ".join(f"{label} {count}" for label, count in classes.items()))
    return EXIT_OK


def _extract_video(args: argparse.Namespace, sources: list[Path]) -> int:
    from ..pose.video_sources import VideoInfo
    from ..video.segments import extract_videos_to_table, read_segments

    if not args.segments:
        raise InputError(f"{sources[0]} is a file; a video needs --segments SEGMENTS.csv "
                         "(start_frame,end_frame,label), a photo folder needs no option")
    if len(args.segments) != len(sources):
        raise InputError(f"{len(sources)} video(s) but {len(args.segments)} --segments: give "
                         "one --segments SEGMENTS.csv per VIDEO, in the same order")
    for source in sources:
        check_input_file(source, what="video file")
    for segments in args.segments:
        check_input_file(segments, option="--segments", what="segments CSV")
    jobs = [(source, read_segments(segments, fps=VideoInfo.from_video_path(source).fps))
            for source, segments in zip(sources, args.segments, strict=True)]
    for segments, (_, read) in zip(args.segments, jobs, strict=True):
        if args.people == 1 and any(s.person is not None for s in read):
            raise InputError(f"--segments {segments}: its person column names tracked people; "
                             "give --people N (N >= 2, the most people in a frame) or leave "
                             "the column out")
    report = extract_videos_to_table(
        jobs, args.output, stride=args.stride, options=extract_options(args),
        workers=args.workers or 1, cluster=args.cluster, checkpoint_s=_checkpoint_s(args),
        resume=not args.no_resume, progress=not args.quiet, people=args.people)
    print(report)
    return EXIT_OK


# -- contact sheets (outliers, stats) ------------------------------------------------------------
def _add_sheet_options(parser: argparse.ArgumentParser, sheet_help: str) -> None:
    parser.add_argument("--sheet", metavar="PNG", help=sheet_help)
    parser.add_argument("--images", metavar="DATA_DIR",
                        help="folder the table paths are relative to (for --sheet)")


def _check_sheet_options(args: argparse.Namespace) -> None:
    """--sheet needs --images, a picture extension and a writable place; --images a folder."""
    if not args.sheet:
        return
    if not args.images:
        raise InputError("--sheet needs --images DATA_DIR (the folder the table paths are "
                         "relative to)")
    check_output_file(args.sheet, option="--sheet", suffixes=SHEET_SUFFIXES,
                      inputs=[args.table])
    check_input_dir(args.images, option="--images")


# -- outliers -----------------------------------------------------------------------------------
def _register_outliers(subparsers) -> None:
    parser = subparsers.add_parser(
        "outliers",
        help="find rows a model trained without them disputes, for review",
        description="Classify every detected row with a model trained without it (K-fold, "
        "or leave-one-out with --folds 0) and list the rows whose own label is not the best "
        "class or that the model would call unknown, then the least typical of the rest, with "
        "their scores: candidates for a wrong label or a bad detection.",
    )
    parser.add_argument("table", metavar="TABLE", help="landmark table (.csv or .parquet)")
    parser.add_argument("--classifier", default="knn", choices=CLASSIFIERS,
                        help="classifier of the out-of-fold models (default: knn)")
    parser.add_argument("--folds", type=row_folds, default=5, metavar="K",
                        help="K-fold cross-validation; 0 = leave-one-out (default: 5)")
    parser.add_argument("-o", "--output", metavar="OUTLIERS.csv", help="write the outlier list")
    _add_sheet_options(parser, "contact sheet of the flagged photos")
    parser.add_argument("--least-typical", type=non_negative_int, default=10, metavar="N",
                        help="also list and show the N undisputed rows least like the rest of "
                        "their class, for review (bad detections that come in groups hide "
                        "there; default: 10, 0 for none)")
    parser.add_argument("--drop", metavar="CLEAN_TABLE",
                        help="write the table without the disputed rows (never the least "
                        "typical ones: look at those first)")
    parser.set_defaults(func=run_outliers)


def run_outliers(args: argparse.Namespace) -> int:
    from ..pose.table import load_table, save_table
    from ..tables.review import (
        DISPUTED,
        LABEL_LOSES,
        LEAST_TYPICAL,
        UNLIKE_ITS_CLASS,
        find_outliers,
    )

    _check_sheet_options(args)
    for option, path, suffixes in (("-o", args.output, (".csv",)),
                                   ("--drop", args.drop, TABLE_SUFFIXES)):
        if path:
            check_output_file(path, option=option, suffixes=suffixes, inputs=[args.table])
    if args.output and args.drop:
        check_output_file(args.drop, option="--drop", inputs=[args.output])
    df = load_table(args.table)
    if args.sheet:
        check_images_found(df, args.images)
    outliers = find_outliers(df, classifier=args.classifier, folds=args.folds,
                             least_typical=args.least_typical)
    counts = outliers["problem"].value_counts()
    disputed = outliers[outliers["problem"].isin(DISPUTED)]
    print(f"{len(disputed)} of {int(df['detected'].sum())} detected rows flagged: "
          f"{counts.get(LABEL_LOSES, 0)} whose label loses to another class, "
          f"{counts.get(UNLIKE_ITS_CLASS, 0)} unlike the rest of their class "
          "(bad detection or rare variant); "
          f"{counts.get(LEAST_TYPICAL, 0)} least typical rows listed for review")
    if len(outliers):
        shown = outliers[["path", "label", "predicted", "label_score", "predicted_score",
                          "novelty", "problem"]]
        print(shown.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    if args.output:
        replace_atomically(args.output, lambda tmp: outliers.to_csv(tmp, index=False))
        print(f"outlier list written to {args.output}")
    if args.sheet:
        from ..pictures.sheets import outlier_sheet, write_sheet

        write_sheet(outlier_sheet(df, outliers, args.images), args.sheet)
        print(f"contact sheet written to {args.sheet}")
    if args.drop:
        save_table(df[~df["path"].isin(set(disputed["path"]))], args.drop)
        print(f"table without the outliers written to {args.drop}")
    return EXIT_OK


# -- stats --------------------------------------------------------------------------------------
def _register_stats(subparsers) -> None:
    parser = subparsers.add_parser(
        "stats",
        help="per-class counts, detection rate and visibility of a landmark table",
        description="Per class: rows, detected, detection rate, no person, unreadable, mean "
        "landmark visibility. --sheet draws a few thumbnails per class.",
    )
    parser.add_argument("table", metavar="TABLE", help="landmark table (.csv or .parquet)")
    _add_sheet_options(parser, "contact sheet with thumbnails per class")
    parser.add_argument("--per-class", type=positive_int, default=6, metavar="N",
                        help="thumbnails per class on the sheet (default: 6)")
    parser.set_defaults(func=run_stats)


def resized_pictures_note(estimate: AspectEstimate, name: str) -> str:
    """One line when a table's pictures look resized without keeping their aspect, else ''."""
    if not estimate.looks_resized:
        return ""
    how = "wide" if estimate.median > 1 else "narrow"
    return (f"{name}: the people look {estimate.median:.2f}x too {how} for their torso length "
            f"({estimate}): the pictures were probably resized without keeping their aspect; "
            "extract from the original pictures if you have them, else train with "
            f"--aspect auto (or --aspect FACTOR) and check it with `poseclf evaluate`")


def run_stats(args: argparse.Namespace) -> int:
    from ..pose.aspect import estimate_poses_aspect
    from ..pose.plain_table import TableArrays, read_plain_csv
    from ..tables.stats import class_stats

    _check_sheet_options(args)
    table = None if args.sheet else read_plain_csv(args.table)  # no pandas for a plain CSV
    if table is None:
        from ..pose.table import load_table

        df = load_table(args.table)
        if args.sheet:
            check_images_found(df, args.images)
        table = TableArrays.from_table(df)
    print(class_stats(table).to_text())
    estimate = estimate_poses_aspect(table.poses[table.detected])
    aspect_note = resized_pictures_note(estimate, Path(args.table).name)
    if aspect_note:
        print(aspect_note)
    if args.sheet:
        from ..pictures.sheets import stats_sheet, write_sheet

        write_sheet(stats_sheet(df, args.images, per_class=args.per_class), args.sheet)
        print(f"contact sheet written to {args.sheet}")
    return EXIT_OK
