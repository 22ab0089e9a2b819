"""Stage 3, classify: from poses to class probabilities and novelty, and the model file.

``embedding`` (:class:`~poseclf.classify.embedding.PoseEmbedder`), ``classifiers`` (k-NN, SVM
and the registry), ``novelty`` (the ``unknown`` and ``partial`` answers), ``pose_classifier``
(the scikit-learn estimator), ``lean_predict`` (the one-pose fast path), ``model``
(:class:`~poseclf.classify.model.PoseModel`), ``model_io`` (writing and reading ``.skops``
files) and their checks (``model_file``: name, format, first bytes; ``skops_archive``: sizes
before loading; ``model_metadata``; ``loaded_model_checks``), ``model_card`` and ``predict``
(``poseclf predict``); ``defaults`` holds the names and defaults that ``poseclf --help`` shows,
without importing scikit-learn.
May import: :mod:`poseclf.pose`, :mod:`poseclf.pictures`, :mod:`poseclf.errors`,
:mod:`poseclf.files`, :mod:`poseclf._version` and :mod:`poseclf.shipped` (models found by bare
name); never tables, video or the CLI. This ``__init__`` imports nothing, so importing one stage
does not import the others.
"""
