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

# The fall clips of falls_gmdcsa24 (two people, s1 and s3): the dataset's Class[a to b] ranges
# become segment files (datasets/gmdcsa24.py), then two kinds of tables:
# - datasets/falls_gmdcsa24/<subject>_<fall|adl>.csv: every frame of every clip, tracked from
#   its first frame as `poseclf video` tracks it (what bench/falls.py replays; not training rows);
# - datasets/falls_lying_<subject>.csv: every 3rd frame of each fall clip's time on the floor,
#   labelled lying (the lying class of sitstandlie; one table per person for bench/falls.py's
#   leave-one-person-out). Clip file names repeat across folders, hence one table per folder.
SEG=datasets/falls_gmdcsa24/segments
"${PYTHON:-python3}" -m datasets.gmdcsa24 "$DATA/falls_gmdcsa24" "$SEG" > /dev/null
for sub in 1 3; do
  for kind in fall adl; do
    folder="$DATA/falls_gmdcsa24/subject_$sub/$([ "$kind" = fall ] && echo Fall || echo ADL)"
    videos=("$folder"/*.mp4); segments=()
    for v in "${videos[@]}"; do segments+=(--segments "$SEG/s${sub}_${kind}_$(basename "$v" .mp4)_clip.csv"); done
    "$POSECLF" extract "${videos[@]}" "${segments[@]}" -o "datasets/falls_gmdcsa24/s${sub}_$kind.csv" --quiet
  done
  videos=("$DATA/falls_gmdcsa24/subject_$sub/Fall"/*.mp4); segments=()
  for v in "${videos[@]}"; do segments+=(--segments "$SEG/s${sub}_fall_$(basename "$v" .mp4)_lying.csv"); done
  "$POSECLF" extract "${videos[@]}" "${segments[@]}" --stride 3 -o "datasets/falls_lying_s$sub.csv" --quiet
done

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
# sitstand's tables plus the fall clips' floor phases: the model of `poseclf video --falls`.
train sitstandlie "Sitting, standing or lying" datasets/sitstand_multimediaimg.csv \
  datasets/sitstand_rhpr.csv datasets/sit_video.csv datasets/falls_lying_s1.csv \
  datasets/falls_lying_s3.csv
