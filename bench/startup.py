"""Start-up time of the quick commands, and the heavy libraries each one imports.

Usage::

    python bench/startup.py [--runs N] [--source CHECKOUT]

Runs each command ``N`` times (default 5) in a fresh ``python -m poseclf`` and prints the median
wall time and the median CPU time (user + system of the child process: on a machine shared with
other jobs, wall time is not reliable) against the 0.3 s target of ``--help``, ``--version``,
``models`` and ``stats``; then, from one more run of each, whether it imported scikit-learn,
pandas, mediapipe or OpenCV. ``extract`` (one photo, one worker) is timed too: its target is to
import no scikit-learn. ``python -c pass`` and ``import numpy`` / ``import pandas`` give the
floors. ``--source`` measures another checkout (e.g. the main branch, for a before/after).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 0.3  # issue 18: --help, --version, models and stats
HEAVY = ("sklearn", "pandas", "mediapipe", "cv2")
TABLE = REPO / "datasets" / "pushups_visolus.csv"  # 91 rows, shipped

#: Prints the top-level modules a run imported, after running poseclf's main in-process.
SHOW_MODULES = textwrap.dedent("""
    import json, sys
    from poseclf.cli import main
    try:
        main(sys.argv[1:])
    except SystemExit:
        pass
    print("\\nMODULES " + json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
""")


def timed(argv: list[str], env: dict, cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(argv)} failed:\n{done.stderr}")
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def medians(argv: list[str], env: dict, cwd: Path, runs: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``runs`` runs (after one unmeasured warm-up run)."""
    timed(argv, env, cwd)  # compiles the .pyc files, warms the disk cache
    samples = [timed(argv, env, cwd) for _ in range(runs)]
    return (statistics.median(w for w, _ in samples), statistics.median(c for _, c in samples))


def imported(args: list[str], env: dict, cwd: Path) -> set[str]:
    done = subprocess.run([sys.executable, "-c", SHOW_MODULES, *args], env=env, cwd=cwd,
                          capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout.strip().splitlines()[-1].removeprefix("MODULES ")))


def one_photo_folder(root: Path) -> Path:
    """A class folder holding one real photo (scikit-image's astronaut)."""
    from PIL import Image
    from skimage.data import astronaut

    folder = root / "photos" / "standing"
    folder.mkdir(parents=True)
    Image.fromarray(astronaut()).save(folder / "astronaut.jpg")
    return folder.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per command (median)")
    parser.add_argument("--source", type=Path, default=REPO,
                        help="checkout whose poseclf is measured (default: this one)")
    args = parser.parse_args()
    source = args.source.resolve()
    env = {**os.environ, "PYTHONPATH": str(source)}
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        photos = one_photo_folder(cwd)
        table = TABLE if TABLE.is_file() else source / "datasets" / TABLE.name
        commands = {
            "--version": ["--version"],
            "--help": ["--help"],
            "models": ["models"],
            f"stats {table.name}": ["stats", str(table)],
            "extract (1 photo)": ["extract", str(photos), "-o", str(cwd / "t.csv"),
                                  "--workers", "1", "-q", "--no-resume"],
        }
        floors = {"python -c pass": "pass", "import numpy": "import numpy",
                  "import pandas": "import pandas"}
        print(f"poseclf from {source}; Python {sys.version.split()[0]}; {os.cpu_count()} cores; "
              f"load average {os.getloadavg()[0]:.1f}; median of {args.runs} runs")
        print(f"{'command':<28}{'wall s':>8}{'cpu s':>8}  {'target':<18}"
              + "".join(f"{h:>10}" for h in HEAVY))
        for name, code in floors.items():
            wall, cpu = medians([sys.executable, "-c", code], env, cwd, args.runs)
            print(f"{name:<28}{wall:>8.2f}{cpu:>8.2f}  {'(floor)':<18}")
        for name, argv in commands.items():
            wall, cpu = medians([sys.executable, "-m", "poseclf", *argv], env, cwd, args.runs)
            loaded = imported(argv, env, cwd)
            if name.startswith("extract"):
                ok = "sklearn" not in loaded
                target = f"no sklearn: {'ok' if ok else 'MISSED'}"
            else:
                target = f"<= {TARGET_S} s: {'ok' if wall <= TARGET_S else 'MISSED'}"
            flags = "".join(f"{'yes' if h in loaded else 'no':>10}" for h in HEAVY)
            print(f"{name:<28}{wall:>8.2f}{cpu:>8.2f}  {target:<18}{flags}")


if __name__ == "__main__":
    main()
