"""``poseclf demo``: the whole flow on material that ships with the install, offline."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from .detect import draw_poses, save_pose_3d
from .draw import write_image
from .extraction import PoseExtractor


@dataclass
class DemoReport:
    """What the demo did, for the caller to print."""

    out_dir: Path
    pictures: list[Path] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def sample_photos() -> dict[str, object]:
    """Real photos of people that scikit-image ships (NASA's astronaut; the cameraman)."""
    from skimage import data

    return {"astronaut": data.astronaut(), "cameraman": data.camera()}


def run_demo(out_dir: str | os.PathLike = "poseclf-demo") -> DemoReport:
    """Detect and draw the pose in the sample photos and plot the first one in 3D."""
    out = Path(out_dir)
    report = DemoReport(out)
    with PoseExtractor() as extract:
        for name, image in sample_photos().items():
            rgb = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
            pose = extract(rgb)
            if pose is None:
                report.lines.append(f"{name}: nobody found")
                continue
            drawn = out / f"{name}_pose.png"
            write_image(drawn, draw_poses(rgb, [pose]))
            plot = save_pose_3d(pose, out / f"{name}_3d.png", title=f"{name}: world landmarks")
            report.pictures += [drawn, plot]
            report.lines.append(
                f"{name}: 33 landmarks, mean visibility {pose.visibility.mean():.2f}"
            )
    return report
