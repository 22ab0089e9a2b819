"""Stage 1, pose: from a photo or a video frame to a :class:`~poseclf.pose.landmarks.Pose`.

``landmarks`` (the Pose type and BlazePose's 33 joints), ``images`` (reading photos; their
headers in ``image_headers``), ``image_paths`` (the image files of a command line and the names
of the outputs per image), ``video_sources`` (webcams, video files, streams and their frames),
``video_frames`` (frames of a video file by index), ``row_pictures`` (the picture of a table
row, for the contact sheets), ``extraction`` (BlazePose:
:class:`~poseclf.pose.extraction.PoseExtractor`), ``poses`` (:class:`~poseclf.pose.poses.Poses`,
a batch of poses) and ``table`` (the landmark table's schema, which ``Poses`` reads and writes);
``defaults`` holds what ``poseclf --help`` shows, without importing OpenCV, pandas or NumPy.
May import: only :mod:`poseclf.errors` and :mod:`poseclf.files`; every later stage (pictures,
classify, tables, video) may import it. This ``__init__`` imports nothing, so importing one stage
does not import the others.
"""
