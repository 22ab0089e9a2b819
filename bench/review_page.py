"""Review page at scale: ``poseclf review`` on a 2,000-row table, then its first screen.

Usage::

    python bench/review_page.py [DATA_DIR] [--rows N] [--screenshot PNG]
    python bench/review_page.py --readme-screenshot docs/review_page.jpg

The table stacks the committed landmark tables of DATA_DIR's photo folders (default
../shared/data), their paths prefixed with the folder name, and repeats them up to N rows (default
2000). Each repeat is a symbolic link under a new name, so every row is its own picture: nothing
is shared between rows that a real table would not share. Prints the wall and CPU time of

* the first ``poseclf review`` (pictures made; the issue's target: under 60 s on 2 cores);
* a second run on the same folder (pictures reused);
* the first screen in headless Chromium (navigation start to the page's ``reviewReady`` mark;
  target: under 1 s), when chromium, chromedriver and selenium are installed.

``--readme-screenshot`` instead makes the README's picture: the page of the push-up table with
``--skeletons-only`` (no photo in it, so it can be committed; no DATA_DIR needed), its first
screen in headless Chromium at 1280x900, saved as a JPEG.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
TABLES = ("pushups_visolus", "yoga_manoj", "yoga_marchenkova", "sitstand_multimediaimg",
          "sitstand_rhpr")


def make_table(data: Path, work: Path, rows: int) -> Path:
    """A table of ``rows`` rows whose pictures are links in ``work/data`` to DATA_DIR photos."""
    from poseclf.pose.table import load_table, save_table

    parts = []
    for name in TABLES:
        df = load_table(REPO / "datasets" / f"{name}.csv")
        df["path"] = name + "/" + df["path"].astype(str)
        parts.append(df)
    base = pd.concat(parts, ignore_index=True)
    copies = []
    for i in range(-(-rows // len(base))):
        part = base.copy()
        part["path"] = f"copy{i}/" + part["path"]
        copies.append(part)
    table = pd.concat(copies, ignore_index=True).head(rows)
    for path in table["path"]:
        link = work / "data" / path
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(data / path.split("/", 1)[1])
    out = work / "big.csv"
    save_table(table, out)
    return out


def timed(*args: str) -> tuple[float, float]:
    """Wall and CPU seconds (children included) of ``python -m poseclf ARGS``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "poseclf", *args], check=True, cwd=REPO,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def first_screen(page: Path, screenshot: str | None) -> tuple[float, float] | None:
    """(ms to the page's reviewReady mark, ms until the load event) in headless Chromium."""
    if not shutil.which("chromedriver"):
        return None
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return None
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    try:
        driver.get(page.resolve().as_uri())
        ready = driver.execute_script("return window.reviewReady")
        loaded = driver.execute_script(
            "const t = performance.getEntriesByType('navigation')[0]; return t.loadEventEnd")
        if screenshot:
            driver.save_screenshot(screenshot)
        return ready, loaded
    finally:
        driver.quit()


README_TABLE = REPO / "datasets" / "pushups_visolus.csv"
README_JPEG_QUALITY = 80


def readme_screenshot(target: Path) -> None:
    """The README's screenshot: ``poseclf review`` of the push-up table, skeletons only."""
    import cv2

    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "review"
        timed("review", str(README_TABLE), "--skeletons-only", "-o", str(page))
        png = Path(tmp) / "screen.png"
        if first_screen(page / "index.html", str(png)) is None:
            raise SystemExit("chromium, chromedriver and selenium are needed for the screenshot")
        frame = cv2.imread(str(png))
        ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, README_JPEG_QUALITY])
        assert ok
        target.write_bytes(data.tobytes())
    print(f"{target}: {frame.shape[1]}x{frame.shape[0]}, {len(data) / 1e3:.0f} KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", nargs="?", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--screenshot", metavar="PNG")
    parser.add_argument("--readme-screenshot", metavar="JPG", type=Path,
                        help="only make the README's screenshot (skeletons only) and stop")
    args = parser.parse_args()
    if args.readme_screenshot:
        readme_screenshot(args.readme_screenshot)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        table = make_table(Path(args.data).resolve(), work, args.rows)
        page = work / "review"
        command = ("review", str(table), "--images", str(work / "data"), "-o", str(page))
        wall, cpu = timed(*command)
        print(f"{args.rows} rows, {os.cpu_count()} CPUs: first run {wall:.1f} s wall, "
              f"{cpu:.1f} s CPU (pictures made)")
        wall, cpu = timed(*command)
        print(f"second run {wall:.1f} s wall, {cpu:.1f} s CPU (pictures reused)")
        size = sum(p.stat().st_size for p in page.rglob("*") if p.is_file())
        html = (page / "index.html").stat().st_size
        print(f"page folder {size / 1e6:.0f} MB, index.html {html / 1e6:.2f} MB")
        screen = first_screen(page / "index.html", args.screenshot)
        if screen is None:
            print("first screen: not measured (no chromium/chromedriver/selenium)")
        else:
            print(f"first screen in headless Chromium: {screen[0]:.0f} ms to reviewReady, "
                  f"{screen[1]:.0f} ms to the load event")


if __name__ == "__main__":
    main()
