"""Pictures of poses: skeleton and label overlays on frames, and a 3D plot of world landmarks.

Annotators follow one pattern: style in the constructor, ``annotate(frame, result)`` draws what
``result`` holds (see :class:`Annotation`) in place on a **BGR** uint8 frame (OpenCV's order) and
returns it, so calls chain. A video frame's result is a :class:`poseclf.video.run.FrameResult`; a
photo's is an :class:`Overlay`. Pass ``frame.copy()`` to keep the original. Sizes scale with the
frame so overlays read on 320x240 and 1280x720 alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from ..pose.landmarks import LANDMARK_NAMES, POSE_CONNECTIONS, VISIBILITY_THRESHOLD, Pose

REFERENCE_HEIGHT = 480.0  # px: overlay sizes below are given for a frame this tall
_LEFT = {i for i, n in enumerate(LANDMARK_NAMES) if n.startswith("left_") or n.endswith("_left")}
_RIGHT = {i for i, n in enumerate(LANDMARK_NAMES) if n.startswith("right_") or n.endswith("_right")}


def overlay_scale(frame: np.ndarray) -> float:
    """Factor applied to line widths and font sizes: 1.0 for a 480-px-high frame."""
    return max(frame.shape[0], 1) / REFERENCE_HEIGHT


def _px(value: float, scale: float) -> int:
    return max(1, int(round(value * scale)))


class Annotation(Protocol):
    """What the annotators read from a result; :class:`Overlay` and
    :class:`poseclf.video.run.FrameResult` have it.

    ``label`` is drawn with ``confidence`` (None: no percentage) and, when ``bars`` is given,
    one bar per class (``bars[i]`` is the probability of ``classes[i]``); ``repetitions`` of
    ``count_class`` and the processing ``rate`` (frames per second) are drawn when not None.
    """

    @property
    def pose(self) -> Pose | None: ...
    @property
    def label(self) -> str | None: ...
    @property
    def confidence(self) -> float | None: ...
    @property
    def bars(self) -> Sequence[float] | None: ...
    @property
    def classes(self) -> Sequence[str]: ...
    @property
    def repetitions(self) -> int | None: ...
    @property
    def count_class(self) -> str | None: ...
    @property
    def rate(self) -> float | None: ...


@dataclass(frozen=True)
class Overlay:
    """What to draw on a photo (or any frame outside the video loop): an :class:`Annotation`.

    Only what is set is drawn: ``Overlay(pose=pose)`` is a bare skeleton; a ``label`` of None
    draws no label box.
    """

    pose: Pose | None = None
    label: str | None = None
    confidence: float | None = None
    bars: Sequence[float] | None = None
    classes: Sequence[str] = ()
    repetitions: int | None = None
    count_class: str | None = None
    rate: float | None = None


class Annotator(Protocol):
    """Anything that draws a result on a frame: the annotators below."""

    def annotate(self, frame: np.ndarray, result: Annotation) -> np.ndarray: ...


def annotate_all(frame: np.ndarray, result: Annotation,
                 annotators: Sequence[Annotator]) -> np.ndarray:
    """Apply each annotator in turn (later ones draw on top); return the frame."""
    for annotator in annotators:
        annotator.annotate(frame, result)
    return frame


@dataclass
class SkeletonAnnotator:
    """Draw BlazePose landmarks and connections; left side orange, right side blue (BGR)."""

    left_color: tuple[int, int, int] = (0, 140, 255)
    right_color: tuple[int, int, int] = (255, 160, 0)
    center_color: tuple[int, int, int] = (230, 230, 230)
    thickness: float = 2.0  # px at 480-px frame height
    radius: float = 3.0  # px at 480-px frame height
    min_visibility: float = VISIBILITY_THRESHOLD

    def _color(self, *indices: int) -> tuple[int, int, int]:
        if all(i in _LEFT for i in indices):
            return self.left_color
        if all(i in _RIGHT for i in indices):
            return self.right_color
        return self.center_color

    def annotate(self, frame: np.ndarray, result: Annotation) -> np.ndarray:
        """Draw ``result.pose`` (if any) on ``frame`` in place; return the frame."""
        pose = result.pose
        if pose is None:
            return frame
        height, width = frame.shape[:2]
        scale = overlay_scale(frame)
        points = np.rint(pose.landmarks[:, :2] * (width, height)).astype(int)
        seen = pose.landmarks[:, 3] >= self.min_visibility
        for a, b in POSE_CONNECTIONS:
            if seen[a] and seen[b]:
                cv2.line(frame, tuple(points[a]), tuple(points[b]), self._color(a, b),
                         _px(self.thickness, scale), cv2.LINE_AA)
        for i, (x, y) in enumerate(points):
            if seen[i]:
                cv2.circle(frame, (int(x), int(y)), _px(self.radius, scale), self._color(i),
                           -1, cv2.LINE_AA)
        return frame


@dataclass
class LabelAnnotator:
    """Draw the label with its confidence, and one confidence bar per class, top-left.

    Nothing is drawn for a result without a label.
    """

    text_color: tuple[int, int, int] = (255, 255, 255)
    bar_color: tuple[int, int, int] = (80, 200, 80)
    highlight_color: tuple[int, int, int] = (0, 220, 255)
    background: tuple[int, int, int] = (40, 40, 40)
    font_scale: float = 0.6  # at 480-px frame height
    max_bars: int = 8  # classes shown as bars, most likely first

    def annotate(self, frame: np.ndarray, result: Annotation) -> np.ndarray:
        """Draw ``result.label`` (and its confidence) and the class bars; return the frame."""
        if result.label is None:
            return frame
        label, confidence = result.label, result.confidence
        probabilities, classes = result.bars, result.classes
        scale = overlay_scale(frame)
        font = cv2.FONT_HERSHEY_SIMPLEX
        fs = self.font_scale * scale
        thick = _px(1.5, scale)
        line_h = int(round(26 * scale))
        pad = _px(6, scale)
        title = label if confidence is None else f"{label} {confidence:.0%}"
        lines = [title]
        bars = []
        if probabilities is not None and len(classes):
            order = np.argsort(probabilities)[::-1][: self.max_bars]
            bars = [(classes[i], float(probabilities[i])) for i in order]
        bar_w = int(round(120 * scale))
        text_w = max(
            [cv2.getTextSize(t, font, fs, thick)[0][0] for t in lines]
            + [cv2.getTextSize(n, font, fs * 0.8, thick)[0][0] + bar_w + pad for n, _ in bars]
        )
        box_h = pad * 2 + line_h * (len(lines) + len(bars))
        box_w = min(frame.shape[1], text_w + 2 * pad)
        roi = frame[:box_h, :box_w]
        shade = np.empty_like(roi)
        shade[:] = self.background
        cv2.addWeighted(roi, 0.4, shade, 0.6, 0.0, dst=roi)  # 10x cheaper than float numpy
        y = pad + line_h - _px(6, scale)
        for i, text in enumerate(lines):
            color = self.highlight_color if i == 0 else self.text_color
            cv2.putText(frame, text, (pad, y), font, fs, color, thick, cv2.LINE_AA)
            y += line_h
        for name, p in bars:
            cv2.rectangle(frame, (pad, y - line_h // 2), (pad + int(bar_w * p), y),
                          self.bar_color, -1)
            cv2.rectangle(frame, (pad, y - line_h // 2), (pad + bar_w, y), self.text_color, 1)
            cv2.putText(frame, name, (pad * 2 + bar_w, y), font, fs * 0.8, self.text_color,
                        thick, cv2.LINE_AA)
            y += line_h
        return frame


@dataclass
class CounterAnnotator:
    """Draw a repetition count (large) and frames per second, top-right.

    Either part may be left out: ``result.repetitions=None`` draws only the rate,
    ``result.rate=None`` only the count.
    """

    text_color: tuple[int, int, int] = (255, 255, 255)
    count_color: tuple[int, int, int] = (0, 220, 255)
    background: tuple[int, int, int] = (40, 40, 40)
    font_scale: float = 0.6  # small text at 480-px frame height; the count is 2.5x larger
    count_scale: float = 2.5

    def annotate(self, frame: np.ndarray, result: Annotation) -> np.ndarray:
        """Draw ``result.repetitions`` (of ``result.count_class``) and ``result.rate``."""
        count, name, fps = result.repetitions, result.count_class, result.rate
        scale = overlay_scale(frame)
        font = cv2.FONT_HERSHEY_SIMPLEX
        fs = self.font_scale * scale
        thick = _px(1.5, scale)
        pad = _px(6, scale)
        items = []  # (text, font size, thickness, colour)
        if count is not None:
            items.append((str(int(count)), fs * self.count_scale, _px(3, scale), self.count_color))
            items.append((f"reps {name}" if name else "reps", fs * 0.8, thick, self.text_color))
        if fps is not None:
            items.append((f"{fps:.0f} fps", fs * 0.8, thick, self.text_color))
        if not items:
            return frame
        sizes = [cv2.getTextSize(t, font, f, th) for t, f, th, _ in items]
        box_w = min(frame.shape[1], max(w for (w, _), _ in sizes) + 2 * pad)
        box_h = min(frame.shape[0], sum(h + b + pad for (_, h), b in sizes) + pad)
        x0 = frame.shape[1] - box_w
        roi = frame[:box_h, x0:]
        shade = np.empty_like(roi)
        shade[:] = self.background
        cv2.addWeighted(roi, 0.4, shade, 0.6, 0.0, dst=roi)  # uint8 blend, ~10x faster than float
        y = pad
        for (text, f, th, color), ((w, h), base) in zip(items, sizes, strict=True):
            y += h
            cv2.putText(frame, text, (frame.shape[1] - pad - w, y), font, f, color, th,
                        cv2.LINE_AA)
            y += base + pad
        return frame


@dataclass
class RepsAnnotator:
    """Draw the live angles that matter and the last repetition's form, bottom-left.

    Reads ``result.reps`` (a :class:`poseclf.video.reps.RepsFrame`: ``shown`` (name, degrees)
    pairs and the ``last`` repetition closed); draws nothing when the result has none.
    """

    text_color: tuple[int, int, int] = (255, 255, 255)
    good_color: tuple[int, int, int] = (80, 220, 80)  # BGR
    broken_color: tuple[int, int, int] = (60, 60, 255)
    background: tuple[int, int, int] = (40, 40, 40)
    font_scale: float = 0.55  # at 480-px frame height

    def annotate(self, frame: np.ndarray, result: Annotation) -> np.ndarray:
        """Draw ``result.reps`` (if any) on ``frame``; return the frame."""
        reps = getattr(result, "reps", None)
        if reps is None:
            return frame
        lines = []  # (text, colour)
        if reps.shown:
            lines.append(("  ".join(f"{name} {'-' if value is None else f'{value:.0f}'}"
                                    for name, value in reps.shown), self.text_color))
        last = reps.last
        if last is not None:
            if last.good:
                lines.append((f"rep {last.number}: good", self.good_color))
            else:
                lines.append((f"rep {last.number}: {', '.join(last.messages)}",
                              self.broken_color))
        if not lines:
            return frame
        scale = overlay_scale(frame)
        font = cv2.FONT_HERSHEY_SIMPLEX
        fs = self.font_scale * scale
        thick = _px(1.5, scale)
        pad = _px(6, scale)
        sizes = [cv2.getTextSize(t, font, fs, thick) for t, _ in lines]
        box_w = min(frame.shape[1], max(w for (w, _), _ in sizes) + 2 * pad)
        box_h = min(frame.shape[0], sum(h + b + pad for (_, h), b in sizes) + pad)
        roi = frame[frame.shape[0] - box_h:, :box_w]
        shade = np.empty_like(roi)
        shade[:] = self.background
        cv2.addWeighted(roi, 0.4, shade, 0.6, 0.0, dst=roi)
        y = frame.shape[0] - box_h + pad
        for (text, color), ((_, h), base) in zip(lines, sizes, strict=True):
            y += h
            cv2.putText(frame, text, (pad, y), font, fs, color, thick, cv2.LINE_AA)
            y += base + pad
        return frame


#: Overlay colours of the people of a several-people video, by id (BGR).
PERSON_COLORS = ((0, 200, 255), (255, 120, 60), (90, 220, 90), (200, 90, 255), (60, 60, 240),
                 (240, 220, 60), (180, 180, 180), (40, 160, 160))


def person_color(person: int) -> tuple[int, int, int]:
    """The overlay colour of person ``person`` (ids count from 1)."""
    return PERSON_COLORS[(int(person) - 1) % len(PERSON_COLORS)]


@dataclass
class PeopleAnnotator:
    """Draw every person of a several-people frame: the skeleton in the person's colour and,
    above the head, a tag with the id, the label (with its confidence) and the count; the
    processing rate top-right.

    ``result`` is a :class:`poseclf.video.people.PeopleFrame`: ``people`` (one
    :class:`Annotation` with a ``person`` id each) and ``rate``. A person missing from the
    frame (no pose) is not drawn.
    """

    text_color: tuple[int, int, int] = (20, 20, 20)
    font_scale: float = 0.55  # at 480-px frame height

    def annotate(self, frame: np.ndarray, result) -> np.ndarray:
        """Draw each person of ``result.people`` and ``result.rate``; return the frame."""
        scale = overlay_scale(frame)
        height, width = frame.shape[:2]
        for person in result.people:
            if person.pose is None:
                continue
            color = person_color(person.person)
            SkeletonAnnotator(color, color, color).annotate(frame, person)
            xy = person.pose.landmarks[:, :2] * (width, height)
            seen = person.pose.landmarks[:, 3] >= VISIBILITY_THRESHOLD
            top = xy[seen] if seen.any() else xy
            x, y = float(top[:, 0].min()), float(top[:, 1].min())
            self._tag(frame, _person_text(person), (x, y), color, scale)
        CounterAnnotator().annotate(frame, Overlay(rate=result.rate))
        return frame

    def _tag(self, frame: np.ndarray, text: str, at: tuple[float, float],
             color: tuple[int, int, int], scale: float) -> None:
        font = cv2.FONT_HERSHEY_SIMPLEX
        fs, thick, pad = self.font_scale * scale, _px(1.5, scale), _px(4, scale)
        (w, h), base = cv2.getTextSize(text, font, fs, thick)
        x0 = int(np.clip(at[0], 0, max(frame.shape[1] - w - 2 * pad, 0)))
        y0 = int(np.clip(at[1] - h - base - 3 * pad, 0, max(frame.shape[0] - h - 2 * pad, 0)))
        cv2.rectangle(frame, (x0, y0), (x0 + w + 2 * pad, y0 + h + base + 2 * pad), color, -1)
        cv2.putText(frame, text, (x0 + pad, y0 + pad + h), font, fs, self.text_color, thick,
                    cv2.LINE_AA)


def _person_text(person) -> str:
    """``#2 down 87% · 3 reps``: a person's id, label, confidence and count."""
    text = f"#{person.person} {person.label}"
    if person.confidence is not None:
        text += f" {person.confidence:.0%}"
    repetitions = getattr(person, "repetitions", None)  # a photo's answer has no count
    if repetitions is not None:
        text += f" | {int(repetitions)} reps"
    return text


def plot_pose_3d(pose: Pose, title: str | None = None, elev: float = 10.0, azim: float = -70.0):
    """A matplotlib figure of the world landmarks in 3D (metres), returned, not shown.

    Falls back to the image landmarks when the pose has no world landmarks. The figure is
    made outside pyplot (see :func:`poseclf.pictures.plots.new_figure`).
    """
    from .plots import new_figure

    if pose.world_landmarks is not None:
        xyz = pose.world_landmarks.astype(float)
        unit = "m"
    else:
        xyz = pose.landmarks[:, :3].astype(float)
        unit = "normalised"
    # Plot with height upwards: BlazePose y points down, z points away from the camera.
    xs, ys, zs = xyz[:, 0], xyz[:, 2], -xyz[:, 1]
    fig = new_figure((6, 6))
    ax = fig.add_subplot(projection="3d")
    seen = pose.landmarks[:, 3] >= VISIBILITY_THRESHOLD
    for a, b in POSE_CONNECTIONS:
        color = "tab:orange" if a in _LEFT and b in _LEFT else (
            "tab:blue" if a in _RIGHT and b in _RIGHT else "0.4")
        style = "-" if seen[a] and seen[b] else ":"
        ax.plot([xs[a], xs[b]], [ys[a], ys[b]], [zs[a], zs[b]], style, color=color, lw=2)
    ax.scatter(xs, ys, zs, c=np.where(seen, "k", "0.6"), s=12)
    centre = np.array([xs.mean(), ys.mean(), zs.mean()])
    half = max(np.ptp(xs), np.ptp(ys), np.ptp(zs)) / 2 or 1.0
    ax.set_xlim(centre[0] - half, centre[0] + half)
    ax.set_ylim(centre[1] - half, centre[1] + half)
    ax.set_zlim(centre[2] - half, centre[2] + half)
    ax.set_xlabel(f"x ({unit})")
    ax.set_ylabel(f"depth ({unit})")
    ax.set_zlabel(f"height ({unit})")
    ax.view_init(elev=elev, azim=azim)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def write_image(path, frame_bgr: np.ndarray):
    """Write a BGR frame to ``path`` (any extension OpenCV knows; non-ASCII names work).

    Returns the path written, as a :class:`pathlib.Path`.
    """
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, encoded = cv2.imencode(path.suffix or ".png", frame_bgr)
    if not ok:
        raise ValueError(f"{path}: OpenCV cannot encode an image with extension {path.suffix!r}")
    path.write_bytes(encoded.tobytes())
    return path


@dataclass
class FallAlarmAnnotator:
    """Draw a fall alarm while ``result.fall_alarm`` is set (``poseclf video --falls``): a red
    border and a see-through red banner across the bottom with the time on the floor
    (``result.fall_on_floor_s``); the person on the floor stays visible through it.

    Results without these attributes (photos, runs without ``--falls``) draw nothing.
    """

    color: tuple[int, int, int] = (0, 0, 220)  # BGR red
    text_color: tuple[int, int, int] = (255, 255, 255)
    font_scale: float = 0.9  # at 480-px frame height
    opacity: float = 0.65  # of the banner
    border: float = 6.0  # px at 480-px frame height

    def annotate(self, frame: np.ndarray, result) -> np.ndarray:
        """Draw the banner when the alarm is on; return the frame."""
        if not getattr(result, "fall_alarm", False):
            return frame
        scale = overlay_scale(frame)
        height, width = frame.shape[:2]
        banner_h = int(round(44 * scale))
        top = max(0, height - banner_h)
        band = frame[top:]
        band[:] = cv2.addWeighted(band, 1 - self.opacity, np.full_like(band, self.color),
                                  self.opacity, 0)
        edge = _px(self.border, scale)
        half = edge // 2
        cv2.rectangle(frame, (half, half), (width - 1 - half, height - 1 - half), self.color,
                      edge)
        on_floor = getattr(result, "fall_on_floor_s", None)
        text = "FALL" + ("" if on_floor is None else f" - on the floor {on_floor:.0f} s")
        fs = self.font_scale * scale
        thick = _px(2, scale)
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, fs, thick)
        cv2.putText(frame, text, (max(0, (width - tw) // 2), top + (banner_h + th) // 2),
                    cv2.FONT_HERSHEY_SIMPLEX, fs, self.text_color, thick, cv2.LINE_AA)
        return frame
