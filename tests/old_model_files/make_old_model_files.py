"""Write the model files of ``tests/test_old_model_files.py`` with the poseclf of BEFORE the
stage packages (flat modules: ``poseclf.embedding``, ``poseclf.classifiers``, ...)::

    git archive 61e0fd5 | tar -x -C /tmp/flat     # the last commit with the flat modules
    cd /tmp/flat && python /path/to/tests/old_model_files/make_old_model_files.py

``knn_flat_modules.skops``: a k-NN model with world-landmark novelty trained on 15 poses of
each class of ``datasets/pushups_visolus.csv``; ``knn_flat_modules.npz``: its labels,
probabilities and novelty on every detected pose of that table, computed when it was saved.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from poseclf.poses import training_arrays, training_world_landmarks  # the flat module

from poseclf import PoseModel, load_table

HERE = Path(__file__).resolve().parent
TABLE = HERE.parents[1] / "datasets" / "pushups_visolus.csv"
PER_CLASS = 15


def main() -> None:
    import poseclf

    assert not (Path(poseclf.__file__).parent / "classify").is_dir(), "needs the flat modules"
    table = load_table(TABLE)
    landmarks, sizes, labels = training_arrays(table)
    world = training_world_landmarks(table)
    train = np.concatenate([np.flatnonzero(labels == c)[:PER_CLASS] for c in np.unique(labels)])
    model = PoseModel.train(landmarks[train], sizes[train], labels[train], "knn", cv=0,
                            world_landmarks=world[train])
    model.save(HERE / "knn_flat_modules.skops")
    scored = model.predict_with_scores(landmarks, sizes, world_landmarks=world)
    np.savez(HERE / "knn_flat_modules.npz", labels=scored.labels.astype(str),
             proba=scored.proba, novelty=scored.novelty, threshold=scored.threshold,
             classes=np.asarray(model.classes_))


if __name__ == "__main__":
    main()
