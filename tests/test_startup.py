"""Start-up: the quick commands (and ``stats`` of a CSV table) import none of the heavy
libraries, and extraction no scikit-learn.

Each check runs in a fresh interpreter and reads its ``sys.modules``: what is imported, not how
long it takes (``bench/startup.py`` measures the time against the 0.3 s target).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from conftest import REPO

#: Libraries that cost 0.2 to 1.4 s each to import; none is needed to print the help.
HEAVY = ("sklearn", "pandas", "mediapipe", "cv2")


def imported_by(code: str, *args: str) -> set[str]:
    """Top-level names of the modules a fresh interpreter holds after running ``code``."""
    script = textwrap.dedent(code) + textwrap.dedent("""
        import json, sys
        print("\\nMODULES " + json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
    """)
    done = subprocess.run([sys.executable, "-c", script, *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("MODULES "), done.stdout
    return set(json.loads(last.removeprefix("MODULES ")))


def run_cli(argv: list[str]) -> str:
    """Code that runs ``poseclf ARGV`` in-process (argparse's exit for --help is caught)."""
    return f"""
        from poseclf.cli import main
        try:
            main({argv!r})
        except SystemExit as stop:
            assert stop.code in (0, None), stop.code
    """


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["train", "--help"],
                                  ["video", "--help"], ["export", "--help"], ["models"]])
def test_quick_commands_import_no_heavy_library(argv):
    assert imported_by(run_cli(argv)) & set(HEAVY) == set()


@pytest.mark.slow  # fresh interpreters importing every public name (2 s)
def test_import_poseclf_is_light_and_its_names_load_on_use():
    assert imported_by("import poseclf; poseclf.__version__") & set(HEAVY) == set()
    loaded = imported_by("from poseclf import PoseModel, read_image, LANDMARK_NAMES")
    assert {"sklearn", "cv2"} <= loaded


def test_every_public_name_still_imports():
    import poseclf

    for name in poseclf.__all__:
        assert getattr(poseclf, name) is not None, name
    assert set(poseclf.__all__) <= set(dir(poseclf))
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        poseclf.Nothing  # noqa: B018


def test_stats_imports_no_heavy_library():
    """A plain CSV table is read with the csv module (poseclf.pose.plain_table), not pandas."""
    table = REPO / "datasets" / "pushups_visolus.csv"
    assert imported_by(run_cli(["stats", str(table)])) & set(HEAVY) == set()


def test_extract_modules_import_no_sklearn():
    """What ``poseclf extract`` imports, for a folder and for videos, without running it."""
    code = """
        from poseclf.cli import build_parser
        args = build_parser().parse_args(["extract", "data", "-o", "out.csv"])
        import poseclf.tables.dataset, poseclf.tables.engine, poseclf.tables.cluster
        import poseclf.pose.extraction, poseclf.pose.video_sources, poseclf.video.segments
    """
    assert "sklearn" not in imported_by(code)


@pytest.mark.slow
def test_extract_run_imports_no_sklearn(tmp_path, astronaut):
    """A whole ``poseclf extract`` (BlazePose in-process with one worker) loads no scikit-learn."""
    from PIL import Image

    (tmp_path / "data" / "standing").mkdir(parents=True)
    Image.fromarray(astronaut).save(tmp_path / "data" / "standing" / "a.jpg")
    argv = ["extract", str(tmp_path / "data"), "-o", str(tmp_path / "t.csv"), "--workers", "1",
            "-q"]
    loaded = imported_by(run_cli(argv))
    assert "mediapipe" in loaded and "sklearn" not in loaded
    assert (tmp_path / "t.csv").is_file()


def test_light_classifier_names_match_the_builders():
    """``classify.defaults`` keeps the names that ``--help`` shows; each has a builder."""
    from poseclf.classify import classifiers, defaults

    assert tuple(classifiers._BUILDERS) == defaults.CLASSIFIERS
