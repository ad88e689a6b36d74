"""The x4 upscalers compared: ntiresr (GStreamer), bicubic and Lanczos (ffmpeg), and the peers.

Each method maps one degraded clip to raw I420 at 4x the size:
    method.upscale(lr: frames.Video, hevc: Path) -> frames.Video
`hevc` is the H.265 bitstream the challenge degradation wrote; `lr` is its decoded frames.
ntiresr decodes the bitstream itself (`filesrc ! h265parse ! avdec_h265 ! ntiresr ! ...`), as a
user's pipeline would; all others take the decoded frames.

For speed, `method.timer(lr_path, w, h)` returns the wall time to upscale every frame of the raw
I420 file `lr_path`, start-up included (speed.py subtracts a 1-frame run).

The element is measured in nine variants: `ntiresr` (its defaults: `preset=fidelity`,
`backend=cpu`, the plugin's own SIMD kernels where they cover the model, tract otherwise),
`ntiresr-tract` (`backend=tract`: tract alone, the path before issue #20), `ntiresr-nv12` (the
default backend fed NV12, NV12 out), `ntiresr-mirror` (the mirror ensemble) and `ntiresr-detail`
(`preset=detail`, the other embedded model), `ntiresr-avx2` and `ntiresr-portable` (the own
kernels' other f32 paths, forced with NTIRESR_ISA) and `ntiresr-avx512bf16` (bf16 weights and
activations, scored: its quality gate) and `ntiresr-fp32` (`precision=fp32`, scored: the
default is bf16 where the CPU has AVX512-BF16), each path left out where the CPU lacks it.
`ntiresr-tract`, `ntiresr-nv12` and the forced f32 paths are speed-only (`method.speed_only`):
tract and every f32 path compute the same network within 1e-5 (and within 0.004 dB of the bf16
default), and NV12 only lays the chroma out differently, so their quality figures would be
ntiresr's.
"""

import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ntcommon import gst
from ntcommon.paths import PEERS, PLUGIN_PATH

from .frames import Video, from_rgb, i420_to_rgb, rgb_to_i420, to_rgb

# name -> (file in the peers folder, runner kind, OpenCV model name)
PEER_FILES = {
    "fsrcnn": ("FSRCNN_x4.pb", "opencv", "fsrcnn"),
    "fsrcnn-small": ("FSRCNN-small_x4.pb", "opencv", "fsrcnn"),
    "espcn": ("ESPCN_x4.pb", "opencv", "espcn"),
    "realesr-animevideov3": ("realesr-animevideov3-x4.onnx", "onnxruntime", None),
    "realesr-general-x4v3": ("realesr-general-x4v3.onnx", "onnxruntime", None),
}
# the element's variants: name -> Gst keyword arguments
GST_VARIANTS = {
    "ntiresr": {},
    "ntiresr-tract": {"backend": "tract"},
    "ntiresr-nv12": {"fmt": "NV12"},
    "ntiresr-mirror": {"mirror": True},
    "ntiresr-detail": {"preset": "detail"},
    # the own kernels' other paths, forced with NTIRESR_ISA (speed only: the same network within
    # 1e-5); the default variants run the fastest path the CPU has
    "ntiresr-avx2": {"isa": "avx2"},
    "ntiresr-portable": {"isa": "portable"},
    # bf16 weights and activations (AVX512-BF16; the default where the CPU has it), and f32 on
    # the same CPU: both scored, the bf16 quality gate
    "ntiresr-avx512bf16": {"isa": "avx512bf16"},
    "ntiresr-fp32": {"precision": "fp32"},
}
# NTIRESR_ISA's paths and the /proc/cpuinfo flags each needs
ISA_FLAGS = {"avx512bf16": {"avx512f", "avx512_bf16"}, "avx512": {"avx512f"}, "avx2": {"avx2", "fma"},
             "portable": set()}
ALL = [*GST_VARIANTS, "bicubic", "lanczos", *PEER_FILES]


def _run(cmd: list[str], data: bytes | None = None, env: dict | None = None) -> bytes:
    p = subprocess.run(cmd, input=data, capture_output=True, env=env)
    if p.returncode:
        msg = (p.stderr + p.stdout).decode(errors="replace")[-2000:]  # gst-launch errors go to stdout
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{msg}")
    return p.stdout


class Ffmpeg:
    """Debian ffmpeg's swscale on all three yuv420p planes: `scale=4w:4h:flags=<flags>`."""

    kind = "ffmpeg"
    speed_only = False

    def __init__(self, name: str, flags: str):
        self.name, self.flags = name, flags

    def _cmd(self, w, h, src="-", dst="-"):
        return ["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{w}x{h}",
                "-i", src, "-vf", f"scale={4 * w}:{4 * h}:flags={self.flags}",
                "-pix_fmt", "yuv420p", "-f", "rawvideo", "-y", dst]

    def upscale(self, lr: Video, hevc: Path) -> Video:
        w, h = lr.width, lr.height
        return Video.from_raw(_run(self._cmd(w, h), lr.raw()), 4 * w, 4 * h)

    def timer(self, lr_path: Path, w: int, h: int) -> float:
        t = time.perf_counter()
        _run(self._cmd(w, h, str(lr_path), "/dev/null"))
        return time.perf_counter() - t


class Gst:
    """The ntiresr element in a real GStreamer pipeline (gst-launch-1.0), raw I420 (or NV12) out.

    `model`: an ONNX file for the element's model-location (default: its embedded model).
    `mirror`: the element's mirror ensemble (`mirror-ensemble=true`), named "ntiresr-mirror".
    `backend`: the element's backend property (default: the element's default, "cpu");
    "tract" is named "ntiresr-tract".
    `fmt`: the pixel format on both pads; "NV12" is named "ntiresr-nv12" and is timed only (for
    speed the raw I420 file is read as NV12: the same byte count, and content does not matter).
    `isa`: the own kernels' path, forced with NTIRESR_ISA ("avx2" is named "ntiresr-avx2"), timed
    only.
    With standin=True the element is replaced by `videoscale method=catrom`, a bicubic (to test the
    plumbing before the plugin is built); its results are then named "ntiresr-standin" (with the
    variant's suffix: "ntiresr-standin-tract", ...).
    """

    kind = "gstreamer"

    def __init__(self, standin: bool = False, plugin_path: Path = PLUGIN_PATH, model: Path | None = None,
                 mirror: bool = False, backend: str | None = None, fmt: str = "I420",
                 preset: str | None = None, isa: str | None = None, precision: str | None = None):
        self.standin, self.model, self.mirror, self.backend = standin, model, mirror, backend
        self.fmt, self.isa = fmt.upper(), isa
        suffix = ("-mirror" if mirror else "") + (f"-{backend}" if backend else "") \
            + ("" if self.fmt == "I420" else f"-{self.fmt.lower()}") + (f"-{preset}" if preset else "") \
            + (f"-{isa}" if isa else "") + (f"-{precision}" if precision else "")
        self.name = ("ntiresr-standin" if standin else "ntiresr") + suffix
        # tract alone and every f32 kernel path are the same network within 1e-5; NV12 the same
        # computation: quality = ntiresr's (bf16 rounds: it is scored)
        self.speed_only = bool(backend == "tract" or self.fmt != "I420" or (isa and isa != "avx512bf16"))
        # networks run per frame (the mirror ensemble runs two), for GFLOP/s; 0: no network (stand-in)
        self.networks = 0 if standin else 2 if mirror else 1
        self.env = gst.plugin_env(plugin_path)
        if isa:
            self.env["NTIRESR_ISA"] = isa
        self.props = {}
        if model:
            self.props["model-location"] = Path(model).resolve()
        if mirror:
            self.props["mirror-ensemble"] = True
        if backend:
            self.props["backend"] = backend
        if preset:
            self.props["preset"] = preset
        if precision:
            self.props["precision"] = precision

    def available(self) -> bool:
        return self.standin or gst.has_element("ntiresr", self.env)

    def missing_isa(self) -> str | None:
        """The kernel path asked for if this CPU does not run it (None if it does, or none was
        asked for)."""
        if self.standin or not self.isa:
            return None
        return None if ISA_FLAGS[self.isa] <= cpu_flags() else self.isa

    def missing_backend(self) -> str | None:
        """The backend asked for if the element does not offer it (None if it does, or no backend
        was asked for, or this is the stand-in)."""
        if self.standin or not self.backend:
            return None
        return None if self.backend in gst.enum_values("ntiresr", "backend", self.env) else self.backend

    def command(self, src: Path, w: int, h: int, sink: Path | None, raw: bool) -> list[str]:
        """The gst-launch-1.0 argument list (ntcommon/gst.py ntiresr_pipeline)."""
        return gst.ntiresr_pipeline(src, w, h, sink, raw=raw, props=self.props, standin=self.standin,
                                    fmt=self.fmt)

    def _launch(self, src: Path, w: int, h: int, sink: Path | None, raw: bool) -> None:
        _run(self.command(src, w, h, sink, raw), env=self.env)

    def upscale(self, lr: Video, hevc: Path) -> Video:
        if self.fmt != "I420":
            raise NotImplementedError(f"{self.name} is timed only (its output is {self.fmt})")
        w, h = lr.width, lr.height
        out = hevc.with_suffix(f".{self.name}.yuv")
        try:
            self._launch(hevc, w, h, out, raw=False)
            return Video.from_raw(out.read_bytes(), 4 * w, 4 * h)
        finally:
            out.unlink(missing_ok=True)

    def timer(self, lr_path: Path, w: int, h: int) -> float:
        t = time.perf_counter()
        self._launch(lr_path, w, h, None, raw=True)
        return time.perf_counter() - t


class Peer:
    """A pretrained RGB x4 model from the peers folder, run frame by frame in-process.

    I420 -> RGB -> model -> RGB -> I420, converted by ffmpeg for quality (frames.to_rgb/from_rgb)
    and by OpenCV in-process for speed (frames.i420_to_rgb/rgb_to_i420). OpenCV models
    run via cv2.dnn_superres (they restore luma in YCrCb and upscale chroma bicubic inside);
    Real-ESRGAN ONNX via onnxruntime (RGB in 0..1, NCHW).
    """

    kind = "peer"
    speed_only = False

    def __init__(self, name: str, peers: Path = PEERS):
        self.name = name
        file, self.runner, model = PEER_FILES[name]
        self.path = peers / file
        if not self.path.exists():
            raise FileNotFoundError(f"peer model {self.path} not found (--peers)")
        if self.runner == "opencv":
            import cv2

            self.sr = cv2.dnn_superres.DnnSuperResImpl_create()
            self.sr.readModel(str(self.path))
            self.sr.setModel(model, 4)
        else:
            import onnxruntime as ort

            self.sess = ort.InferenceSession(str(self.path), providers=["CPUExecutionProvider"])

    def rgb(self, rgb: np.ndarray) -> np.ndarray:
        """(h, w, 3) uint8 RGB -> (4h, 4w, 3) uint8 RGB."""
        if self.runner == "opencv":
            return self.sr.upsample(rgb[:, :, ::-1].copy())[:, :, ::-1]  # the models take BGR
        x = rgb.transpose(2, 0, 1)[None].astype(np.float32) / 255.0
        y = self.sess.run(None, {"input": x})[0][0]
        return np.clip(y.transpose(1, 2, 0) * 255.0 + 0.5, 0, 255).astype(np.uint8)

    def frame(self, y, u, v):
        return rgb_to_i420(np.ascontiguousarray(self.rgb(i420_to_rgb(y, u, v))))

    def upscale(self, lr: Video, hevc: Path) -> Video:
        return from_rgb(np.stack([self.rgb(f) for f in to_rgb(lr)]))

    def timer(self, lr_path: Path, w: int, h: int) -> float:
        lr = Video.from_raw(lr_path.read_bytes(), w, h)
        self.frame(lr.y[0], lr.u[0], lr.v[0])  # warm-up (graph/session initialisation)
        t = time.perf_counter()
        for i in range(lr.n):
            self.frame(lr.y[i], lr.u[i], lr.v[i])
        return time.perf_counter() - t


def cpu_flags() -> set[str]:
    """The CPU's feature flags (/proc/cpuinfo's first `flags` line; empty where there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def make(names: list[str], standin: bool = False, peers: Path = PEERS,
         plugin_path: Path = PLUGIN_PATH, model: Path | None = None) -> list:
    """Method objects for `names` (see ALL). Fails loudly if ntiresr's plugin is not found."""
    out = []
    for name in names:
        if name in GST_VARIANTS:
            m = Gst(standin, plugin_path, model, **GST_VARIANTS[name])
            if not m.available():
                raise SystemExit(
                    f"{name}: no GStreamer element 'ntiresr' in {plugin_path} (build the plugin with"
                    " `cargo build --release`, pass --plugin-path, leave ntiresr out of --methods,"
                    " or test the plumbing with --ntiresr-standin)")
            if m.missing_backend():
                raise SystemExit(f"{name}: the ntiresr element in {plugin_path} has no backend"
                                 f" {m.backend!r} (gst-inspect-1.0 ntiresr); leave {name} out of --methods")
            if m.missing_isa():
                print(f"{name}: this CPU does not run the {m.isa} path: left out", file=sys.stderr)
                continue
        elif name in ("bicubic", "lanczos"):
            m = Ffmpeg(name, name)
        elif name in PEER_FILES:
            m = Peer(name, peers)
        else:
            raise SystemExit(f"unknown method {name!r}; known: {', '.join(ALL)}")
        out.append(m)
    return out
