"""Several people in one video: ids, counts, labels and speed on videos made from the dev videos.

Run from the repository root (the dev videos in ``../shared/data/videos``)::

    python bench/people.py [--frames N] [--speed-frames N]

There is no multi-person dev video, so the pairs are made (``tests/people_videos.py``):
``pushup2.mp4`` beside ``squat.mp4``, each resized to 360 pixels high (the push-up man's half
is blank once his video ends, at frame 472), as is; swapped halfway (the people change places
at once); and with the push-up man away for a second. One model labels both (``up``/``down``:
push-ups at the top and bottom, standing and sitting people; ``--count down``), as in
tests/test_people.py.

For each pair it prints the id switches (a true person given another id than at their previous
pose) and the ids each person got; each person's count against their half run alone (the legacy
graph, ``poseclf video``'s default, and the Tasks backend that ``--people`` runs on); and the
per-person label accuracy against ``videos/annotations.json`` (frames annotated ``up`` or
``down``), together and alone. Then frames per second of the whole labelling (BlazePose,
tracker, model, smoothing; no drawing or writing) for 1 person (``--people 1``: today's path),
2 (the pair) and 3 people (push-ups, squats and yoga side by side).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from people_videos import (  # noqa: E402
    PairPlan,
    id_switches,
    make_half_video,
    make_pair_video,
    up_down_model,
)

from poseclf.pose.extraction import ExtractOptions  # noqa: E402
from poseclf.pose.video_sources import VideoInfo  # noqa: E402
from poseclf.video.crops import CropFinder  # noqa: E402
from poseclf.video.people import label_people, person_tracker  # noqa: E402
from poseclf.video.run import label_frames, make_smoother_and_counter  # noqa: E402

DATA = REPO.parent / "shared" / "data"
FIRST, SECOND, THIRD = "pushup2.mp4", "squat.mp4", "yoga.mp4"
COUNTED = "down"


def frames(path: Path, limit: int | None = None):
    capture = cv2.VideoCapture(str(path))
    n = 0
    while limit is None or n < limit:
        ok, frame = capture.read()
        if not ok:
            break
        n += 1
        yield frame
    capture.release()


def info(fps: float = 30.0) -> VideoInfo:
    return VideoInfo(width=0, height=0, fps=fps, total_frames=None, source="bench")


def run_one(path: Path, model, extract: ExtractOptions, limit=None) -> tuple[list, float]:
    smoother, counter = make_smoother_and_counter(model.classes_, info(), count=COUNTED)
    with extract.extractor(static_image_mode=False) as extractor:
        start = time.perf_counter()
        results = [(r.label, r.repetitions) for r in label_frames(
            frames(path, limit), extractor, model, smoother, counter)]
        return results, time.perf_counter() - start


def run_people(path: Path, model, n: int, limit=None) -> tuple[list, float]:
    extract = ExtractOptions(backend="tasks").check()
    with CropFinder(extract, n) as finder:
        start = time.perf_counter()
        out = list(label_people(
            frames(path, limit), finder, model,
            lambda: make_smoother_and_counter(model.classes_, info(), count=COUNTED),
            person_tracker(30.0)))
        return out, time.perf_counter() - start


def annotated(video: str, n_frames: int, plan: PairPlan, first: bool) -> list[str | None]:
    """Each frame's annotated label in the pair (a blanked frame, or one after the video's end,
    has none)."""
    notes = json.loads((DATA / "videos" / "annotations.json").read_text())[video]
    labels: list[str | None] = [None] * notes["n_frames"]
    for segment in notes["segments"]:
        for i in range(segment["start"], segment["end"] + 1):
            labels[i] = segment["label"]
    out = [labels[i] if i < len(labels) else None for i in range(n_frames)]
    return [None if first and not plan.first_present(i) else label for i, label in enumerate(out)]


def accuracy(predicted: dict[int, str], truth: list[str | None]) -> float:
    scored = [i for i, t in enumerate(truth) if t in ("up", "down") and i in predicted]
    return float(np.mean([predicted[i] == truth[i] for i in scored])) if scored else float("nan")


def pair_report(name: str, plan: PairPlan, model, folder: Path) -> None:
    videos = DATA / "videos"
    pair = make_pair_video(videos / FIRST, videos / SECOND, folder / f"{name}.mp4", plan)
    together, seconds = run_people(pair, model, 2)
    switches, ids = id_switches(together, plan)
    print(f"\n{name}: {plan.frames} frames, swap at {plan.swap_at}, push-up man away over "
          f"{plan.leave}; {len(together) / seconds:.1f} frames/s with 2 people")
    print(f"  id switches: {switches}; ids given: push-up man {sorted(ids[0])}, squatter "
          f"{sorted(ids[1])}")
    print("  | person | count together | alone (legacy) | alone (tasks) | accuracy together | "
          "alone (legacy) | alone (tasks) |")
    for truth, video in ((0, FIRST), (1, SECOND)):
        half = make_half_video(videos / video, folder / f"{name}_{truth}.mp4", plan,
                               first=truth == 0)
        alone = {"legacy": run_one(half, model, ExtractOptions())[0],
                 "tasks": run_one(half, model, ExtractOptions(backend="tasks").check())[0]}
        person = min(ids[truth]) if ids[truth] else None
        rows = {f.index: p for f in together for p in f.people if p.person == person}
        count = rows[max(rows)].repetitions if rows else None
        labels = annotated(video, plan.frames, plan, truth == 0)
        acc = accuracy({i: rows[i].label if i in rows else "no_person"
                        for i in range(len(together))}, labels)
        acc_alone = {k: accuracy(dict(enumerate(lab for lab, _ in v)), labels)
                     for k, v in alone.items()}
        print(f"  | {video} | {count} | {alone['legacy'][-1][1]} | {alone['tasks'][-1][1]} | "
              f"{100 * acc:.1f} % | {100 * acc_alone['legacy']:.1f} % | "
              f"{100 * acc_alone['tasks']:.1f} % |")


def speed_report(model, folder: Path, limit: int) -> None:
    videos = DATA / "videos"
    plan = PairPlan(limit)
    half = make_half_video(videos / FIRST, folder / "speed_1.mp4", plan, first=True)
    pair = make_pair_video(videos / FIRST, videos / SECOND, folder / "speed_2.mp4", plan)
    triple = folder / "speed_3.mp4"
    _triple(pair, videos / THIRD, triple, plan)
    one, s1 = run_one(half, model, ExtractOptions(), limit)
    tasks_one, s1t = run_people(half, model, 1, limit)
    two, s2 = run_people(pair, model, 2, limit)
    three, s3 = run_people(triple, model, 3, limit)
    print(f"\nframes per second, labelling only ({limit} frames; 640x360 pixels a person):")
    print(f"  1 person, --people 1 (legacy graph, today's path): {len(one) / s1:.1f}")
    print(f"  1 person, the several-people path (Tasks, crops; people=1): "
          f"{len(tasks_one) / s1t:.1f}")
    print(f"  2 people: {len(two) / s2:.1f}")
    found = np.mean([sum(p.pose is not None for p in f.people) for f in three])
    print(f"  3 people (a 2x2 grid, one quarter empty): {len(three) / s3:.1f} (people with a "
          f"pose per frame: {found:.2f}; frames with a pose of the push-up man (top left) "
          f"{_in_quarter(three, 0, 0)}, the squatter (top right) {_in_quarter(three, 1, 0)}, "
          f"yoga (bottom left) {_in_quarter(three, 0, 1)})")


def _in_quarter(frames_found, column: int, row: int) -> int:
    """Frames with a pose whose keypoints' median lies in that quarter of the 2x2 grid."""
    quarter = np.array([column, row], dtype=bool)
    return sum(any(p.pose is not None
                   and ((np.median(p.pose.landmarks[:, :2], axis=0) >= 0.5) == quarter).all()
                   for p in f.people) for f in frames_found)


def _triple(pair: Path, third: Path, out: Path, plan: PairPlan) -> None:
    """The pair above, the third video and a grey quarter below (a 1920-pixel-wide row would
    make each person too small for BlazePose's detector: it found nobody there)."""
    from people_videos import BLANK, HALF_HEIGHT, _frames, _writer

    writer = None
    for a, b in zip(frames(pair), _frames(third, plan.frames, HALF_HEIGHT), strict=False):
        frame = np.vstack([a, np.hstack([b, np.full_like(b, BLANK)])])
        if writer is None:
            writer = _writer(out, 30.0, (frame.shape[1], frame.shape[0]))
        writer.write(frame)
    writer.release()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=851,
                        help="frames of each pair (default: 851, all of squat.mp4)")
    parser.add_argument("--speed-frames", type=int, default=300)
    args = parser.parse_args(argv)
    if not (DATA / "videos" / FIRST).is_file():
        sys.exit(f"{DATA / 'videos'}: the dev videos are needed (clone beside ../shared)")
    model = up_down_model()
    start = time.perf_counter()
    half = args.frames // 2
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pair_report("side by side", PairPlan(args.frames), model, folder)
        pair_report("swapped halfway", PairPlan(args.frames, swap_at=half), model, folder)
        pair_report("one away for a second", PairPlan(args.frames, leave=(150, 180)), model,
                    folder)
        speed_report(model, folder, args.speed_frames)
    print(f"\n{time.perf_counter() - start:.0f} s in all")
    return 0


if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    sys.exit(main())
