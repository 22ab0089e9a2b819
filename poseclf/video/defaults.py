"""The smoothing defaults and output formats that ``poseclf video --help`` shows.

This module imports nothing, so that the command line builds its help without loading OpenCV
or NumPy; :mod:`~poseclf.video.smoothing` and :mod:`~poseclf.video.outputs` import them from
here.
"""

from __future__ import annotations

VIDEO_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG"}  # FourCC
TIMELINE_SUFFIXES = (".csv", ".jsonl")
FALLS_SUFFIXES = (".jsonl",)  # poseclf video --falls: one JSON line per fall
DEFAULT_FALLS_AFTER_S = 2.0  # s down before a fall is raised: longer than a bend or a push-up

# MediaPipe pose classification (EMADictSmoothing defaults): 10 frames = 0.33 s at 30 fps.
DEFAULT_WINDOW = 10  # frames
DEFAULT_ALPHA = 0.2  # weight decay per frame back in time
# Hysteresis, chosen with `bench/video_quality.py --grid` on all four dev videos: a 0.1 margin
# halves the extra switches (squat: 13 -> 7, truth 7); each extra min_frame only adds lag (about
# 1 point of frame accuracy per frame on every video) because the EMA already absorbs one-frame
# spikes (a single frame weighs at most 1/4.5 of the average at window 10, alpha 0.2).
DEFAULT_MIN_FRAMES = 1  # frames a new class must stay ahead (raise it for noisy models)
DEFAULT_MARGIN = 0.1  # smoothed-probability lead the new class needs over the shown label
DEFAULT_MAX_MISSING = 5  # frames without a pose bridged before showing no_person: 0.17 s at 30 fps
#: Video defaults in seconds, so a 5 fps clip is smoothed over the same time as a 30 fps one
#: (MediaPipe's 10-frame window assumes about 30 fps; 10 frames at 5 fps would lag by 2 s).
DEFAULT_WINDOW_VIDEO = "0.33s"  # = DEFAULT_WINDOW frames at 30 fps
DEFAULT_MAX_MISSING_VIDEO = "0.17s"  # = DEFAULT_MAX_MISSING frames at 30 fps
