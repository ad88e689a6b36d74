"""Quick PyTorch check of a checkpoint on the val clips: PSNR-Y gain over bicubic per clip and QP.

    python -m training.quick_eval training/runs/v2/final.pt [--frames 12] [--mirror]
    python -m training.quick_eval A.pt B.pt ...   (the ensemble: their outputs averaged)

For choosing between checkpoints and architectures in minutes; the figures that count come
through the plugin (evaluate.py). Output is rounded and clamped to 8 bits as the element does;
it tracks evaluate.py within ~0.01 dB. The first call degrades the first 40 frames of each val clip
at QP 22/27/32/37 into training/cache-val/.
"""

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ntcommon.clips import EVAL_QPS, clip_id, val_clips
from ntcommon.paths import DATA

from .model import load, pack, reconstruct
from .prepare_data import cache_clip

CACHE = Path(__file__).resolve().parent / "cache-val"
FRAMES = 40


def cached(name: str, plane: str, qp: int | None = None) -> np.ndarray:
    return np.load(CACHE / name / (f"qp{qp}_{plane}.npy" if qp else f"hr_{plane}.npy"))


def prepare(data: Path = DATA) -> list[str]:
    """Caches the val clips of the data folder `data` (first call only); returns their names."""
    names = []
    for clip in val_clips(data):
        names.append(clip_id(clip.path))
        cache_clip(clip, FRAMES, CACHE / names[-1], EVAL_QPS)
    return names


def psnr(x: np.ndarray, ref: np.ndarray) -> float:
    return 10 * np.log10(255**2 / np.mean((x - ref) ** 2))


def luma_stream(model, lr: list, frames: int, past: bool = True, mirror: bool = False) -> list:
    """The model's output luma (unrounded, 0..1) for each frame, the recurrence run from an empty
    state (without `past`: every frame is run as the first of a stream, to see what the recurrence
    adds); with `mirror`, of the left-right mirrored stream, mirrored back."""
    out, prev, state = [], None, None
    flip = (lambda p: torch.flip(p, [3])) if mirror else (lambda p: p)
    with torch.no_grad():
        for t in range(frames):
            y, u, v = (flip(p[t : t + 1]) for p in lr)
            frame = pack(y, u, v)
            prev = frame if prev is None or not past else prev
            if state is None or not past:
                state = torch.zeros(1, model.state_ch, *frame.shape[2:])
            residual, state = model(frame, prev, state)
            prev = frame
            out.append(flip(reconstruct(residual, y, u, v)[0])[0, 0].numpy())
    return out


def gain(models: list, name: str, qp: int, frames: int, past: bool = True,
         mirror: bool = False) -> float:
    """Mean over frames of PSNR-Y(ensemble) - PSNR-Y(bicubic): the ensemble is the mean output of
    `models` (and, with `mirror`, of each on the mirrored stream, as the element's
    mirror-ensemble does), rounded to 8 bits."""
    hy = cached(name, "y")[:frames].astype(np.float64)
    lr = [torch.from_numpy(cached(name, c, qp)[:frames].astype(np.float32) / 255)[:, None] for c in "yuv"]
    to8 = lambda z: np.clip(np.round(z * 255), 0, 255)
    streams = [luma_stream(m, lr, frames, past, flip) for m in models
               for flip in ([False, True] if mirror else [False])]
    out = []
    for t in range(frames):
        sr = np.mean([s[t] for s in streams], 0)
        bic = F.interpolate(lr[0][t : t + 1], scale_factor=4, mode="bicubic", align_corners=False)
        out.append(psnr(to8(sr), hy[t]) - psnr(to8(bic[0, 0].numpy()), hy[t]))
    return float(np.mean(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", type=Path, nargs="+", help="one model, or several to ensemble")
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-past", action="store_true",
                    help="zero state and prev_frame = frame on every frame (the recurrence's share)")
    ap.add_argument("--mirror", action="store_true",
                    help="average with the mirrored stream's output (the element's mirror-ensemble)")
    ap.add_argument("--data", type=Path, default=DATA,
                    help="the shared clips (default: $NTIRESR_DATA, else ../shared/data)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    names = prepare(a.data)
    models = [load(c) for c in a.checkpoint]
    gains = {(n, qp): gain(models, n, qp, min(a.frames, FRAMES), not a.no_past, a.mirror)
             for n in names for qp in EVAL_QPS}
    for qp in EVAL_QPS:
        row = " ".join(f"{n} {gains[(n, qp)]:+.3f}" for n in names)
        print(f"QP {qp}: {row}  mean {np.mean([gains[(n, qp)] for n in names]):+.3f} dB")
    print(f"mean PSNR-Y gain over bicubic: {np.mean(list(gains.values())):+.3f} dB")


if __name__ == "__main__":
    main()
