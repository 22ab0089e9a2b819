"""Fall events on every dev clip and dev video: found vs annotated falls, delay, false alarms.

Run from the repository root::

    python bench/falls.py [--data ../shared/data] [--cache ../cache] [--falls-after 2]

Material: the 15 clips of ``falls_gmdcsa24`` (8 falls, 7 daily activities; two people, s1 and
s3) and the dev videos ``sit.mp4``, ``pushup2.mp4``, ``squat.mp4``, ``yoga.mp4`` (people near the
floor who did not fall). The clips' landmarks are the committed tables of
``datasets/falls_gmdcsa24/`` (every frame, tracked as ``poseclf video`` tracks them); the videos'
are extracted once into ``CACHE/falls/`` and reused. Each recording is replayed as ``poseclf
video --falls`` runs it (the model, :class:`~poseclf.video.smoothing.LabelSmoother` with the video
defaults, :class:`~poseclf.video.falls.FallDetector`), so no BlazePose runs after the first time.

Models, each trained as ``models/build.sh`` trains ``sitstandlie`` (k-NN on world features, the
rows of ``datasets/exclusions.csv`` left out, everyday negatives):

* **leave one person out**: for the clips of subject s1, a model whose ``lying`` rows are s3's
  only, and the other way round; the dev videos are scored with both;
* **shipped**: ``models/sitstandlie.skops`` (both people's lying rows: in-sample on the clips).

A fall is found when an event is raised after its annotated onset (the start of the dataset's
"Falling" range) and at most ``--falls-after`` + 3 s after it (the target: found within 3 s of the
onset, after the wait); its delay is alarm time minus onset. Every other event is a false alarm;
their rate per hour is over the daily-activity clips and the dev videos (no fall in them).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from datasets.gmdcsa24 import FALL_S, Clip, read_clips  # noqa: E402
from poseclf.pose.landmarks import NO_PERSON  # noqa: E402
from poseclf.pose.poses import Poses  # noqa: E402
from poseclf.pose.table import load_table  # noqa: E402
from poseclf.video.falls import DEFAULT_FALLS_AFTER_S, FallEvent, replay_falls  # noqa: E402
from poseclf.video.run import make_smoother_and_counter, smooth_poses  # noqa: E402

DATA = REPO.parent / "shared" / "data"
CACHE = REPO.parent / "cache"
TABLES = REPO / "datasets" / "falls_gmdcsa24"
BASE_TABLES = [REPO / "datasets" / f"{t}.csv" for t in
               ("sitstand_multimediaimg", "sitstand_rhpr", "sit_video")]
EXCLUSIONS = REPO / "datasets" / "exclusions.csv"
SHIPPED = REPO / "models" / "sitstandlie.skops"
DEV_VIDEOS = ("sit.mp4", "pushup2.mp4", "squat.mp4", "yoga.mp4")
SUBJECTS = ("s1", "s3")
FOUND_WITHIN_S = 3.0  # target: an event within 3 s of the onset, after --falls-after


@dataclass
class Recording:
    """One clip or video replayed: its name, subject (None for a dev video), fall onset (None:
    no fall), frame times and poses."""

    name: str
    subject: str | None
    onset: float | None
    times: np.ndarray
    poses: list
    fps: float

    @property
    def duration(self) -> float:
        return len(self.times) / self.fps


def clip_recordings(data: Path) -> list[Recording]:
    """Every falls_gmdcsa24 clip from the committed tables, in dataset order."""
    tables: dict[str, pd.DataFrame] = {}
    result = []
    for clip in read_clips(data / "falls_gmdcsa24"):
        key = f"{clip.subject}_{clip.kind}"
        if key not in tables:
            tables[key] = load_table(TABLES / f"{key}.csv")
        table = tables[key]
        rows = table[table["path"].str.startswith(f"{clip.video.name}#")].sort_values("frame")
        result.append(_recording(clip.name, clip.subject, _onset(clip), rows))
    return result


def _onset(clip: Clip) -> float | None:
    fall = clip.fall_range
    return None if fall is None else fall[0]


def _recording(name: str, subject: str | None, onset: float | None,
               rows: pd.DataFrame) -> Recording:
    frames = rows["frame"].to_numpy()
    times = rows["time_s"].to_numpy(dtype=float)
    fps = float(frames[-1] / times[-1]) if times[-1] > 0 else 30.0
    return Recording(name, subject, onset, times, list(Poses.from_table(rows)), fps)


def video_recordings(data: Path, cache: Path) -> list[Recording]:
    """The dev videos, every frame, from ``cache/falls/<name>.csv`` (extracted on first use)."""
    from poseclf.pose.video_sources import VideoInfo
    from poseclf.video.segments import Segment, extract_videos_to_table

    folder = cache / "falls"
    folder.mkdir(parents=True, exist_ok=True)
    result = []
    for name in DEV_VIDEOS:
        video = data / "videos" / name
        table = folder / f"{Path(name).stem}.csv"
        info = VideoInfo.from_video_path(video)
        extract_videos_to_table([(video, [Segment(0, info.total_frames - 1, "video")])], table,
                                progress=False)
        rows = load_table(table).sort_values("frame")
        result.append(_recording(name, None, None, rows))
    return result


def train_model(lying_subjects: tuple[str, ...]):
    """sitstandlie as ``models/build.sh`` trains it, with the lying rows of these subjects."""
    from poseclf.classify.model import PoseModel
    from poseclf.classify.negatives import everyday_negatives
    from poseclf.pose.poses import training_arrays, training_world_landmarks
    from poseclf.tables.exclusions import load_training_tables

    paths = BASE_TABLES + [REPO / "datasets" / f"falls_lying_{s}.csv" for s in lying_subjects]
    table, _ = load_training_tables(paths, [EXCLUSIONS])
    lm, sizes, labels = training_arrays(table)
    return PoseModel.train(lm, sizes, labels, cv=0, world_landmarks=training_world_landmarks(table),
                           negatives=everyday_negatives())


def replay(recording: Recording, model, after_s: float) -> tuple[list[FallEvent], str, list]:
    """The events ``poseclf video --falls`` raises on a recording, a summary of its smoothed
    labels and the candidates, and the model's own answer on each frame."""
    classes = list(model.classes_)
    smoother, _ = make_smoother_and_counter(classes, SimpleNamespace(fps=recording.fps))
    labels, probas, raw = [], [], []
    for _, _, smoothed in smooth_poses(recording.poses, model, smoother):
        labels.append(smoothed.label)
        probas.append(smoothed.probabilities)
        raw.append(smoothed.raw_label)
    detector = replay_falls(recording.times, labels, probas, recording.poses, classes,
                            after_s=after_s)
    summary = _labels_summary(labels) + " | starts: " + ", ".join(
        f"{t:.1f}s " + ("late" if v is None else f"{v:.2f}m/s{'*' if ok else ''}")
        for t, v, ok in detector.candidates)
    return detector.events, summary, raw


@dataclass
class Score:
    name: str
    onset: float | None
    events: list[FallEvent]
    found: FallEvent | None
    false_alarms: int
    duration: float
    phases: dict  # phase ("mid-fall", "on the floor", "no fall") -> the model's answers


def phases(recording: Recording, raw: list[str]) -> dict[str, list[str]]:
    """The model's per-frame answers by phase: the fall itself (its first FALL_S seconds), the
    time on the floor after it, and every frame of a recording without a fall."""
    if recording.onset is None:
        return {"no fall": raw}
    t = recording.times
    mid = (t >= recording.onset) & (t < recording.onset + FALL_S)
    floor = t >= recording.onset + FALL_S
    return {"mid-fall": [r for r, m in zip(raw, mid, strict=True) if m],
            "on the floor": [r for r, f in zip(raw, floor, strict=True) if f]}


def score(recording: Recording, events: list[FallEvent], after_s: float,
          raw: list[str] | None = None) -> Score:
    found = None
    if recording.onset is not None:
        inside = [e for e in events if recording.onset <= e.alarm_s
                  <= recording.onset + after_s + FOUND_WITHIN_S]
        found = inside[0] if inside else None
    false_alarms = len(events) - (found is not None)
    return Score(recording.name, recording.onset, events, found, false_alarms,
                 recording.duration, phases(recording, raw or []))


def _labels_summary(labels: list[str]) -> str:
    runs = []
    for label in labels:
        if not runs or runs[-1][0] != label:
            runs.append([label, 0])
        runs[-1][1] += 1
    return " ".join(f"{label}x{n}" for label, n in runs)


def report(title: str, scores: list[Score], after_s: float, verbose_labels: dict) -> dict:
    print(f"\n## {title}")
    print(f"{'recording':<14} {'onset':>6} {'start':>6} {'alarm':>6} {'delay':>6} {'conf':>5} "
          f"{'descent':>8} {'false':>5}  labels")
    for s in scores:
        alarm = s.found.alarm_s if s.found else None
        delay = None if alarm is None else alarm - s.onset
        shown = s.found or (s.events[0] if s.events else None)  # the event shown
        print(f"{s.name:<14} {_f(s.onset)} {_f(shown.start_s if shown else None)} {_f(alarm)} "
              f"{_f(delay)} "
              f"{_f(shown.confidence if shown else None, 5, 2)} "
              f"{_f(shown.descent_m_s if shown else None, 8, 2)} {s.false_alarms:>5}  "
              f"{verbose_labels.get(s.name, '')}")
    falls = [s for s in scores if s.onset is not None]
    others = [s for s in scores if s.onset is None]
    found = [s for s in falls if s.found]
    delays = [s.found.alarm_s - s.onset for s in found]
    hours = sum(s.duration for s in others) / 3600
    false_all = sum(s.false_alarms for s in scores)
    false_other = sum(s.false_alarms for s in others)
    print(f"falls found: {len(found)} of {len(falls)}"
          + (f"; delay from onset {min(delays):.1f}-{max(delays):.1f} s (median "
             f"{np.median(delays):.1f}; {after_s:g} s of it is --falls-after)" if delays else ""))
    print(f"false alarms: {false_all} in all ({false_other} on {len(others)} recordings without a "
          f"fall, {hours * 60:.1f} min: {false_other / hours if hours else 0:.1f} per hour)")
    print("the model's answer per frame (before smoothing):")
    for phase in ("mid-fall", "on the floor", "no fall"):
        answers = [a for s in scores for a in s.phases.get(phase, [])]
        seen = [a for a in answers if a != NO_PERSON]
        if not seen:
            continue
        shares = {k: sum(a in v for a in seen) / len(seen) for k, v in
                  (("lying", {"lying"}), ("upright", {"sitting", "standing"}),
                   ("unknown/partial", {"unknown", "partial"}))}
        print(f"  {phase:<13} {len(seen):>5} frames with a person: "
              + ", ".join(f"{k} {v:.0%}" for k, v in shares.items())
              + f" ({len(answers) - len(seen)} frames without one)")
    return {"found": len(found), "falls": len(falls), "false": false_all}


def _f(value, width: int = 6, decimals: int = 1) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{decimals}f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--falls-after", type=float, default=DEFAULT_FALLS_AFTER_S)
    parser.add_argument("--labels", action="store_true", help="print each recording's labels")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    clips = clip_recordings(args.data)
    videos = video_recordings(args.data, args.cache)
    print(f"{len(clips)} clips ({sum(c.onset is not None for c in clips)} falls), "
          f"{len(videos)} dev videos; --falls-after {args.falls_after:g} s")

    # leave one person out: each subject's clips scored by a model that never saw them lying
    lopo_scores, video_scores, labels = [], {}, {}
    for held_out in SUBJECTS:
        model = train_model(tuple(s for s in SUBJECTS if s != held_out))
        for rec in clips:
            if rec.subject == held_out:
                events, shown, raw = replay(rec, model, args.falls_after)
                lopo_scores.append(score(rec, events, args.falls_after, raw))
                labels[rec.name] = shown if args.labels else ""
        for rec in videos:
            events, shown, raw = replay(rec, model, args.falls_after)
            video_scores.setdefault(rec.name, []).append(score(rec, events, args.falls_after,
                                                               raw))
            labels[f"{rec.name}"] = shown if args.labels else ""
    # a dev video counts its false alarms under both models (worst of the two)
    worst = [max(v, key=lambda s: s.false_alarms) for v in video_scores.values()]
    order = {rec.name: i for i, rec in enumerate(clips)}
    lopo = report("leave one person out (clips: the model never saw the person lying; dev "
                  "videos: worse of the two models)",
                  sorted(lopo_scores, key=lambda s: order[s.name]) + worst, args.falls_after,
                  labels)
    if SHIPPED.is_file():
        from poseclf.classify.model import PoseModel

        model = PoseModel.load(SHIPPED)
        shipped_scores, labels = [], {}
        for rec in clips + videos:
            events, shown, raw = replay(rec, model, args.falls_after)
            shipped_scores.append(score(rec, events, args.falls_after, raw))
            labels[rec.name] = shown if args.labels else ""
        report(f"shipped {SHIPPED.name} (in-sample on the clips)", shipped_scores,
               args.falls_after, labels)
    print(f"\n{time.perf_counter() - started:.0f} s")
    ok = lopo["found"] >= lopo["falls"] - 1 and lopo["false"] == 0
    print(f"targets (leave one person out >= {lopo['falls'] - 1} of {lopo['falls']}, 0 false "
          f"alarms): {'met' if ok else 'missed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
