"""Models trained in tests and benches from the repository's landmark tables (``datasets/``).

No squat photos exist, so squats are counted with standing people as ``up`` and sitting ones as
``down`` (as ``bench/video_quality.py`` does); push-ups add their top and bottom photos.
Used by tests/test_reps.py, tests/people_videos.py, tests/test_export_onnx.py and bench/reps.py.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

#: (table, folder label, model label) of a squat model: standing is up, sitting down.
SQUAT_PARTS = (("sitstand_multimediaimg", "standing", "up"),
               ("sitstand_rhpr", "standing", "up"),
               ("yoga_marchenkova", "mountain", "up"),
               ("sitstand_multimediaimg", "sitting", "down"),
               ("sitstand_rhpr", "sitting", "down"))
#: The push-up photos' top and bottom as up and down.
PUSHUP_PARTS = (("pushups_visolus", "pushups_up", "up"),
                ("pushups_visolus", "pushups_down", "down"))


def model_from_tables(parts, *, with_world: bool = True, **train_options):
    """A model with ``poseclf train``'s defaults on the detected rows of ``parts``, each row
    relabelled: (table name in ``datasets/``, its label, the model's label). ``train_options``
    go to :meth:`PoseModel.train` (e.g. ``classifier``); ``with_world=False`` trains without
    the world landmarks."""
    import pandas as pd

    from poseclf.classify.model import PoseModel
    from poseclf.pose.poses import training_arrays, training_world_landmarks

    frames = []
    for table, folder, label in parts:
        df = pd.read_csv(REPO / "datasets" / f"{table}.csv")
        df = df[df["detected"] & (df["label"] == folder)].copy()
        df["label"] = label
        frames.append(df)
    table = pd.concat(frames, ignore_index=True)
    landmarks, sizes, labels = training_arrays(table)
    world = training_world_landmarks(table) if with_world else None
    return PoseModel.train(landmarks, sizes, labels, world_landmarks=world,
                           **{"cv": 0, **train_options})
