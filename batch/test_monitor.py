"""examples/monitor.py, the PyGObject example: runs to the end and prints its progress lines."""

import subprocess
import sys

import pytest

from batch.conftest import FRAMES, ROOT, TIMEOUT, TINY, decode

pytest.importorskip("gi", reason="PyGObject (python3-gi) is not in this interpreter")
pytestmark = pytest.mark.usefixtures("plugin_env")

MONITOR = ROOT / "examples" / "monitor.py"


def monitor(*args):
    r = subprocess.run(
        [sys.executable, str(MONITOR), "--model", str(TINY), "--every", "5", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def test_videotestsrc_progress_and_final_line():
    lines = monitor("--frames", str(FRAMES), "--size", "64x36", "--n-threads", "2")
    progress = [l for l in lines if l.startswith("frame")]
    assert [int(l.split()[1]) for l in progress] == [5, 10], lines
    assert all("quality before" in l and "ms/frame" in l and "resets" in l for l in progress), lines
    done = lines[-1]
    assert done.startswith(f"done: {FRAMES} frames") and "clip score before" in done, lines
    assert f"({FRAMES} frames scored)" in done, lines


def test_file_in_file_out(clip_dir, tmp_path):
    out = tmp_path / "a_x4.mp4"
    lines = monitor(str(clip_dir / "a.mp4"), str(out))
    assert lines[-1].startswith(f"done: {FRAMES} frames"), lines
    assert decode(out)[:3] == (FRAMES, 256, 144)
