"""Degrade every training clip at every training QP once and cache the frames as .npy files.

    python -m training.prepare_data [--frames 360] [--jobs 2] [--data DIR]

Output: training/cache/<clip>/{hr_y,hr_u,hr_v}.npy and qp<N>_{y,u,v}.npy (uint8, I420 planes).
"""

import argparse
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from ntcommon.clips import TRAIN_QPS, clip_id, train_clips
from ntcommon.degrade import Clip, degrade, ground_truth, probe, split_i420
from ntcommon.paths import DATA

CACHE = Path(__file__).resolve().parent / "cache"


def cache_clip(clip: Clip, frames: int, out: Path, qps=TRAIN_QPS) -> str:
    """Writes the clip's ground truth and its degradation at every QP in `qps` to `out`, unless
    `out` already holds them with as many frames as asked (or as the clip has)."""
    if (out / f"qp{qps[-1]}_v.npy").exists():
        have = np.load(out / "hr_y.npy", mmap_mode="r").shape[0]
        # Probe (it reads every packet of the file) only when the cache is shorter than asked.
        if have >= frames or have >= probe(clip.path)[2]:
            return f"{out.name}: cached"
    out.mkdir(parents=True, exist_ok=True)
    hr = ground_truth(clip, frames)
    for name, plane in zip("yuv", split_i420(hr, clip.width, clip.height)):
        np.save(out / f"hr_{name}.npy", plane)
    for qp in qps:
        lr = degrade(hr, clip.width, clip.height, qp)
        for name, plane in zip("yuv", split_i420(lr, clip.width // 4, clip.height // 4)):
            np.save(out / f"qp{qp}_{name}.npy", plane)
    return f"{out.name}: {clip.width}x{clip.height}"


def prepare(args: tuple[Clip, int, Path]) -> str:
    clip, frames, root = args
    return cache_clip(clip, frames, root / clip_id(clip.path))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=360)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--data", type=Path, default=DATA,
                    help="the shared clips (default: $NTIRESR_DATA, else ../shared/data)")
    a = ap.parse_args()
    work = [(c, a.frames, CACHE) for c in train_clips(a.data)]
    with Pool(a.jobs) as pool:
        for msg in pool.imap_unordered(prepare, work):
            print(msg, flush=True)


if __name__ == "__main__":
    main()
