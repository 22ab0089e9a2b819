"""``poseclf review``: a static page to look at a table's rows, tick the bad ones and save the
list that ``poseclf train --exclude`` reads."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..classify.defaults import CLASSIFIERS
from ..classify.model_file import MODEL_SUFFIX
from ..errors import InputError, ModelFileError, TableError
from ..files import check_input_dir, check_input_file, check_output_dir
from ..pose.defaults import TABLE_SUFFIXES
from ._common import EXIT_OK, check_images_found, non_negative_int, positive_int, row_folds


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "review",
        help="write a page to look through a table's photos and tick the rows to leave out",
        description="Write a self-contained page (OUT/index.html and its pictures; no server, "
        "opens from disk) with one card per row of TABLE: the photo with its skeleton, the "
        "label, the out-of-fold prediction, probability and novelty and the flags of "
        "`poseclf outliers`, and a per-class summary. Filter, sort, tick rows with a reason "
        "and 'Save list': the CSV is what `poseclf train --exclude` reads. Pictures of "
        "unchanged rows are reused when the page is made again. Given a model instead of a "
        "table (MODEL.skops or a shipped model name), the page shows the model's card.",
    )
    parser.add_argument("table", metavar="TABLE",
                        help="landmark table (.csv or .parquet), or a model alone: its card")
    pictures = parser.add_mutually_exclusive_group()
    pictures.add_argument("--images", metavar="DATA_DIR",
                          help="folder the table paths are relative to (needed unless "
                          "--skeletons-only)")
    pictures.add_argument("--skeletons-only", action="store_true",
                          help="draw each skeleton on a plain background of its photo's size "
                          "(from the table) instead of the photo: a page to share without the "
                          "photos, made without them")
    parser.add_argument("-o", "--output", required=True, metavar="OUT_DIR",
                        help="folder of the page (made if absent; a page there is updated)")
    parser.add_argument("--model", metavar="MODEL",
                        help="also show this model's label, probability and novelty per row")
    parser.add_argument("--trust", action="store_true",
                        help="also load joblib/pickle model files (can run code!)")
    parser.add_argument("--exclude", action="append", default=[], metavar="LIST.csv",
                        help="show the rows this exclusion list names as ticked (e.g. a list "
                        "saved from the page); repeatable")
    parser.add_argument("--classifier", choices=CLASSIFIERS,
                        help="classifier of the out-of-fold models (default: knn)")
    parser.add_argument("--folds", type=row_folds, metavar="K",
                        help="K-fold cross-validation; 0 = leave-one-out (default: 5)")
    parser.add_argument("--least-typical", type=non_negative_int, metavar="N",
                        help="flag the N undisputed rows least like their class (default: 10)")
    parser.add_argument("--workers", type=positive_int, metavar="N",
                        help="threads drawing the pictures (default: one per CPU)")
    parser.set_defaults(func=run_review)


#: Options that only a table's page uses, refused with a model alone.
TABLE_ONLY = (("images", "--images"), ("skeletons_only", "--skeletons-only"),
              ("model", "--model"), ("exclude", "--exclude"), ("classifier", "--classifier"),
              ("folds", "--folds"), ("least_typical", "--least-typical"),
              ("workers", "--workers"))
#: The table page's defaults of the options above that have one (None on the parser, so that
#: an option given with a model alone is seen and refused).
TABLE_DEFAULTS = {"classifier": "knn", "folds": 5, "least_typical": 10}


def run_model_page(args: argparse.Namespace) -> int:
    """``poseclf review MODEL -o OUT``: a page with the model's card."""
    from ..classify.model import PoseModel
    from ..shipped import resolve_model
    from ..tables.model_page import build_model_page
    from ..tables.review_page import check_review_folder

    for key, option in TABLE_ONLY:
        if getattr(args, key) not in (None, False, []):
            raise InputError(f"{option} is for a landmark table; {args.table} is not one "
                             f"({', '.join(TABLE_SUFFIXES)}), so it is read as a model, whose "
                             "card needs only -o")
    path = resolve_model(args.table)
    check_output_dir(args.output, option="-o", inputs=[path])
    check_review_folder(args.output)
    try:
        model = PoseModel.load(path, trusted=args.trust)
    except ModelFileError as err:
        if path.suffix.lower() == MODEL_SUFFIX:
            raise
        raise ModelFileError(f"{err}; TABLE is a landmark table "
                             f"({', '.join(TABLE_SUFFIXES)}) or a model") from None
    page = build_model_page(model, args.output, name=Path(args.table).stem)
    print(f"model card page written to {page}")
    return EXIT_OK


def run_review(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from ..pose.table import load_table
    from ..tables.exclusions import load_exclusions
    from ..tables.review_page import build_review_page, check_review_folder

    if Path(args.table).suffix.lower() not in TABLE_SUFFIXES:
        return run_model_page(args)
    for key, default in TABLE_DEFAULTS.items():
        if getattr(args, key) is None:
            setattr(args, key, default)
    check_input_file(args.table, what="landmark table (.csv or .parquet)")
    if args.images is None and not args.skeletons_only:
        raise InputError("--images DATA_DIR is needed to draw the photos (the folder the table "
                         "paths are relative to); or give --skeletons-only for a page of the "
                         "skeletons without the photos")
    if args.images is not None:
        check_input_dir(args.images, option="--images")
    for listed in args.exclude:
        check_input_file(listed, option="--exclude", what="exclusion list (CSV)")
    check_output_dir(args.output, option="-o",
                     inputs=[args.table, args.images, args.model, *args.exclude])
    check_review_folder(args.output)
    try:
        load_exclusions(args.exclude)  # wrong columns stop here, before any work
    except TableError as err:
        raise InputError(f"--exclude {err}; save the list from the review page or "
                         "write the columns table,path,reason") from None
    model = None
    if args.model:
        from ..classify.model import PoseModel
        from ..shipped import resolve_model

        model = PoseModel.load(resolve_model(args.model), trusted=args.trust)
    df = load_table(args.table)
    if args.images is not None:
        check_images_found(df, args.images)
    with tqdm(total=len(df), unit="row", desc="pictures", disable=not sys.stderr.isatty(),
              file=sys.stderr) as bar:
        built = build_review_page(
            df, args.images, args.output, skeletons_only=args.skeletons_only,
            table_path=args.table, model=model,
            model_name=args.model, exclude=args.exclude, classifier=args.classifier,
            folds=args.folds, least_typical=args.least_typical, workers=args.workers,
            progress=bar.update)
    cards = built.cards.cards
    flagged = int((cards["flags"].str.len() > 0).sum())
    ticked = int(cards["excluded"].notna().sum())
    print(f"{len(cards)} rows, {flagged} flagged, {ticked} ticked from the exclusion lists; "
          f"pictures: {built.made} made, {built.reused} reused, {built.unreadable} unreadable")
    if built.cards.note:
        print(built.cards.note)
    print(f"review page written to {built.page} (open it in a browser; 'Save list' gives the "
          "CSV for poseclf train --exclude)")
    return EXIT_OK
