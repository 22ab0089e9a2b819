"""Form rules: conditions every repetition should meet, read from a small TOML file.

A rules file names the key angle repetitions are cut by, the angles the overlay shows live, and
a list of rules. Each rule bounds one number of a repetition (:meth:`Repetition.measure
<poseclf.video.reps.Repetition.measure>`): ``duration_s``, ``time_down_s``, ``time_up_s``, or an
angle's ``<angle>_min``, ``<angle>_max`` or ``<angle>_range`` over the repetition (world angles
such as ``elbow``, ``knee``, ``trunk_lean``, ``left_hip``; the picture's with ``_2d``)::

    key_angle = "elbow"          # the angle whose extreme is the bottom (optional)
    show = ["elbow", "hip"]      # live on the overlay (optional; default: the key angle)

    [[rule]]
    name = "depth"               # shown on the overlay and in the report when broken
    measure = "elbow_min"
    max = 95                     # the measure must be <= max (and/or >= min)
    message = "go lower"         # optional: a longer hint
    why = "..."                  # optional: where the threshold comes from

A repetition that meets every rule is good; otherwise the report and the overlay name the rules
it broke. ``pushups`` and ``squats`` are shipped (``poseclf/video/rules/*.toml``), each
threshold with its reason.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError
from .reps import ANGLE_COLUMNS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

if TYPE_CHECKING:
    from .reps import Repetition

#: Shipped rules files, by name (``--rules pushups``).
RULES_DIR = Path(__file__).resolve().parent / "rules"
TIMES = ("duration_s", "time_down_s", "time_up_s")
STATS = ("min", "max", "range")
_TOP_KEYS = {"key_angle", "show", "rule", "description"}
_RULE_KEYS = {"name", "measure", "min", "max", "message", "why"}


def shipped_rules() -> list[str]:
    """Names of the shipped rules files."""
    return sorted(p.stem for p in RULES_DIR.glob("*.toml"))


def check_measure(measure: str) -> str:
    """``measure`` if it is a repetition's number (see the module docstring), else ValueError."""
    text = str(measure)
    if text in TIMES:
        return text
    angle, _, stat = text.rpartition("_")
    if stat not in STATS or angle not in ANGLE_COLUMNS:
        raise ValueError(f"unknown measure {text!r}: use {', '.join(TIMES)} or <angle>_min, "
                         f"_max or _range with an angle of {', '.join(ANGLE_COLUMNS)}")
    return text


@dataclass(frozen=True)
class Rule:
    """``min <= repetition.measure(measure) <= max`` (either bound may be None)."""

    name: str
    measure: str
    min: float | None = None
    max: float | None = None
    message: str = ""
    why: str = ""

    def holds(self, repetition: Repetition) -> bool:
        """Whether the repetition meets the rule (an unmeasured angle, NaN, does not)."""
        value = repetition.measure(self.measure)
        if not math.isfinite(value):
            return False
        return ((self.min is None or value >= self.min)
                and (self.max is None or value <= self.max))

    def __str__(self) -> str:
        bounds = [f"{self.min:g} <= " if self.min is not None else "", self.measure,
                  f" <= {self.max:g}" if self.max is not None else ""]
        return f"{self.name}: {''.join(bounds)}"


@dataclass(frozen=True)
class FormRules:
    """A rules file: key angle, angles shown, rules (see the module docstring)."""

    rules: tuple[Rule, ...] = ()
    key_angle: str | None = None
    show: tuple[str, ...] = ()
    source: str = ""

    def judge(self, repetition: Repetition) -> Repetition:
        """The repetition with ``broken`` and ``messages`` set from these rules."""
        broken = [r for r in self.rules if not r.holds(repetition)]
        return replace(repetition, broken=tuple(r.name for r in broken),
                       messages=tuple(r.message or r.name for r in broken))


def load_rules(spec: str | os.PathLike) -> FormRules:
    """Read a rules file, or a shipped one by name (``"pushups"``, ``"squats"``).

    Raises :class:`~poseclf.errors.InputError` naming the file and the fix for a missing file,
    bad TOML, an unknown key, angle or measure, or a rule without bounds.
    """
    text = str(spec)
    path = Path(text)
    if not path.is_file() and (RULES_DIR / f"{text}.toml").is_file() and os.sep not in text:
        path = RULES_DIR / f"{text}.toml"
    if not path.is_file():
        raise InputError(f"--rules {text}: no such rules file; give a .toml file or one of "
                         f"{', '.join(shipped_rules())}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise InputError(f"--rules {path}: not a readable TOML file ({err})") from None
    try:
        return parse_rules(data, source=str(path))
    except ValueError as err:
        raise InputError(f"--rules {path}: {err}") from None


def parse_rules(data: dict, *, source: str = "") -> FormRules:
    """:class:`FormRules` from the parsed TOML; ValueError says what is wrong."""
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ValueError(f"unknown key {sorted(unknown)[0]!r}; a rules file has "
                         f"{', '.join(sorted(_TOP_KEYS))}")
    key = data.get("key_angle")
    if key is not None and (not isinstance(key, str) or key not in ANGLE_COLUMNS):
        raise ValueError(f"key_angle: unknown angle {key!r}; the angles are "
                         f"{', '.join(ANGLE_COLUMNS)}")
    show = data.get("show", [])
    if not isinstance(show, list) or not all(isinstance(s, str) for s in show):
        raise ValueError("show: give a list of angle names, e.g. show = [\"elbow\", \"hip\"]")
    for name in show:
        if name not in ANGLE_COLUMNS:
            raise ValueError(f"show: unknown angle {name!r}; the angles are "
                             f"{', '.join(ANGLE_COLUMNS)}")
    entries = data.get("rule", [])
    if not isinstance(entries, list):
        raise ValueError("rule: write each rule as a [[rule]] table")
    rules, names = [], set()
    for i, entry in enumerate(entries, 1):
        where = f"rule {i}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: write each rule as a [[rule]] table")
        unknown = set(entry) - _RULE_KEYS
        if unknown:
            raise ValueError(f"{where}: unknown key {sorted(unknown)[0]!r}; a rule has "
                             f"{', '.join(sorted(_RULE_KEYS))}")
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{where}: give it a name (name = \"depth\")")
        if name in names:
            raise ValueError(f"{where}: the name {name!r} is used twice")
        names.add(name)
        where = f"rule {name!r}"
        if "measure" not in entry:
            raise ValueError(f"{where}: give a measure (e.g. measure = \"elbow_min\")")
        try:
            measure = check_measure(entry["measure"])
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None
        bounds = {}
        for bound in ("min", "max"):
            value = entry.get(bound)
            if value is not None and (isinstance(value, bool) or not isinstance(
                    value, (int, float)) or not math.isfinite(value)):
                raise ValueError(f"{where}: {bound} must be a number, got {value!r}")
            bounds[bound] = None if value is None else float(value)
        if bounds["min"] is None and bounds["max"] is None:
            raise ValueError(f"{where}: give min, max or both")
        if None not in bounds.values() and bounds["min"] > bounds["max"]:
            raise ValueError(f"{where}: min {bounds['min']:g} is above max {bounds['max']:g}")
        rules.append(Rule(name, measure, bounds["min"], bounds["max"],
                          str(entry.get("message", "")), str(entry.get("why", ""))))
    return FormRules(tuple(rules), key, tuple(show), source)
