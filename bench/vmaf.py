"""VMAF (model vmaf_v0.6.1) and VMAF-NEG (vmaf_v0.6.1neg, "no enhancement gain": it does not
reward sharpening or contrast boosts) with the static ffmpeg of the PyPI package imageio-ffmpeg.

Debian's ffmpeg has no libvmaf; imageio-ffmpeg's does, with both models built in.
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
    return vmaf_scores(ref_yuv, dist_yuv, w, h, threads)["vmaf"]


def vmaf_scores(ref_yuv: Path, dist_yuv: Path, w: int, h: int, threads: int = 2) -> dict:
    """{"vmaf": mean VMAF, "vmaf_neg": mean VMAF-NEG} of `dist_yuv` against `ref_yuv` (raw I420,
    both w x h), from one libvmaf pass."""
    raw = ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{w}x{h}", "-r", "25", "-i"]
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "vmaf.json"
        p = subprocess.run(
            [ffmpeg_exe(), "-v", "error", *raw, str(dist_yuv), *raw, str(ref_yuv), "-lavfi",
             "[0:v][1:v]libvmaf=model='version=vmaf_v0.6.1\\:name=vmaf"
             "|version=vmaf_v0.6.1neg\\:name=vmaf_neg'"
             f":n_threads={threads}"
             f":log_fmt=json:log_path={log}", "-f", "null", "-"],
            capture_output=True, text=True)
        if p.returncode:
            raise RuntimeError(f"libvmaf failed: {p.stderr[-2000:]}")
        pooled = json.loads(log.read_text())["pooled_metrics"]
        return {k: float(pooled[k]["mean"]) for k in ("vmaf", "vmaf_neg")}
