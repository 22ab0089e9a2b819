#!/usr/bin/env bash
# Rebuild the shipped landmark tables (datasets/) and models (models/) from the development data.
#   bash models/build.sh [DATA_DIR]        (default DATA_DIR: ../shared/data)
# Deterministic: the same photos give the same tables; the same tables give the same models.
# Extraction resumes, so a re-run only redoes changed photos.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:-../shared/data}"
POSECLF="${POSECLF:-poseclf}"

for ds in yoga_manoj yoga_marchenkova pushups_visolus sitstand_multimediaimg sitstand_rhpr; do
  "$POSECLF" extract "$DATA/$ds" -o "datasets/$ds.csv" --quiet
done

# Labelled frames of sit.mp4: its sitting/standing segments (transitions and empty room left out),
# every 3rd frame so one person on one sofa does not outweigh the photos.
"${PYTHON:-python3}" - "$DATA/videos/annotations.json" datasets/sit_video_segments.csv <<'PY'
import sys
from poseclf.video.segments import segments_from_annotations, write_segments
write_segments(segments_from_annotations(sys.argv[1], "sit.mp4", {"sitting", "standing"}), sys.argv[2])
PY
"$POSECLF" extract "$DATA/videos/sit.mp4" --segments datasets/sit_video_segments.csv --stride 3 \
  -o datasets/sit_video.csv --quiet

# Labelled frames of pushup2.mp4 (another person and room than the push-up photos): its up and
# down segments as pushups_up / pushups_down (transitions left out), every 3rd frame.
"${PYTHON:-python3}" - "$DATA/videos/annotations.json" datasets/pushup_video_segments.csv <<'PY'
import sys
from poseclf.video.segments import Segment, segments_from_annotations, write_segments
segments = segments_from_annotations(sys.argv[1], "pushup2.mp4", {"up", "down"})
write_segments([Segment(s.start_frame, s.end_frame, f"pushups_{s.label}") for s in segments],
               sys.argv[2])
PY
"$POSECLF" extract "$DATA/videos/pushup2.mp4" --segments datasets/pushup_video_segments.csv \
  --stride 3 -o datasets/pushup_video.csv --quiet

# Training leaves out the rows datasets/exclusions.csv names: bad detections found by looking at
# the photos (skeleton on a bystander or joining two people); see datasets/README.md.
train() {  # name, title, tables...
  local name="$1" title="$2"; shift 2
  "$POSECLF" train "$@" --exclude datasets/exclusions.csv -o "models/$name.skops" \
    --card "models/$name.md" --card-notes "models/notes/$name.md" --title "$title"
}
train yoga "Yoga poses (14 classes)" datasets/yoga_manoj.csv datasets/yoga_marchenkova.csv
train pushups "Push-up phases (up / down)" datasets/pushups_visolus.csv datasets/pushup_video.csv
train sitstand "Sitting or standing" datasets/sitstand_multimediaimg.csv \
  datasets/sitstand_rhpr.csv datasets/sit_video.csv
