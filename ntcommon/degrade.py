"""The Track 2 degradation: Lanczos x4 down, constant-QP low-delay H.265, decoded back to I420.

Frames are handled as raw I420 (yuv420p) so that nothing is resampled twice; every helper here
shells out to Debian's ffmpeg (libx265).
"""

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

X265_PARAMS = "qp={qp}:bframes=0:ipratio=1:pbratio=1:scenecut=0:rc-lookahead=0"


@dataclass
class Clip:
    """A ground-truth clip cropped to a size the x4 (and chroma) grid divides."""

    path: Path
    width: int
    height: int
    crop: str  # ffmpeg crop=w:h:x:y applied first
    prescale: float  # 0.5 for "soft" clips: halve before use so the truth carries real detail


def probe(path: Path) -> tuple[int, int, int]:
    """Width, height and frame count of a video file."""
    out = subprocess.run(
        [
            "ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets",
            "-show_entries", "stream=width,height,nb_read_packets", "-of", "csv=p=0",
            str(path),
        ],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    w, h, n = (int(v) for v in out.split(",")[:3])
    return w, h, n


def make_clip(path: Path, crop: str | None = None, soft: bool = False, multiple: int = 8) -> Clip:
    """Describe `path` cropped (centre) to a multiple of `multiple` after optional prescale."""
    w, h, _ = probe(path)
    if crop:
        cw, ch, cx, cy = (int(v) for v in crop.split(":"))
    else:
        cw, ch, cx, cy = w, h, 0, 0
    scale = 0.5 if soft else 1.0
    m = int(multiple / scale)
    tw, th = cw // m * m, ch // m * m
    cx, cy = cx + (cw - tw) // 2, cy + (ch - th) // 2
    return Clip(path, int(tw * scale), int(th * scale), f"{tw}:{th}:{cx}:{cy}", scale)


def _read_i420(raw: bytes, w: int, h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    frame = w * h * 3 // 2
    n = len(raw) // frame
    a = np.frombuffer(raw[: n * frame], np.uint8).reshape(n, frame)
    y = a[:, : w * h].reshape(n, h, w)
    u = a[:, w * h : w * h * 5 // 4].reshape(n, h // 2, w // 2)
    v = a[:, w * h * 5 // 4 :].reshape(n, h // 2, w // 2)
    return y, u, v


def ground_truth(clip: Clip, frames: int) -> bytes:
    """The clip's first `frames` frames as raw I420 at the clip's (cropped, prescaled) size."""
    vf = f"crop={clip.crop}"
    if clip.prescale != 1.0:
        vf += f",scale={clip.width}:{clip.height}:flags=lanczos"
    return subprocess.run(
        [
            "ffmpeg", "-v", "error", "-i", str(clip.path), "-vf", vf, "-fps_mode", "passthrough",
            "-frames:v", str(frames), "-pix_fmt", "yuv420p", "-f", "rawvideo", "-",
        ],
        check=True, capture_output=True,
    ).stdout


def degrade(hr_raw: bytes, width: int, height: int, qp: int, hevc_out: Path | None = None,
            size: tuple[int, int] | None = None) -> bytes:
    """Lanczos down (x4 unless `size` says to what) + x265 at constant `qp`, low delay; returns
    the decoded raw I420 (w/4 x h/4, or `size`)."""
    lw, lh = size or (width // 4, height // 4)
    enc = subprocess.run(
        [
            "ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p",
            "-s", f"{width}x{height}", "-r", "25", "-i", "-",
            "-vf", f"scale={lw}:{lh}:flags=lanczos", "-c:v", "libx265", "-tune", "zerolatency",
            "-x265-params", X265_PARAMS.format(qp=qp) + ":log-level=error", "-f", "hevc", "-",
        ],
        input=hr_raw, check=True, capture_output=True,
    ).stdout
    if hevc_out is not None:
        hevc_out.write_bytes(enc)
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "hevc", "-i", "-", "-pix_fmt", "yuv420p", "-f", "rawvideo", "-"],
        input=enc, check=True, capture_output=True,
    ).stdout


def split_i420(raw: bytes, w: int, h: int):
    """Raw I420 bytes -> (Y, U, V) uint8 arrays of shape (n, h, w), (n, h/2, w/2) x2."""
    return _read_i420(raw, w, h)
