"""The README's picture of the HTML report, made from a real run's report.html by headless Chromium.

    python scripts/report_picture.py [RUN_DIR [OUT.png]]

RUN_DIR defaults to the newest folder of .punie/runs/, OUT.png to docs/_static/report.png.

The page is drawn by Debian's ``chromium`` (``--headless --screenshot``) at a fixed window size,
then reduced to a 64-colour palette so the committed PNG stays small (a few tens of KB).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

WIDTH, HEIGHT = 1100, 900


def screenshot(report: Path, out: Path, fragment: str = "") -> None:
    """Draw ``report`` (an HTML file) in headless Chromium into the PNG ``out``."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("report_picture: Debian's chromium is needed (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                "--disable-background-networking",
                f"--user-data-dir={profile}",
                f"--window-size={WIDTH},{HEIGHT}",
                "--virtual-time-budget=10000",
                f"--screenshot={out}",
                report.resolve().as_uri() + fragment,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    if done.returncode != 0 or not out.exists():
        sys.exit(f"report_picture: chromium failed: {done.stderr[-1000:]}")


def shrink(png: Path) -> None:
    """Reduce the screenshot to a 64-colour palette (text and flat charts survive it)."""
    from PIL import Image

    with Image.open(png) as image:
        small = image.convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    small.save(png, optimize=True)


def newest_run(runs: Path = Path(".punie/runs")) -> Path:
    """The newest run folder (run folders are named by their start time)."""
    found = sorted(p for p in runs.glob("*") if (p / "report.html").is_file()) if runs.is_dir() else []
    if not found:
        sys.exit(f"report_picture: no run with a report.html in {runs}/: run the main job first")
    return found[-1]


def main(argv: list[str]) -> int:
    """Take a run folder (or its report.html) and the PNG to write."""
    if len(argv) > 2:
        sys.exit(__doc__)
    source = Path(argv[0]) if argv else newest_run()
    out = Path(argv[1]) if len(argv) == 2 else Path("docs/_static/report.png")
    report = source / "report.html" if source.is_dir() else source
    if not report.is_file():
        sys.exit(f"report_picture: {report}: no report.html there")
    out.parent.mkdir(parents=True, exist_ok=True)
    screenshot(report, out)
    shrink(out)
    print(f"{out}: {out.stat().st_size // 1024} KB, {WIDTH}x{HEIGHT}, from {report}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
