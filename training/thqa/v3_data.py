"""thqa v3 data: exact compression / scale labels, VMAF targets and v3 features per sampled frame.

Per clip (the originals of `training/cache{,-val}/<clip>/hr_y.npy`, as `training.prepare_data`
writes them: cropped, soft clips halved, as the ntiresr training uses them; `--cache-dir` reads
another checkout's) one segment of SEG consecutive frames from the
middle of the clip is put through every version below; the frames at SAMPLES (P-frames) become
rows. Every encoder is low delay, one I-frame then P-frames at the same QP:
- native: the original (compression and resolution labels: none / 0);
- h265 x1/4 (Lanczos down, `ntcommon/degrade.py` settings) at QP 17-42, each judged at its own
  size (the element enlarges it to the display: "own" rows) and as its bicubic upscale ("bicubic"
  rows, as a player would show it), and upscaled by ntiresr ("ntiresr" rows);
- h265 x1/2 and x1 at QP 22/37; h264 x1/4 at QP 24/34/44 (libx264, no B-frames, ipratio 1);
  vp9 x1/4 at CRF 30/45/60 (realtime; no QP label).
Target: VMAF v0.6.1 / 20 of the version's bicubic upscale against the original segment (display =
the original's size, as in `dataset.py`). v2: the shipped thqa.onnx score (onnxruntime, the
element's patch rule) of the frame as the element would get it (not for "bicubic" rows).

Labels: `qp` the codec QP (NaN for vp9; NATIVE_QP, a nominal anchor below every QP encoded here,
for the originals: `load_all` sets it); `res` log2 of the picture's resolution over
the display's: 0 native and x1, -1 x1/2, -2 x1/4 (own and bicubic), and NTIRESR_RES for ntiresr
outputs (a nominal class value, set by `load_all`: the output is a x4 upscale of a x1/4 decode
that restores part of the band; -1.5 was chosen by grouped CV among -0.5, -1, -1.5, -1.75, -2 as
the best pooled figure that keeps the output above its decode, models/thqa.md).

Output: training/thqa/cache/v3/<clip>.npz (resumable: finished clips are skipped).
Usage: OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python -m training.thqa.v3_data [--clips A04,B18]
"""

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from ntcommon import gst

from . import dataset, v3_features

HERE = Path(__file__).resolve().parent
OUT = HERE / "cache" / "v3"
FRAMES = Path("/tmp/thqa-v3-frames")  # the sampled luma planes, for --refeature (outside the repo)
TRAINING = HERE.parent  # holds cache/ and cache-val/ (training.prepare_data)
SEG = 9
SAMPLES = (4, 6, 8)
X4_QPS = (17, 22, 27, 32, 37, 42)
SIDE_QPS = (22, 37)
H264_QPS = (24, 34, 44)
VP9_CRFS = (30, 45, 60)
NTIRESR_RES = -1.5  # the nominal resolution label of ntiresr outputs (the files store -1)
NATIVE_QP = 12.0  # the nominal QP label of an original (already-compressed sources: not a measurement)
SAME_PERSON = {"A10": "A07", "B08": "B05"}  # one group per source person (MANIFEST.md)
DEFAULT_PLUGIN_DIR = Path("/tmp/thqa-v3-plugin")  # a copy of a release build's libgstntiresr.so


def sources(training: Path) -> dict[str, Path]:
    """The cached originals of each split under a training folder."""
    return {"train": training / "cache", "val": training / "cache-val"}


def group(clip: str) -> str:
    return SAME_PERSON.get(clip, clip)


def cached_frames(src: Path) -> int:
    """How many frames the cached original in `src` holds."""
    return len(np.load(src / "hr_y.npy", mmap_mode="r"))


def cached_raw(src: Path, frames: range) -> tuple[bytes, int, int]:
    """Frames `frames` of the cached original in `src` as raw I420, and its size."""
    y = np.load(src / "hr_y.npy", mmap_mode="r")
    u = np.load(src / "hr_u.npy", mmap_mode="r")
    v = np.load(src / "hr_v.npy", mmap_mode="r")
    h, w = y.shape[1:]
    return b"".join(y[i].tobytes() + u[i].tobytes() + v[i].tobytes() for i in frames), w, h


def segment(src: Path, seg: int = SEG) -> tuple[bytes, int, int]:
    """`seg` middle frames of the cached original as raw I420, and its size."""
    n = cached_frames(src)
    s = max(0, n // 2 - seg // 2)
    return cached_raw(src, range(s, min(n, s + seg)))


def ntiresr_raw(raw: bytes, lw: int, lh: int, tmp: Path, plugin_dir: Path) -> bytes:
    src = tmp / "sr-in.yuv"
    src.write_bytes(raw)
    out = tmp / "sr-out.yuv"
    cmd = gst.ntiresr_pipeline(src, lw, lh, out, raw=True, props={"n-threads": 1})
    p = subprocess.run(cmd, env=gst.plugin_env(plugin_dir, keep=False), capture_output=True)
    if p.returncode:
        raise RuntimeError(f"ntiresr failed: {(p.stdout + p.stderr).decode()[-1500:]}")
    return out.read_bytes()


def versions(ref: bytes, w: int, h: int, tmp: Path, plugin_dir: Path):
    """Yield (name, codec, qp, res, view, raw, vw, vh)."""
    nan = float("nan")
    yield "native", "none", nan, 0.0, "native", ref, w, h
    for qp in X4_QPS:
        dec, lw, lh = dataset.hevc(ref, w, h, 4, qp, tmp / "x4.hevc")
        yield f"h265x4-qp{qp}", "h265", qp, -2.0, "own", dec, lw, lh
        yield f"h265x4-qp{qp}-bicubic", "h265", qp, -2.0, "bicubic", dataset.scale(dec, lw, lh, w, h), w, h
        yield f"h265x4-qp{qp}-ntiresr", "h265", qp, -1.0, "ntiresr", ntiresr_raw(dec, lw, lh, tmp, plugin_dir), w, h
    for f, res in ((2, -1.0), (1, 0.0)):
        for qp in SIDE_QPS:
            dec, lw, lh = dataset.hevc(ref, w, h, f, qp, tmp / f"x{f}.hevc")
            yield f"h265x{f}-qp{qp}", "h265", qp, res, "own", dec, lw, lh
    for qp in H264_QPS:
        dec, lw, lh = dataset.other_codec(ref, w, h, "h264", qp, tmp / "x4.h264")
        yield f"h264x4-qp{qp}", "h264", qp, -2.0, "own", dec, lw, lh
    for crf in VP9_CRFS:
        dec, lw, lh = dataset.other_codec(ref, w, h, "vp9", crf, tmp / "x4.ivf")
        yield f"vp9x4-crf{crf}", "vp9", nan, -2.0, "own", dec, lw, lh


def make_clip(clip: str, split: str, src: Path, plugin_dir: Path, v2) -> dict:
    """Every version of clip `clip` (of `split`) from its cached original in `src`."""
    from ntcommon import degrade

    ref, w, h = segment(src)
    disp = min(w, h)
    rows, planes = [], []
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        ref_path = tmp / "ref.yuv"
        ref_path.write_bytes(ref)
        vmafs: dict[str, np.ndarray] = {}  # "bicubic" rows share their decode's VMAF
        for name, codec, qp, res, view, raw, vw, vh in versions(ref, w, h, tmp, plugin_dir):
            key = name.removesuffix("-bicubic")
            if key not in vmafs:
                full = raw if (vw, vh) == (w, h) else dataset.scale(raw, vw, vh, w, h)
                vmafs[key] = dataset.vmaf_frames(ref_path, full, w, h, tmp)
            vm = vmafs[key]
            y, _, _ = degrade.split_i420(raw, vw, vh)
            for i in SAMPLES:
                if i >= len(y):
                    continue
                f = np.ascontiguousarray(y[i])
                planes.append(f)
                rows.append({
                    "version": name, "codec": codec, "qp": qp, "res": res, "view": view,
                    "frame": i, "width": vw, "height": vh,
                    "features": v3_features.features(f, disp),
                    "target": float(np.clip(vm[i] / 20, 0, 5)),
                    "v2": float("nan") if view == "bicubic" else v2(f, disp),
                })
    FRAMES.mkdir(parents=True, exist_ok=True)
    np.savez(FRAMES / f"{clip}.npz", **{f"p{i}": p for i, p in enumerate(planes)})
    return {"clip": clip, "split": split, "group": group(clip), "width": w, "height": h, "rows": rows}


class V2:
    """The shipped v2 model through onnxruntime with the element's patch rule."""

    def __init__(self, onnx: Path):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        self.sess = ort.InferenceSession(str(onnx), so, providers=["CPUExecutionProvider"])

    def __call__(self, y: np.ndarray, disp: int) -> float:
        return float(self.sess.run(["score"], dataset.model_inputs(y, disp))[0][0, 0])


def save(d: dict, path: Path) -> None:
    r = d["rows"]
    np.savez(path, clip=d["clip"], split=d["split"], group=d["group"], width=d["width"],
             height=d["height"],
             **{k: np.array([x[k] for x in r]) for k in
                ("version", "codec", "qp", "res", "view", "frame", "target", "v2")},
             vwidth=np.array([x["width"] for x in r]), vheight=np.array([x["height"] for x in r]),
             features=np.stack([x["features"] for x in r]))


def load_all(out: Path = OUT) -> dict[str, np.ndarray]:
    """Every finished clip's rows, concatenated, with per-row clip / split / group."""
    cols: dict[str, list] = {}
    for p in sorted(out.glob("*.npz")):
        z = np.load(p)
        n = len(z["target"])
        for k in ("version", "codec", "qp", "res", "view", "frame", "target", "v2", "vwidth", "vheight", "features"):
            cols.setdefault(k, []).append(z[k])
        for k in ("clip", "split", "group", "width", "height"):
            cols.setdefault(k, []).append(np.repeat(z[k], n))
    d = {k: np.concatenate(v) for k, v in cols.items()}
    d["qp"] = np.where(d["codec"] == "none", NATIVE_QP, d["qp"])
    d["res"] = np.where(d["view"] == "ntiresr", NTIRESR_RES, d["res"])
    return d


def refeature(out: Path = OUT) -> None:
    """Recomputes every finished clip's features (v3_features as it is now) from FRAMES."""
    for p in sorted(out.glob("*.npz")):
        fr = FRAMES / p.name
        if not fr.exists():
            print(f"{p.stem}: no stored planes, kept")
            continue
        z = dict(np.load(p))
        planes = np.load(fr)
        disp = int(min(z["width"], z["height"]))
        z["features"] = np.stack([v3_features.features(planes[f"p{i}"], disp) for i in range(len(z["target"]))])
        np.savez(p, **z)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", default="", help="comma-separated clip ids (default: all cached)")
    ap.add_argument("--plugin-dir", type=Path, default=DEFAULT_PLUGIN_DIR, help="holds libgstntiresr.so")
    ap.add_argument("--cache-dir", type=Path, default=TRAINING,
                    help="the training folder whose cache/ and cache-val/ hold the originals")
    ap.add_argument("--model", type=Path, default=HERE.parents[1] / "models" / "thqa.onnx", help="v2 model")
    ap.add_argument("--refeature", action="store_true",
                    help="only recompute the features of finished clips from their stored planes")
    a = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if a.refeature:
        refeature()
        return
    v2 = V2(a.model)
    want = set(filter(None, a.clips.split(",")))
    for split, root in sources(a.cache_dir).items():
        for src in sorted(p for p in root.iterdir() if (p / "hr_y.npy").exists()):
            clip = src.name
            if (want and clip not in want) or (OUT / f"{clip}.npz").exists():
                continue
            t = time.time()
            save(make_clip(clip, split, src, a.plugin_dir, v2), OUT / f"{clip}.npz")
            print(f"{split} {clip}: {time.time() - t:.0f} s", flush=True)


if __name__ == "__main__":
    main()
