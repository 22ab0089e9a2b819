"""GMDCSA24 annotations -> poseclf segment files (fall clips, ``../shared/data/falls_gmdcsa24``).

The dataset annotates each clip with time ranges per class in its ``ADL.csv`` / ``Fall.csv``
(column ``Classes``), e.g. ``Falling (BW)[1.9 to 5]; Standing[0 to 1.8]`` or
``Standing[0 to 0.3; 1.5 to 2.2]``. "Falling" (or "Fall") covers the fall *and* the time on the
floor after it, so a fall range is split here: its first :data:`FALL_S` seconds are the fall itself
(left out of training, like the transitions of ``sit_video_segments.csv``) and the rest is
``lying``. The fall's onset (the range's start) is what ``bench/falls.py`` measures delays from.

Two kinds of segment files are written, one per clip (``poseclf extract VIDEO --segments``
takes one per video):

* ``<subject>_<kind>_<clip>_clip.csv``: the whole clip as one segment labelled with its kind
  (``fall`` or ``adl``), so its table has every frame, tracked as ``poseclf video`` tracks them
  (what ``bench/falls.py`` replays);
* ``<subject>_fall_<clip>_lying.csv``: the clip's time on the floor, labelled ``lying`` (the rows
  that teach the ``sitstandlie`` model the class).

Run from the repository root (``models/build.sh`` does)::

    python -m datasets.gmdcsa24 ../shared/data/falls_gmdcsa24 datasets/falls_gmdcsa24/segments
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2

#: s: the first part of the dataset's "Falling" range that is the fall itself, not yet lying still
#: (measured on the 8 dev clips: the hips reach the floor 0.6-1.3 s after the annotated onset).
FALL_S = 1.5
FALL_CLASSES = ("falling", "fall")  # the dataset's names of its fall range (lower case)
KINDS = ("Fall", "ADL")  # the dataset's folders and annotation files
_RANGE = re.compile(r"\s*([^\[\];]+?)\s*\[([^\]]*)\]\s*;?")
_SPAN = re.compile(r"^\s*([0-9.]+)\s*to\s*([0-9.]+)\s*$")


@dataclass(frozen=True)
class Clip:
    """One annotated clip: ``subject`` (``s1``), ``kind`` (``fall``/``adl``), the video, its
    class ranges ``(name, start_s, end_s)`` as annotated, and the description."""

    subject: str
    kind: str
    video: Path
    ranges: tuple[tuple[str, float, float], ...]
    description: str

    @property
    def name(self) -> str:
        """``s1_fall_13``: unique over the dataset (file names repeat across folders)."""
        return f"{self.subject}_{self.kind}_{self.video.stem}"

    @property
    def fall_range(self) -> tuple[float, float] | None:
        """(onset, end) in seconds of the annotated fall, None for a clip without one."""
        spans = [(a, b) for n, a, b in self.ranges if n.split("(")[0].strip().lower()
                 in FALL_CLASSES]
        return min(spans) if spans else None


def parse_classes(text: str) -> list[tuple[str, float, float]]:
    """``"Falling (BW)[1.9 to 5]; Standing[0 to 0.3; 1.5 to 2.2]"`` -> (name, start, end) ranges.

    >>> parse_classes(" Falling (SW) [1.8 to 6] ; Standing[0 to 0.3; 1.5 to 2.2]")
    [('Falling (SW)', 1.8, 6.0), ('Standing', 0.0, 0.3), ('Standing', 1.5, 2.2)]
    """
    result = []
    text = text.strip()
    pos = 0
    while pos < len(text):
        match = _RANGE.match(text, pos)
        if match is None:
            raise ValueError(f"cannot read the class ranges {text!r} from position {pos}")
        name = match.group(1).strip()
        for span in match.group(2).split(";"):
            numbers = _SPAN.match(span)
            if numbers is None:
                raise ValueError(f"cannot read the range {span!r} of {name!r} in {text!r}")
            start, end = float(numbers.group(1)), float(numbers.group(2))
            if end < start:
                raise ValueError(f"range {span!r} of {name!r} ends before it starts")
            result.append((name, start, end))
        pos = match.end()
    return result


def read_clips(root: str | Path) -> Iterator[Clip]:
    """The clips present under ``root`` (``subject_N/<Fall|ADL>/*.mp4``) with their annotation;
    the annotation files also list absent clips, which are skipped."""
    root = Path(root)
    for subject_dir in sorted(root.glob("subject_*")):
        subject = "s" + subject_dir.name.split("_", 1)[1]
        for kind in KINDS:
            table = subject_dir / f"{kind}.csv"
            if not table.is_file():
                continue
            with open(table, newline="", encoding="utf-8-sig") as f:
                rows = list(csv.DictReader(f))
            for row in rows:
                row = {k.strip(): (v or "").strip() for k, v in row.items()}
                video = subject_dir / kind / row["File Name"]
                if video.is_file():
                    yield Clip(subject, kind.lower(), video, tuple(parse_classes(row["Classes"])),
                               row.get("Description", ""))


def frame_count(video: Path) -> tuple[int, float]:
    """(frames, frames per second) of a video file."""
    capture = cv2.VideoCapture(str(video))
    try:
        return int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), float(capture.get(cv2.CAP_PROP_FPS))
    finally:
        capture.release()


def lying_seconds(clip: Clip) -> tuple[float, float] | None:
    """Seconds of the clip labelled ``lying``: the fall range after its first :data:`FALL_S`."""
    fall = clip.fall_range
    if fall is None or fall[1] - fall[0] <= FALL_S:
        return None
    return fall[0] + FALL_S, fall[1]


def write_segment_files(root: str | Path,
                        out_dir: str | Path) -> list[tuple[Clip, Path, Path | None]]:
    """Write every clip's ``*_clip.csv`` and each fall clip's ``*_lying.csv`` into ``out_dir``.

    Returns (clip, clip segments file, lying segments file or None) per clip, in dataset order.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for clip in read_clips(root):
        n_frames, fps = frame_count(clip.video)
        if n_frames < 1 or fps <= 0:
            raise ValueError(f"{clip.video}: cannot read its frame count and rate")
        whole = out_dir / f"{clip.name}_clip.csv"
        _write(whole, [(0, n_frames - 1, clip.kind)])
        lying = None
        if (span := lying_seconds(clip)) is not None:
            first = int(round(span[0] * fps))
            last = min(n_frames - 1, int(round(span[1] * fps)))
            if first <= last:
                lying = out_dir / f"{clip.name}_lying.csv"
                _write(lying, [(first, last, "lying")])
        written.append((clip, whole, lying))
    return written


def _write(path: Path, rows: list[tuple[int, int, str]]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["start_frame", "end_frame", "label"])
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="falls_gmdcsa24 folder (subject_N/...)")
    parser.add_argument("out_dir", type=Path, help="folder of the segment files to write")
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        print(f"{args.root}: no such folder", file=sys.stderr)
        return 2
    for clip, whole, lying in write_segment_files(args.root, args.out_dir):
        print(f"{clip.name}: {whole.name}" + (f", {lying.name}" if lying else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
