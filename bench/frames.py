"""Raw I420 video in memory, and the RGB round trip the (RGB) peer models need.

Everything in the benchmark is raw I420 (yuv420p, tightly packed planes), as the plugin sees it.
"""

import subprocess
from dataclasses import dataclass

import numpy as np

from ntcommon import degrade


@dataclass
class Video:
    """n frames of I420: y (n,h,w), u and v (n,h/2,w/2), uint8."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray

    @property
    def n(self) -> int:
        return self.y.shape[0]

    @property
    def width(self) -> int:
        return self.y.shape[2]

    @property
    def height(self) -> int:
        return self.y.shape[1]

    @classmethod
    def from_raw(cls, raw: bytes, w: int, h: int) -> "Video":
        if len(raw) % (w * h * 3 // 2):
            raise ValueError(f"{len(raw)} bytes is not a whole number of {w}x{h} I420 frames")
        return cls(*degrade.split_i420(raw, w, h))

    def raw(self) -> bytes:
        return b"".join(self.frame_raw(i) for i in range(self.n))

    def frame_raw(self, i: int) -> bytes:
        return self.y[i].tobytes() + self.u[i].tobytes() + self.v[i].tobytes()

    def frame(self, i: int) -> "Video":
        return Video(self.y[i : i + 1], self.u[i : i + 1], self.v[i : i + 1])


# The peers are RGB models. For quality, frames go through ffmpeg's conversion (swscale yuv420p <->
# rgb24, no colour metadata: BT.601 limited range, Y 16..235) with SWS_FLAGS: ffmpeg's default
# flags (fast, unscaled converters) lose a lot, a round trip I420 -> RGB -> I420 of a val clip gave
# PSNR-Y 47 dB, which would cost the peers ~1 dB; with accurate rounding and full chroma
# interpolation (bicubic) it is 72 dB (U/V 68/66). In-process (speed runs, LPIPS, the PNG) OpenCV's
# I420 <-> RGB is used: the same BT.601 limited-range matrix, chroma replicated 2x2 on the way in and
# averaged 2x2 on the way out (round trip 72 dB as well); check_rgb() measures how far it is from
# ffmpeg's.
SWS_FLAGS = "bicubic+accurate_rnd+full_chroma_int"


def _ffmpeg(args: list[str], data: bytes) -> bytes:
    return subprocess.run(["ffmpeg", "-v", "error", *args], input=data, check=True,
                          capture_output=True).stdout


def to_rgb(video: Video) -> np.ndarray:
    """All frames -> (n, h, w, 3) uint8 RGB, by ffmpeg."""
    w, h = video.width, video.height
    raw = _ffmpeg(["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{w}x{h}", "-i", "-",
                   "-sws_flags", SWS_FLAGS, "-pix_fmt", "rgb24", "-f", "rawvideo", "-"], video.raw())
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)


def from_rgb(rgb: np.ndarray) -> Video:
    """(n, h, w, 3) uint8 RGB -> I420, by ffmpeg."""
    h, w = rgb.shape[1:3]
    raw = _ffmpeg(["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-i", "-",
                   "-sws_flags", SWS_FLAGS, "-pix_fmt", "yuv420p", "-f", "rawvideo", "-"],
                  np.ascontiguousarray(rgb).tobytes())
    return Video.from_raw(raw, w, h)


def i420_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """One frame's planes -> (h, w, 3) uint8 RGB (OpenCV)."""
    import cv2

    return cv2.cvtColor(np.concatenate([y.ravel(), u.ravel(), v.ravel()]).reshape(-1, y.shape[1]),
                        cv2.COLOR_YUV2RGB_I420)


def rgb_to_i420(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(h, w, 3) uint8 RGB -> I420 planes (OpenCV)."""
    import cv2

    h, w = rgb.shape[:2]
    a = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420).ravel()
    q = w * h // 4
    return a[: w * h].reshape(h, w), a[w * h : w * h + q].reshape(h // 2, w // 2), \
        a[w * h + q :].reshape(h // 2, w // 2)


def check_rgb(video: Video) -> dict:
    """Mean and max abs difference (levels) of the OpenCV conversions from ffmpeg's, frame 0."""
    f = video.frame(0)
    rgb_ff = to_rgb(f)[0]
    rgb = i420_to_rgb(f.y[0], f.u[0], f.v[0])
    back_ff = from_rgb(rgb[None]).raw()
    back = b"".join(p.tobytes() for p in rgb_to_i420(rgb))
    d1 = np.abs(rgb.astype(int) - rgb_ff)
    d2 = np.abs(np.frombuffer(back, np.uint8).astype(int) - np.frombuffer(back_ff, np.uint8))
    return {"to_rgb_max": int(d1.max()), "to_rgb_mean": float(d1.mean()),
            "to_i420_max": int(d2.max()), "to_i420_mean": float(d2.mean())}
