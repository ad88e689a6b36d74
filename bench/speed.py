"""Speed: frames per second of each method on 480x270 -> 1920x1080, and the model's cost.

Each method upscales a raw I420 file of n frames (ffmpeg testsrc2, 480x270) and, separately, of
one frame; fps = (n - 1) / (t_n - t_1), which removes process start-up, plugin and model loading.
n starts at --speed-frames and is raised (to at most MAX_FRAMES) until t_n - t_1 >= min_seconds,
so that fast methods are not timed on noise; that calibration is also the warm-up. Then this is
repeated `repeat` times and the median is reported (with every run). ntiresr is timed
as `filesrc ! rawvideoparse ! ntiresr ! fakesink` (no decoding), ffmpeg's scalers as one ffmpeg
process, the peers in-process including their I420 <-> RGB conversions.

For the ONNX model (--model, else --ntiresr-model, else models/ntiresr.onnx): GFLOP per frame
(2 x multiply-adds of its Conv nodes, from ONNX shape inference at 270x480), the GFLOP/s the
element reaches with tract (GFLOP x its fps; the element also does the bicubic base and the
reconstruction, so this is a lower bound), and the fps of the same model in onnxruntime (model
only, random inputs), with the ratio of the two. Without --ntiresr-model the element runs its
embedded model: the ratio is meaningful only if that is the same as the ONNX file.
"""

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


def run(methods: list, tmp: Path, n: int, repeat: int, model: Path = MODEL, log=print,
        min_seconds: float = MIN_SECONDS) -> dict:
    """Every figure of the speed section (see the module docstring)."""
    out = {"input": f"{W}x{H}", "output": f"{4 * W}x{4 * H}", "repeat": repeat, "methods": {}}
    for m in methods:
        log(f"speed: {m.name}")
        out["methods"][m.name] = method_fps(m, tmp, n, repeat, min_seconds)
    model = model.resolve()
    if model.exists():
        g = model_gflop(model)
        out["model"] = {"path": str(model.relative_to(ROOT)) if model.is_relative_to(ROOT) else str(model),
                        "gflop_per_frame": g}
        log("speed: onnxruntime on the model")
        out["model"]["onnxruntime"] = onnxruntime_fps(model, n, repeat, min_seconds)
        tract = out["methods"].get("ntiresr")
        if tract:
            out["model"]["tract_gflops"] = g * tract["fps"]
            out["model"]["tract_over_onnxruntime"] = tract["fps"] / out["model"]["onnxruntime"]["fps"]
    else:
        msg = f"{model} not found: no GFLOP, tract GFLOP/s or onnxruntime figures"
        log(f"speed: {msg}")
        out["model"] = {"skipped": msg}
    return out
