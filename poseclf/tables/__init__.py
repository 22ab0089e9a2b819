"""Stage 4, tables: landmark tables made from photo folders, at scale, and their review.

``engine`` (the resumable extraction of a plan into a table, checkpointed), ``cluster`` (the
local processes or Dask cluster it runs on), ``dataset`` (the plan for a folder of class
folders), ``exclusions`` (rows left out of training), ``stats`` (per-class counts, NumPy only),
``review`` (the same as DataFrames, and outliers) and the review page (``review_cards``,
``thumbnails``, ``review_page``).
May import: :mod:`poseclf.pose`, :mod:`poseclf.pictures`, :mod:`poseclf.classify` (``review``
scores rows with out-of-fold probabilities), :mod:`poseclf.errors` and :mod:`poseclf.files`;
never video or the CLI. This ``__init__`` imports nothing, so importing one stage does not
import the others.
"""
