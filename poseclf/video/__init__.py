"""Stage 5, video: labels on video frames, smoothed and counted, and tables made from videos.

``run`` (:func:`~poseclf.video.run.label_frames` and :func:`~poseclf.video.run.run_video`:
frame, pose, probabilities, smoothed label, count, outputs), ``loop`` (the frame loop of
``run_video``: sinks, stops), ``results`` (a frame's result, a run's report), ``smoothing`` (the
label smoother), ``counting`` (the repetition counter), ``people`` and ``tracking`` (several
people: a label, a count and an id each), ``outputs`` (the annotated video, the timeline, the
window) and ``segments`` (the plan that extracts labelled video segments into a
table); ``defaults`` holds what ``poseclf video --help`` shows, without importing OpenCV.
May import every earlier stage (:mod:`poseclf.pose`, :mod:`poseclf.pictures`,
:mod:`poseclf.classify`, :mod:`poseclf.tables`), :mod:`poseclf.errors` and :mod:`poseclf.files`;
never the CLI. This ``__init__`` imports nothing, so importing one stage does not import the
others.
"""
