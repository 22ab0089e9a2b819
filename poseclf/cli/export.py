"""``poseclf export``: a model as one ONNX graph, or a landmark table as ML Kit pose samples.

The work is the library's (:func:`poseclf.classify.onnx_export.export_onnx`,
:func:`poseclf.tables.mlkit_csv.write_mlkit_csv`); both are imported when the command runs, so
``poseclf --help`` stays light.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError
from ..files import check_input_file, check_output_file
from ..pose.defaults import TABLE_SUFFIXES
from ._common import EXIT_OK

#: ``--format`` values: ``onnx`` for a MODEL, ``mlkit-csv`` for a TABLE.
EXPORT_FORMATS: tuple[str, ...] = ("onnx", "mlkit-csv")
MLKIT_SUFFIXES = (".csv",)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="write a model as ONNX, or a table as ML Kit pose samples",
        description="--format onnx (default): MODEL (a .skops file or a shipped model's name) "
        "as one ONNX graph from BlazePose landmarks to class probabilities, novelty and the "
        "decision (a class, unknown or partial), for onnxruntime in an app (needs pip install "
        "\"poseclf[export]\"). --format mlkit-csv: the detected rows of TABLE as the "
        "pose-samples CSV of MediaPipe's pose-classification colab and ML Kit's Android "
        "sample (name,class_name,x1,y1,z1,...,z33 in pixels; `poseclf extract SAMPLES.csv -o "
        "TABLE` reads one back). The output is written under a temporary name and renamed.")
    parser.add_argument("source", metavar="MODEL|TABLE",
                        help="model file or shipped model name (onnx), or landmark table "
                        "(mlkit-csv)")
    parser.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="file to write: .onnx, or .csv for mlkit-csv")
    parser.add_argument("--format", choices=EXPORT_FORMATS, default="onnx",
                        help="onnx (default) or mlkit-csv")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.format == "mlkit-csv":
        return _export_samples(args)
    return _export_onnx(args)


def _export_onnx(args: argparse.Namespace) -> int:
    from ..shipped import resolve_model

    source = resolve_model(args.source)
    if Path(source).suffix.lower() in TABLE_SUFFIXES:
        raise InputError(f"{source}: a landmark table, not a model; export a model made by "
                         "`poseclf train` as ONNX, or this table with --format mlkit-csv")
    check_output_file(args.output, option="-o", suffixes=(".onnx",), inputs=[source])
    from ..classify.model import PoseModel
    from ..classify.onnx_export import export_onnx, needs_world_landmarks

    model = PoseModel.load(source)
    path = export_onnx(model, args.output, source=source)
    world = ", world_landmarks (n, 33, 3)" if needs_world_landmarks(model) else ""
    print(f"{path}: {path.stat().st_size / 1e6:.2f} MB ONNX graph of {args.source}; inputs "
          f"landmarks (n, 33, 4), image_size (n, 2){world} (float32); outputs probabilities "
          f"(n, {len(model.classes_)}), novelty, threshold, decision (class index, -1 unknown, "
          f"-2 partial); classes: {', '.join(model.classes_)}")
    return EXIT_OK


def _export_samples(args: argparse.Namespace) -> int:
    source = check_input_file(args.source, what="landmark table (.csv or .parquet)")
    output = check_output_file(args.output, option="-o", suffixes=MLKIT_SUFFIXES,
                               inputs=[source])
    from ..pose.table import load_table
    from ..tables.mlkit_csv import MLKIT_FIELDS, is_mlkit_csv, write_mlkit_csv

    if output.exists() and output.stat().st_size and not is_mlkit_csv(output):
        raise InputError(f"-o {output}: exists and is not an ML Kit pose-samples CSV (no "
                         f"{MLKIT_FIELDS} fields in its first line); it would be replaced by "
                         "this run: move or delete it, or choose another -o")

    print(write_mlkit_csv(load_table(source), args.output, source=source))
    return EXIT_OK
