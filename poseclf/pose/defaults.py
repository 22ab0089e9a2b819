"""The pose stage's names and defaults that ``poseclf --help`` shows.

This module imports nothing, so that the command line builds its help without loading OpenCV,
pandas or NumPy; :mod:`~poseclf.pose.video_sources` and :mod:`~poseclf.pose.table` import them
from here.
"""

from __future__ import annotations

DEFAULT_TIMEOUT_S = 10.0  # s a camera or stream gets to open and give a frame
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")  # landmark tables: CSV or Parquet, by extension
