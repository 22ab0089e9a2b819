"""``poseclf train``, ``poseclf evaluate`` and ``poseclf predict``: model training and use."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

from ..classify.defaults import (
    CLASSIFIERS,
    DEFAULT_CLASSIFIER,
    DEFAULT_MAX_POSES,
    DEFAULT_PERCENTILE,
    DEFAULT_WORLD_FEATURES,
    MAX_POSES_BY_CLASSIFIER,
    MAX_VIEW_ANGLE,
    PARTIAL_MAX_HIDDEN_JOINTS,
    PARTIAL_MIN_VISIBILITY,
    VISIBILITY_RULES,
    WORLD_MODES,
)
from ..classify.model_file import MODEL_SUFFIX
from ..errors import InputError, PoseclfError, TableError
from ..files import check_input_file, check_output_file, same_file
from ._common import (
    EXIT_FAILURE,
    EXIT_OK,
    add_extractor_options,
    extract_options,
    float_in,
    folds_or_zero,
    non_negative_int,
    positive_int,
    probability,
)

if TYPE_CHECKING:  # the library is imported by the commands that run, not by --help
    from ..classify.model import PoseModel
    from ..classify.negatives import Negatives

DEFAULT_CV = 5
SEARCHABLE = ("svm", "knn", "mlp")  # with a grid search (classifiers.SVM_GRID, KNN_GRID, MLP_GRID)
CARD_SUFFIXES = (".md",)
MIN_MAX_POSES = 100  # --max-poses below this leaves classes too few poses
FIGURE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")  # what matplotlib writes


cv_folds = folds_or_zero("a pose", "to skip cross-validation")


def joint_count(text: str) -> int:
    """Option type: a number of the 6 key joints, 0 to 6."""
    from ..classify.visibility import KEY_JOINTS

    value = non_negative_int(text)
    if value > len(KEY_JOINTS):
        raise argparse.ArgumentTypeError(f"{value} is too many: there are {len(KEY_JOINTS)} "
                                         "key joints; give 0 to 6")
    return value


def max_poses(text: str) -> int:
    """Option type: 0 (no bound) or a training-set bound of at least :data:`MIN_MAX_POSES`."""
    value = non_negative_int(text)
    if 0 < value < MIN_MAX_POSES:
        raise argparse.ArgumentTypeError(f"{value} is too few to train and cross-validate on; "
                                         f"give {MIN_MAX_POSES} or more, or 0 for every pose")
    return value


view_pitch = float_in(0.0, MAX_VIEW_ANGLE)


def view_angles(text: str) -> tuple[float, ...]:
    """Option type: comma-separated yaw angles in degrees, each in (0, 90]."""
    parse = float_in(0.0, MAX_VIEW_ANGLE, low_open=True)
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or any(not p for p in parts):
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of angles: give degrees "
                                         "separated by commas, e.g. 15,30")
    return tuple(parse(p) for p in parts)


def _check_train_files(args: argparse.Namespace) -> None:
    """Every file train reads exists; every file it writes can be written and is no input."""
    from ..classify.model_card import confusion_path

    inputs = [*args.tables, *args.exclude]
    for i, table in enumerate(args.tables):
        check_input_file(table, what="landmark table (.csv or .parquet)")
        if any(same_file(table, earlier) for earlier in args.tables[:i]):
            raise InputError(f"{table}: given twice; its rows would count double: give each "
                             "table once")
    for listed in args.exclude:
        check_input_file(listed, option="--exclude", what="exclusion list (CSV)")
    for table in args.negatives or ():
        check_input_file(table, option="--negatives", what="landmark table (.csv or .parquet)")
        inputs.append(table)
    if args.card_notes:
        check_input_file(args.card_notes, option="--card-notes", what="Markdown file")
        inputs.append(args.card_notes)
    check_output_file(args.output, option="-o", suffixes=(MODEL_SUFFIX,), inputs=inputs)
    if args.card:
        check_output_file(args.card, option="--card", suffixes=CARD_SUFFIXES,
                          inputs=[*inputs, args.output])
        check_output_file(confusion_path(args.card), option="--card",
                          inputs=[*inputs, args.output])


def register(subparsers) -> None:
    train = subparsers.add_parser(
        "train", help="train a pose classifier on a landmark table",
        description="Train on the detected rows of TABLE (from `poseclf extract`), print "
        "stratified K-fold accuracy and per-class recall, save the model (skops format).")
    train.add_argument("tables", nargs="+", metavar="TABLE",
                       help="landmark table(s) (.csv or .parquet); several are stacked")
    train.add_argument("-o", "--output", required=True, metavar="MODEL",
                       help="model file to write (.skops)")
    train.add_argument("--card", metavar="CARD.md",
                       help="also write a model card (and CARD_confusion.png) from the "
                       "cross-validation")
    train.add_argument("--card-notes", metavar="NOTES.md",
                       help="Markdown appended to the card (data licences, known limits)")
    train.add_argument("--title", help="title of the model card (default: the model name)")
    _add_exclude_option(train)
    _add_aspect_option(train)
    train.add_argument("--classifier", choices=CLASSIFIERS, default=DEFAULT_CLASSIFIER,
                       help=f"default: {DEFAULT_CLASSIFIER}")
    train.add_argument("--cv", type=cv_folds, default=DEFAULT_CV, metavar="K",
                       help=f"folds of the reported cross-validation, 0 to skip "
                       f"(default: {DEFAULT_CV})")
    train.add_argument("--max-poses", type=max_poses, default=None,
                       metavar="N",
                       help="train on at most N poses: a larger table is thinned to evenly "
                       "spaced poses of each class, in equal shares (a smaller class keeps all "
                       f"its poses); 0 = every pose, slow above ~10k (default: "
                       f"{MAX_POSES_BY_CLASSIFIER['knn']:,} for knn, {DEFAULT_MAX_POSES:,} for "
                       "the others)")
    train.add_argument("--search", action="store_true",
                       help="pick svm C and gamma, or knn neighbour counts, by "
                       "cross-validated grid search")
    train.add_argument("--cluster", metavar="ADDRESS|local:N",
                       help="with --search: run the grid search on a Dask cluster, a scheduler "
                       "address (tcp://host:8786) or local:N worker processes started here "
                       "(needs pip install \"poseclf[cluster]\")")
    train.add_argument("--no-mirror", action="store_true",
                       help="do not add left-right mirrored poses to the training set")
    train.add_argument("--views", type=view_angles, default=(), metavar="DEG[,DEG...]",
                       help="also train on every pose turned by +-each yaw angle about the "
                       "vertical, made from its world landmarks (e.g. 15,30; each in (0, 90])")
    train.add_argument("--view-pitch", type=view_pitch, default=0.0, metavar="DEG",
                       help="also train on every pose tilted by +-DEG (0 to 90; default 0: none)")
    train.add_argument("--world-features", choices=WORLD_MODES, default=DEFAULT_WORLD_FEATURES,
                       help="3D features from the world landmarks, turned so the hips face the "
                       "camera: only them, or concatenated with the picture embedding, or off "
                       f"(picture features only) (default: {DEFAULT_WORLD_FEATURES})")
    reject = train.add_argument_group(
        "rejection ('unknown' and 'partial' answers; see poseclf.classify.novelty)")
    reject.add_argument("--novelty-views", type=view_angles, default=(), metavar="DEG[,DEG...]",
                        help="with negatives: the novelty score also holds every training pose "
                        "turned by +-each yaw angle (e.g. 30,60): other sides of a pose are not "
                        "unknown; larger model files and slower predictions (README)")
    reject.add_argument("--reject-percentile", type=float_in(0, 100, low_open=True),
                        default=DEFAULT_PERCENTILE,
                        metavar="P", help="novelty threshold = this percentile of held-out "
                        f"in-class novelty scores (default: {DEFAULT_PERCENTILE:g}); lower "
                        "rejects more")
    negatives = reject.add_mutually_exclusive_group()
    negatives.add_argument("--negatives", nargs="+", metavar="TABLE",
                           help="landmark tables of poses that are none of the classes "
                           "(standing around, other exercises...); a pose nearer to them than "
                           "the training poses are is 'unknown' (default: the everyday poses "
                           "of poseclf's shipped tables; poses like your own classes are "
                           "dropped from them)")
    negatives.add_argument("--no-negatives", action="store_true",
                           help="calibrate 'unknown' on the training poses alone")
    reject.add_argument("--partial-rule", choices=VISIBILITY_RULES, default="placed",
                        help="'placed' (default): a joint is missing only when BlazePose puts "
                        "it out of the picture; 'visible': also when its visibility is below "
                        "--min-visibility (the rule before poseclf learned it)")
    reject.add_argument("--min-visibility", type=probability, default=PARTIAL_MIN_VISIBILITY,
                        metavar="V", help="with --partial-rule visible: BlazePose visibility "
                        f"below which a landmark is not seen (default: {PARTIAL_MIN_VISIBILITY})")
    reject.add_argument("--max-hidden-joints", type=joint_count,
                        default=PARTIAL_MAX_HIDDEN_JOINTS,
                        metavar="N", help="missing joints (of the shoulders, elbows, wrists, "
                        "hips, knees and ankles that the training poses have in the picture) "
                        "always tolerated; cross-validation may tolerate more "
                        f"(default: {PARTIAL_MAX_HIDDEN_JOINTS})")
    train.set_defaults(func=run_train)

    evaluate = subparsers.add_parser(
        "evaluate", help="score a model on a labelled landmark table",
        description="Accuracy, macro-F1, per-class precision/recall and confusion matrix.")
    evaluate.add_argument("table", metavar="TABLE", help="landmark table (.csv or .parquet)")
    _add_model_options(evaluate)
    _add_exclude_option(evaluate)
    _add_aspect_option(evaluate)
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--confusion", metavar="PNG", help="write the confusion matrix figure")
    _add_reject_option(evaluate)
    evaluate.set_defaults(func=run_evaluate)

    predict = subparsers.add_parser(
        "predict", help="label the pose in images",
        description="Label and class probabilities per image ('no_person' when nobody is "
        "found). A file that cannot be read as an image is reported on stderr, one line each, "
        "and skipped (exit status 1).")
    predict.add_argument("images", nargs="+", metavar="IMAGE|DIR",
                         help="images, or folders of images (searched recursively)")
    _add_model_options(predict)
    predict.add_argument("--json", action="store_true", help="print one JSON object per image")
    predict.add_argument("--draw", metavar="DIR",
                         help="write each image with skeleton and label (DIR/<name>_pred.png; "
                         "images sharing a name go into subfolders named after their folders)")
    predict.add_argument("--people", type=positive_int, default=1, metavar="N",
                         help="label up to N people per image, one line each with its person "
                         "number (above 1 BlazePose runs on the Tasks backend) (default: 1)")
    _add_reject_option(predict)
    add_extractor_options(predict)
    predict.set_defaults(func=run_predict)


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="MODEL", help="trained model file")
    parser.add_argument("--trust", action="store_true",
                        help="also load joblib/pickle files and unknown types (can run code!)")


def _add_exclude_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exclude", action="append", default=[], metavar="LIST.csv",
                        help="leave out the table rows this CSV names (column 'path'; optional "
                        "'table' = table file name without extension, and 'reason'), e.g. a "
                        "reviewed `poseclf outliers -o` list; repeatable")


def aspect_factor(text: str) -> float | None:
    """Option type of --aspect: ``auto`` (None: each table's estimate) or a stretch factor."""
    from ..pose.aspect import ASPECT_LIMITS, check_aspect_factor

    if text.strip().lower() == "auto":
        return None
    try:
        return check_aspect_factor(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not 'auto' nor a stretch factor between {ASPECT_LIMITS[0]:g} and "
            f"{ASPECT_LIMITS[1]:g} (1 = none)") from None


def _add_aspect_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--aspect", type=aspect_factor, default=1.0, metavar="auto|FACTOR",
                        help="undo a horizontal stretch of the tables' pictures (resized "
                        "without keeping their aspect): pixel widths divided by FACTOR, or by "
                        "each table's estimate with 'auto' (see `poseclf stats`; default: 1, "
                        "no change)")


def _add_reject_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-reject", dest="reject", action="store_false",
                        help="always answer a class: never 'unknown' or 'partial'")


def _table_arrays(paths, exclude=(), aspect: float | None = 1.0) -> tuple:
    """Landmarks, sizes, labels and world landmarks of the detected, not excluded rows, the
    number of rows left out and the tables' BlazePose model; with ``aspect`` other than 1,
    each table's widths corrected (None: its own estimate)."""
    from ..pose.blazepose import table_blazepose
    from ..pose.poses import training_arrays, training_world_landmarks
    from ..tables.exclusions import load_training_tables

    table, dropped = load_training_tables(
        paths, exclude, aspect=aspect,
        on_aspect=lambda path, factor: print(f"{path}: pixel widths divided by {factor:.2f} "
                                             "(--aspect)"))
    if exclude:
        print(f"left out {dropped} row(s) named in {', '.join(map(str, exclude))}")
    lm, sizes, labels = training_arrays(table)
    if len(labels) == 0:
        raise TableError(f"{', '.join(map(str, paths))}: no row with a detected pose; "
                         "nothing to train or score on")
    return (lm, sizes, labels, training_world_landmarks(table), dropped,
            table_blazepose(table))


def run_train(args: argparse.Namespace) -> int:
    from ..classify.evaluation import check_training_labels
    from ..classify.model import PoseModel
    from ..classify.model_card import write_model_card
    from ..tables.cluster import cluster_or_local

    if args.card and not args.cv:
        raise PoseclfError("--card needs cross-validation: use --cv 2 or more")
    if args.cluster and not args.search:
        raise PoseclfError("--cluster runs the grid search: add --search (svm or knn)")
    if args.novelty_views and args.no_negatives:
        raise PoseclfError("--novelty-views works with negatives (without them the turned "
                           "views make other poses look familiar); drop --no-negatives")
    if args.search and args.classifier not in SEARCHABLE:
        raise PoseclfError(f"--search works with {', '.join(SEARCHABLE)}, "
                           f"not {args.classifier}")
    _check_train_files(args)
    lm, sizes, labels, world, dropped, blazepose = _table_arrays(args.tables, args.exclude,
                                                                 args.aspect)
    check_training_labels(labels)
    params = {"search": True} if args.search else None
    negatives = _negatives(args)
    bound = "auto" if args.max_poses is None else (args.max_poses or None)  # 0: every pose
    with cluster_or_local(args.cluster):  # the grid search's joblib tasks go to Dask
        model = PoseModel.train(
            lm, sizes, labels, args.classifier, cv=args.cv, mirror=not args.no_mirror,
            classifier_params=params, novelty_params={"percentile": args.reject_percentile,
                                                      "views": args.novelty_views},
            embedder_params={"world": args.world_features}, views=args.views,
            view_pitch=args.view_pitch,
            world_landmarks=world, negatives=negatives, max_poses=bound,
            visibility_params={"rule": args.partial_rule,
                               "min_visibility": args.min_visibility,
                               "max_hidden_joints": args.max_hidden_joints},
            blazepose=blazepose)
    meta = model.metadata
    if args.exclude:  # provenance, shown by the model card
        meta["excluded"] = {"rows": dropped, "lists": [str(p) for p in args.exclude]}
    thinned = (f" (evenly spaced per class from {meta['n_given']}; --max-poses)"
               if "n_given" in meta else "")
    print(f"trained {args.classifier} on {meta['n_samples']} poses{thinned}, "
          f"{len(model.classes_)} classes")
    scores = meta["cv_scores"]
    if scores:
        print(f"{scores['folds']}-fold accuracy: {scores['accuracy']:.3f}  "
              f"macro-F1: {scores['macro_f1']:.3f}")
        for name, recall in scores["recall"].items():
            print(f"  {name:<24} recall {recall:.3f}  (n={meta['class_counts'].get(name, 0)})")
    print(_rejection_line(model))
    model.save(args.output)
    print(f"model written to {args.output}")
    if args.card:
        notes = Path(args.card_notes).read_text(encoding="utf-8") if args.card_notes else ""
        card = write_model_card(model, args.card, title=args.title, tables=args.tables,
                                notes=notes)
        print(f"model card written to {card}")
    return EXIT_OK


def _negatives(args: argparse.Namespace) -> Negatives | None:
    """The negatives ``train`` calibrates with: the given tables, the shipped everyday poses,
    or none."""
    from ..classify.negatives import everyday_negatives, negatives_from_tables

    if args.no_negatives:
        return None
    if args.negatives:
        return negatives_from_tables(args.negatives)
    return everyday_negatives()


def _rejection_line(model: PoseModel) -> str:
    from ..classify.model_card import describe_rejection

    info = model.metadata.get("rejection")
    if not model.can_reject or not info:
        return "rejection: not available (model file without novelty data; retrain to enable)"
    return f"rejection: {describe_rejection(info)}"


def run_evaluate(args: argparse.Namespace) -> int:
    from ..classify.model import PoseModel
    from ..pose.blazepose import warn_if_mismatched

    check_input_file(args.table, what="landmark table (.csv or .parquet)")
    for listed in args.exclude:
        check_input_file(listed, option="--exclude", what="exclusion list (CSV)")
    if args.confusion:
        check_output_file(args.confusion, option="--confusion", suffixes=FIGURE_SUFFIXES,
                          inputs=[args.table, args.model, *args.exclude])
    model = PoseModel.load(args.model, trusted=args.trust)
    lm, sizes, labels, world, _, blazepose = _table_arrays([args.table], args.exclude,
                                                           args.aspect)
    warn_if_mismatched(model.blazepose, blazepose, str(args.table))
    foreign = _foreign_classes(labels, model, args.table, args.model)
    report = model.evaluate(lm, sizes, labels, world_landmarks=world, reject=args.reject)
    report["classes_not_in_model"] = foreign
    if args.confusion:
        from ..pictures.plots import save_confusion_matrix

        save_confusion_matrix(report, args.confusion, title=f"{args.model} on {args.table}")
    if args.json:
        print(json.dumps(_json_safe(report), allow_nan=False))
        return EXIT_OK
    if foreign:
        print("classes of the table that the model does not have (always counted wrong): "
              + ", ".join(f"{name} (n={n})" for name, n in foreign.items()))
    print(f"n={report['n']}  accuracy={report['accuracy']:.3f}  "
          f"macro-F1={report['macro_f1']:.3f}")
    if report["reject"]:
        print(f"coverage={report['coverage']:.3f} ({report['n_unknown']} unknown, "
              f"{report['n_partial']} partial)  accuracy on accepted="
              f"{report['accuracy_accepted']:.3f}")
        print(_rejection_line(model))
    else:
        print("rejection off (--no-reject)" if model.can_reject else _rejection_line(model))
    print(f"{'class':<24}{'precision':>10}{'recall':>10}{'support':>9}")
    for name, row in report["per_class"].items():
        print(f"{name:<24}{row['precision']:>10.3f}{row['recall']:>10.3f}{row['support']:>9d}")
    print(_confusion_text(report["labels"], report["confusion"]))
    if args.confusion:
        print(f"confusion matrix figure written to {args.confusion}")
    return EXIT_OK


def _foreign_classes(labels, model: PoseModel, table: str, model_name: str) -> dict[str, int]:
    """Counts of the table's classes that the model lacks; none in common is an error."""
    import numpy as np

    names, counts = np.unique(np.asarray(labels, dtype=object).astype(str), return_counts=True)
    foreign = {str(n): int(c) for n, c in zip(names, counts, strict=True)
               if n not in model.classes_}
    if len(foreign) == len(names):
        raise InputError(f"{table}: none of its classes ({', '.join(foreign)}) is a class of "
                         f"the model {model_name} ({', '.join(model.classes_)}); evaluate it "
                         "on a table labelled with the model's classes")
    return foreign


def _confusion_text(labels: list[str], confusion) -> str:
    """The confusion matrix with class names on both axes."""
    width = max(len(s) for s in labels) + 1
    cell = max(6, *(len(s) + 1 for s in labels))
    lines = ["confusion (rows: true, columns: predicted)",
             " " * width + "".join(f"{name:>{cell}}" for name in labels)]
    for name, row in zip(labels, confusion, strict=True):
        lines.append(f"{name:<{width}}" + "".join(f"{v:>{cell}d}" for v in row))
    return "\n".join(lines)


def _json_safe(value):
    """``value`` with NaN and infinities as None, so that it prints as valid JSON."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def run_predict(args: argparse.Namespace) -> int:
    from ..classify.model import PoseModel
    from ..classify.predict import DRAWING_ENDING, predict_images
    from ._common import EXIT_USAGE
    from .detect import check_images, report_unreadable, shown

    images = check_images("predict", args.images, {"--draw": (args.draw, DRAWING_ENDING)})
    if images is None:
        return EXIT_USAGE
    model = PoseModel.load(args.model, trusted=args.trust)
    failures = 0
    extract = extract_options(args).for_people(args.people)
    with extract.extractor(static_image_mode=True, num_poses=args.people) as extractor:
        for result in predict_images(model, images, extractor, draw_dir=args.draw,
                                     reject=args.reject, people=args.people > 1):
            failures += not result.ok
            if not result.ok:  # one line on stderr; the run goes on
                report_unreadable("predict", result.error)
            if args.json:
                print(json.dumps(result.to_dict()))
            elif not result.ok:
                pass
            elif result.probabilities is None:
                print(f"{shown(result.path)}{_person(result)}\t{result.label}")
            else:
                probs = " ".join(f"{c}={p:.2f}" for c, p in result.probabilities.items())
                if result.novelty is not None and result.novelty == result.novelty:  # not NaN
                    probs += f" novelty={result.novelty:.3f}"
                print(f"{shown(result.path)}{_person(result)}\t{result.label}\t"
                      f"{result.confidence:.2f}\t{probs}")
    if args.draw and not args.json:
        print(f"drawn predictions written to {args.draw}/")
    return EXIT_FAILURE if failures else EXIT_OK


def _person(result) -> str:
    """``\tperson=2`` when several people were asked for, else nothing."""
    return "" if result.person is None else f"\tperson={result.person}"


