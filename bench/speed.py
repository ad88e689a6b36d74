"""Speed: frames per second of each method on 480x270 -> 1920x1080, and the model's cost.

Each method upscales a raw I420 file of n frames (ffmpeg testsrc2, 480x270) and, separately, of
one frame; fps = (n - 1) / (t_n - t_1), which removes process start-up, plugin and model loading.
n starts at --speed-frames and is raised (to at most MAX_FRAMES) until t_n - t_1 >= min_seconds,
so that fast methods are not timed on noise; that calibration is also the warm-up. Then this is
repeated `repeat` times and the median is reported (with every run). ntiresr is timed
as `filesrc ! rawvideoparse ! ntiresr ! fakesink` (no decoding), ffmpeg's scalers as one ffmpeg
process, the peers in-process including their I420 <-> RGB conversions.

For the ONNX model (--model, else --ntiresr-model, else models/ntiresr.onnx): GFLOP per frame
(2 x multiply-adds of its Conv nodes, from ONNX shape inference at 270x480), and the fps of the
same model in onnxruntime (model only, random inputs). For each variant of the element that was
timed (ntiresr: the default backend, the own SIMD kernels; ntiresr-tract: tract alone;
ntiresr-nv12; ntiresr-mirror, which runs the network twice per frame) the GFLOP/s it reaches
(GFLOP per frame x networks per frame x fps; the element also does the bicubic base and the
reconstruction, so this is a lower bound) and its ratio to onnxruntime's GFLOP/s (= the ratio of
the fps but for the mirror ensemble). Without --ntiresr-model the element runs its embedded model:
the ratios are meaningful only if that is the same as the ONNX file.

The machine's fp32 FMA peak, an estimate (fp32_peak): physical cores x clock x FLOP per cycle per
core from the ISA in /proc/cpuinfo's flags; each variant's GFLOP/s is also given as a share of it.
Each kernel path's peak, measured (path_peaks: `examples/profile/peak.rs` on every thread), and
each variant's share of its own path's peak (the bf16 path against the bf16 peak).
"""

import json
import math
import os
import re
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np

from ntcommon.paths import ROOT

MODEL = ROOT / "models" / "ntiresr.onnx"
W, H = 480, 270
MIN_SECONDS, MAX_FRAMES = 2.0, 1000


def speed_input(tmp: Path, n: int) -> Path:
    """A raw I420 file of n frames of 480x270 test pattern (made once per n)."""
    path = tmp / f"speed_{n}.yuv"
    if not path.exists():
        path.write_bytes(subprocess.run(
            ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size={W}x{H}:rate=25",
             "-frames:v", str(n), "-pix_fmt", "yuv420p", "-f", "rawvideo", "-"],
            check=True, capture_output=True).stdout)
    return path


def method_fps(method, tmp: Path, n: int, repeat: int, min_seconds: float = MIN_SECONDS) -> dict:
    one, n = speed_input(tmp, 1), max(n, 2)
    run = lambda n: (n - 1) / max(method.timer(speed_input(tmp, n), W, H) - method.timer(one, W, H), 1e-6)
    while n < MAX_FRAMES and (n - 1) / run(n) < min_seconds:  # calibration, and warm-up
        n = min(MAX_FRAMES, 2 * n)
    runs = [run(n) for _ in range(repeat)]
    return {"fps": statistics.median(runs), "runs": runs, "frames": n}


def model_gflop(path: Path = MODEL, h: int = H, w: int = W) -> float:
    """2 x multiply-adds per frame of the Conv nodes of an ONNX model with [1,C,h/2,w/2] inputs."""
    import onnx

    m = onnx.load(str(path))
    for inp in m.graph.input:
        dims = inp.type.tensor_type.shape.dim
        dims[0].dim_value, dims[2].dim_value, dims[3].dim_value = 1, h // 2, w // 2
    m = onnx.shape_inference.infer_shapes(m)
    shape = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
             for v in [*m.graph.value_info, *m.graph.output, *m.graph.input]}
    weights = {t.name: list(t.dims) for t in m.graph.initializer}
    total = 0
    for node in m.graph.node:
        if node.op_type == "Conv":
            cout, cin_g, kh, kw = weights[node.input[1]]
            _, _, ho, wo = shape[node.output[0]]
            total += 2 * cout * cin_g * kh * kw * ho * wo
        elif node.op_type in ("ConvTranspose", "MatMul", "Gemm"):
            raise NotImplementedError(f"FLOP count of {node.op_type} nodes")
    return total / 1e9


def onnxruntime_fps(path: Path, n: int, repeat: int, min_seconds: float = MIN_SECONDS,
                    h: int = H, w: int = W) -> dict:
    """fps of the model alone in onnxruntime (CPU, default threads), random inputs; each run is
    at least n frames and min_seconds long."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {}
    for i in sess.get_inputs():
        c = i.shape[1]
        feeds[i.name] = rng.random((1, c, h // 2, w // 2), dtype=np.float32)
    sess.run(None, feeds)  # warm-up
    runs = []
    for _ in range(repeat):
        t, k = time.perf_counter(), 0
        while k < n or time.perf_counter() - t < min_seconds:
            sess.run(None, feeds)
            k += 1
        runs.append(k / (time.perf_counter() - t))
    return {"fps": statistics.median(runs), "runs": runs, "min_frames": n,
            "onnxruntime": ort.__version__}


def _cpuinfo_fields(cpuinfo: str) -> tuple[dict[str, str], list[float]]:
    """The first processor's `key: value` fields of a /proc/cpuinfo text, and every `cpu MHz`."""
    first, mhz = {}, []
    for block in re.split(r"\n\s*\n", cpuinfo.strip()):
        fields = {}
        for line in block.splitlines():
            k, sep, v = line.partition(":")
            if sep:
                fields[k.strip()] = v.strip()
        if "cpu MHz" in fields:
            try:
                mhz.append(float(fields["cpu MHz"]))
            except ValueError:
                pass
        first = first or fields
    return first, mhz


def flop_per_cycle(flags: set[str], vendor: str, family: int | None) -> tuple[int, str]:
    """fp32 FLOP per cycle per core (FMA = 2 FLOP) and the ISA it assumes, from the CPU flags.

    Assumes two FMA units per core, as the server and desktop cores of the last decade have (some
    Intel Xeon Bronze/Silver and client parts have one 512-bit FMA unit: half the AVX-512 figure)."""
    if "avx512f" in flags:
        if vendor == "AuthenticAMD" and (family or 0) <= 0x19:
            return 32, "AVX-512 on AMD Zen 4, double-pumped: 2 FMA x 8 fp32 lanes x 2"
        if vendor == "AuthenticAMD":
            return 64, "AVX-512 on AMD Zen 5 or later, full width on desktop/server parts: 2 FMA x 16 lanes x 2"
        return 64, "AVX-512F: 2 FMA x 16 fp32 lanes x 2"
    if "avx2" in flags and "fma" in flags:
        return 32, "AVX2+FMA: 2 FMA x 8 fp32 lanes x 2"
    return 16, "no FMA, SSE/AVX: 2 x 4 fp32 lanes x 2 assumed"


def fp32_peak(cpuinfo: str, cpus: int, lscpu: str = "") -> dict | None:
    """The machine's fp32 FMA peak in GFLOP/s, an estimate: physical cores x clock x FLOP per cycle
    per core (flop_per_cycle).

    cpuinfo: a /proc/cpuinfo text; cpus: the logical CPUs the benchmark may run on (its CPU
    affinity); lscpu: `lscpu`'s text, whose `CPU max MHz` (the highest clock) is the clock if
    present, else the highest `cpu MHz` of cpuinfo (the clock when read; in a VM usually the
    host's nominal clock). Physical cores: cpus / (siblings / cpu cores), rounded up, where
    cpuinfo gives both (SMT threads share a core's FMA units). None without flags or a clock."""
    info, mhz = _cpuinfo_fields(cpuinfo)
    flags = set(info.get("flags", "").split())
    m = re.search(r"^\s*CPU max MHz:\s*([0-9.]+)", lscpu, re.M)
    if m and float(m.group(1)) > 0:
        clock, source = float(m.group(1)), "lscpu CPU max MHz"
    elif mhz:
        clock, source = max(mhz), "/proc/cpuinfo cpu MHz"
    else:
        return None
    if not flags:
        return None
    try:
        smt = max(1, int(info["siblings"]) // int(info["cpu cores"]))
    except (KeyError, ValueError, ZeroDivisionError):
        smt = 1
    try:
        family = int(info["cpu family"])
    except (KeyError, ValueError):
        family = None
    per_cycle, isa = flop_per_cycle(flags, info.get("vendor_id", ""), family)
    cores = max(1, math.ceil(cpus / smt))
    return {"gflops": cores * clock * per_cycle / 1e3, "cores": cores, "logical_cpus": cpus,
            "threads_per_core": smt, "mhz": clock, "clock_source": source,
            "flop_per_cycle": per_cycle, "isa": isa, "cpu": info.get("model name", "")}


def machine_peak() -> dict:
    """fp32_peak of this machine (/proc/cpuinfo, `lscpu`, the CPU affinity); {"skipped": why} if
    it cannot be estimated."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {"skipped": "no /proc/cpuinfo"}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"}).stdout
    except OSError:
        lscpu = ""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    peak = fp32_peak(cpuinfo, cpus, lscpu)
    return peak or {"skipped": "no CPU flags or clock in /proc/cpuinfo"}


PEAK_EXAMPLE = ROOT / "target" / "release" / "examples" / "peak"
# the own kernels' f32 paths, fastest first (NTIRESR_ISA names)
F32_PATHS = ("avx512", "avx2", "portable")


def path_peaks(threads: int | None = None, seconds: float = 0.3) -> dict:
    """Each kernel path's peak GFLOP/s on this machine, measured by `examples/profile/peak.rs`
    (independent multiply-add chains on every thread at once: the clock the cores really run
    at, and whether the logical CPUs share their FMA units); {"skipped": why} without it."""
    if not PEAK_EXAMPLE.exists():
        return {"skipped": f"{PEAK_EXAMPLE.relative_to(ROOT)} not built (cargo build --release --example peak)"}
    threads = threads or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    r = subprocess.run([str(PEAK_EXAMPLE), str(threads), str(seconds)], capture_output=True, text=True)
    if r.returncode != 0:
        return {"skipped": f"peak failed: {r.stderr.strip()}"}
    return json.loads(r.stdout)


def method_path(m, peaks: dict) -> str | None:
    """The kernel path whose peak bounds a variant (or onnxruntime, m None): the forced one
    (NTIRESR_ISA), bf16 where the element's default takes it (precision auto on AVX512-BF16),
    else the fastest f32 path the CPU runs (tract and onnxruntime compute in f32 too)."""
    have = peaks.get("gflops", {})
    f32 = next((p for p in F32_PATHS if p in have), None)
    if m is None or getattr(m, "backend", None) == "tract":
        return f32
    if getattr(m, "isa", None):
        return m.isa if m.isa in have else None
    if getattr(m, "props", {}).get("precision") == "fp32":
        return f32
    return "avx512bf16" if "avx512bf16" in have else f32


def element_figures(methods: list, speeds: dict, gflop: float, ort_fps: float, peak: dict | None,
                    peaks: dict | None = None) -> dict:
    """Per timed variant of the element (methods with `networks` > 0): its GFLOP/s, its ratio to
    onnxruntime's GFLOP/s on the same model, its share of the fp32 peak estimate (if known) and,
    with the measured `peaks` (path_peaks), its path and its share of that path's peak."""
    out = {}
    for m in methods:
        k = getattr(m, "networks", 0)
        if not k or m.name not in speeds:
            continue
        gflops = k * gflop * speeds[m.name]["fps"]
        e = {"backend": m.backend or "default", "format": m.fmt, "networks_per_frame": k,
             "gflops": gflops, "over_onnxruntime": gflops / (gflop * ort_fps)}
        if getattr(m, "isa", None):
            e["isa"] = m.isa
        if peak and "gflops" in peak:
            e["peak_share"] = gflops / peak["gflops"]
        path = method_path(m, peaks or {})
        if path:
            e["path"] = path
            e["path_peak_share"] = gflops / peaks["gflops"][path]
        out[m.name] = e
    return out


def run(methods: list, tmp: Path, n: int, repeat: int, model: Path = MODEL, log=print,
        min_seconds: float = MIN_SECONDS) -> dict:
    """Every figure of the speed section (see the module docstring)."""
    out = {"input": f"{W}x{H}", "output": f"{4 * W}x{4 * H}", "repeat": repeat, "methods": {}}
    peak = out["peak"] = machine_peak()
    peaks = out["path_peaks"] = path_peaks()
    for m in methods:
        log(f"speed: {m.name}")
        out["methods"][m.name] = method_fps(m, tmp, n, repeat, min_seconds)
    model = model.resolve()
    if model.exists():
        g = model_gflop(model)
        out["model"] = {"path": str(model.relative_to(ROOT)) if model.is_relative_to(ROOT) else str(model),
                        "gflop_per_frame": g}
        log("speed: onnxruntime on the model")
        ort = out["model"]["onnxruntime"] = onnxruntime_fps(model, n, repeat, min_seconds)
        ort["gflops"] = g * ort["fps"]
        if "gflops" in peak:
            ort["peak_share"] = ort["gflops"] / peak["gflops"]
        if (path := method_path(None, peaks)):
            ort["path"], ort["path_peak_share"] = path, ort["gflops"] / peaks["gflops"][path]
        el = out["model"]["elements"] = element_figures(methods, out["methods"], g, ort["fps"], peak, peaks)
        if "ntiresr-tract" in el:  # the keys of results.json before #20, when ntiresr ran on tract
            out["model"]["tract_gflops"] = el["ntiresr-tract"]["gflops"]
            out["model"]["tract_over_onnxruntime"] = el["ntiresr-tract"]["over_onnxruntime"]
    else:
        msg = f"{model} not found: no GFLOP, GFLOP/s or onnxruntime figures"
        log(f"speed: {msg}")
        out["model"] = {"skipped": msg}
    return out
