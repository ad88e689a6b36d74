"""VMAF (model vmaf_v0.6.1) with the static ffmpeg of the PyPI package imageio-ffmpeg.

Debian's ffmpeg has no libvmaf; imageio-ffmpeg's does, with the model built in.
"""

import json
import subprocess
import tempfile
from pathlib import Path


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def vmaf(ref_yuv: Path, dist_yuv: Path, w: int, h: int, threads: int = 2) -> float:
    """Mean VMAF over frames of raw I420 file `dist_yuv` against `ref_yuv` (both w x h)."""
    raw = ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{w}x{h}", "-r", "25", "-i"]
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "vmaf.json"
        p = subprocess.run(
            [ffmpeg_exe(), "-v", "error", *raw, str(dist_yuv), *raw, str(ref_yuv), "-lavfi",
             f"[0:v][1:v]libvmaf=model=version=vmaf_v0.6.1:n_threads={threads}"
             f":log_fmt=json:log_path={log}", "-f", "null", "-"],
            capture_output=True, text=True)
        if p.returncode:
            raise RuntimeError(f"libvmaf failed: {p.stderr[-2000:]}")
        return float(json.loads(log.read_text())["pooled_metrics"]["vmaf"]["mean"])
