"""VMAF, VMAF-NEG, PSNR-Y, tRMSE-Y (and LPIPS) of bicubic and checkpoints on val (or training) clips.

    python -m training.perceptual_eval training/checkpoints/v6-last.pt CANDIDATE.pt \
        [--frames 8] [--split val|train] [--chroma 0.25] [--lpips] [--threads 1]

The quick perceptual check of issue #21, in PyTorch (the figures that count come through the
plugin: scripts/benchmark). Each model is run over the first `--frames` frames of every clip at
QP 22/27/32/37 from an empty state, as the element runs a stream; the output is rounded and
clamped to 8 bits and scored against the original (the cached ground truth, as quick_eval):
VMAF (vmaf_v0.6.1) and VMAF-NEG (vmaf_v0.6.1neg) by the libvmaf of imageio-ffmpeg's ffmpeg
(bench/vmaf.py), tRMSE-Y as bench/metrics.py, LPIPS (AlexNet, bench/lpips_metric.py; needs
$LPIPS_ALEX_CKPT) on every 4th frame with --lpips. `--split val`: A03, A13, A16 (cache-val,
as quick_eval); `--split train`: the training clips calibrate_chroma.py uses (every third clip
with natural chroma), for choosing loss weights without val/. `--chroma A` multiplies every
model's chroma residual by A (the shipped calibration of v6 is 0.25; VMAF and PSNR-Y are luma
only, LPIPS sees chroma).
"""

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch

from bench.metrics import psnr, temporal_rmse
from bench.vmaf import ffmpeg_exe
from ntcommon.clips import EVAL_QPS, SOFT
from ntcommon.paths import DATA

from . import quick_eval
from .model import load, pack, reconstruct, upscale
from .prepare_data import CACHE as TRAIN_CACHE


def clips(split: str, data: Path) -> list[tuple[str, Path]]:
    if split == "val":
        return [(n, quick_eval.CACHE / n) for n in quick_eval.prepare(data)]
    names = [d.name for d in sorted(TRAIN_CACHE.iterdir()) if d.name not in SOFT][::3]
    return [(n, TRAIN_CACHE / n) for n in names]


def run(model, lr, past: bool = True) -> list[np.ndarray]:
    """8-bit (Y, U, V) planes per frame of `model` (None: bicubic) over the LR planes."""
    out, prev, state = [], None, None
    with torch.no_grad():
        for t in range(lr[0].shape[0]):
            y, u, v = (p[t : t + 1] for p in lr)
            if model is None:
                planes = upscale(y, u, v)
            else:
                frame = pack(y, u, v)
                prev = frame if prev is None or not past else prev
                if state is None or not past:
                    state = torch.zeros(1, model.state_ch, *frame.shape[2:])
                residual, state = model(frame, prev, state)
                prev = frame
                planes = reconstruct(residual, y, u, v)
            out.append([np.clip(np.round(p[0, 0].numpy() * 255), 0, 255).astype(np.uint8) for p in planes])
    return out


def vmaf_pair(ref: Path, dist: Path, w: int, h: int, threads: int) -> tuple[float, float]:
    """Mean VMAF and VMAF-NEG of raw I420 `dist` against `ref` (one libvmaf pass, both models)."""
    raw = ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{w}x{h}", "-r", "25", "-i"]
    log = dist.with_suffix(".json")
    models = "version=vmaf_v0.6.1\\:name=vmaf|version=vmaf_v0.6.1neg\\:name=vmaf_neg"
    p = subprocess.run(
        [ffmpeg_exe(), "-v", "error", *raw, str(dist), *raw, str(ref), "-lavfi",
         f"[0:v][1:v]libvmaf=model='{models}':n_threads={threads}:log_fmt=json:log_path={log}",
         "-f", "null", "-"], capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError(f"libvmaf failed: {p.stderr[-2000:]}")
    pooled = json.loads(log.read_text())["pooled_metrics"]
    return pooled["vmaf"]["mean"], pooled["vmaf_neg"]["mean"]


def write_i420(path: Path, frames) -> None:
    with open(path, "wb") as f:
        for planes in frames:
            for p in planes:
                f.write(np.ascontiguousarray(p).tobytes())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", type=Path, nargs="*")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--split", choices=["val", "train"], default="val")
    ap.add_argument("--chroma", type=float, help="scale every model's chroma residual by this")
    ap.add_argument("--no-past", action="store_true", help="also each model without its past")
    ap.add_argument("--lpips", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data", type=Path, default=DATA)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    methods = {"bicubic": (None, True)}
    for c in a.checkpoint:
        m = load(c)
        if a.chroma is not None:
            m.scale_chroma(a.chroma)
        label = f"{c.parent.name}/{c.name}"
        methods[label] = (m, True)
        if a.no_past:
            methods[label + " no-past"] = (m, False)
    lp = None
    if a.lpips:

        from bench.frames import i420_to_rgb
        from bench.lpips_metric import Lpips

        lp = Lpips(threads=a.threads)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, d in clips(a.split, a.data):
            hr = [np.load(d / f"hr_{c}.npy", mmap_mode="r")[: a.frames] for c in "yuv"]
            h, w = hr[0].shape[1:]
            gt = list(zip(*hr))
            write_i420(tmp / "ref.yuv", gt)
            for qp in EVAL_QPS:
                lr = [torch.from_numpy(np.load(d / f"qp{qp}_{c}.npy", mmap_mode="r")[: a.frames]
                                       .astype(np.float32) / 255)[:, None] for c in "yuv"]
                for label, (m, past) in methods.items():
                    out = run(m, lr, past)
                    write_i420(tmp / "dist.yuv", out)
                    vm, neg = vmaf_pair(tmp / "ref.yuv", tmp / "dist.yuv", w, h, a.threads)
                    oy = np.stack([o[0] for o in out])
                    r = {"vmaf": vm, "vmaf_neg": neg, "psnr_y": psnr(hr[0], oy),
                         "psnr_u": psnr(hr[1], np.stack([o[1] for o in out])),
                         "psnr_v": psnr(hr[2], np.stack([o[2] for o in out])),
                         "trmse_y": temporal_rmse(hr[0], oy)}
                    if lp is not None:
                        idx = range(0, len(out), 4)
                        r["lpips"] = float(np.mean([lp.distance(i420_to_rgb(*gt[i]), i420_to_rgb(*out[i]),
                                                                ref_key=(name, i)) for i in idx]))
                    rows[(label, name, qp)] = r
                    print(f"{name} QP {qp} {label}: " + " ".join(f"{k} {v:.3f}" for k, v in r.items()),
                          flush=True)
    names = sorted({k[1] for k in rows})
    keys = list(next(iter(rows.values())))
    print(f"\nmean over {' '.join(names)} (first {a.frames} frames), delta vs bicubic:")
    for label in methods:
        for qp in [*EVAL_QPS, None]:
            qps = EVAL_QPS if qp is None else [qp]
            mean = {k: np.mean([rows[(label, n, q)][k] for n in names for q in qps]) for k in keys}
            base = {k: np.mean([rows[("bicubic", n, q)][k] for n in names for q in qps]) for k in keys}
            print(f"{label:28} {'all' if qp is None else f'QP {qp}':6} " + " ".join(
                f"{k} {mean[k]:.3f} ({mean[k] - base[k]:+.3f})" for k in keys), flush=True)


if __name__ == "__main__":
    main()
