"""Write tests/data/thqa_v3_features.bin: the parity fixture of `src/thqa/features.rs` and
`src/thqa/estimate.rs`.

Frames are synthetic (no footage) and made by a generator both sides implement (`frame`: an
xorshift32 stream; left half 8x8 blocks of constant luma plus 0..2 noise, right half a ramp plus
-8..8 noise). For each listed frame the file holds what Python computes: the features and the
v3 estimate (QP-equivalent, log2 resolution, score) of the shipped constants
(training/thqa/results/v3-model.json).

Layout (little-endian): u32 count, then per frame u32 width, height, display, seed, then 16 f64
features, then f64 qp, res, score.

Usage: python -m training.thqa.v3_fixture [--out tests/data/thqa_v3_features.bin]
"""

import argparse
import json
import struct
from pathlib import Path

import numpy as np

from . import v3_features, v3_infer

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests/data/thqa_v3_features.bin"
FRAMES = ((1920, 1080, 1080, 7), (480, 270, 1080, 11), (200, 360, 360, 3))


def frame(width: int, height: int, seed: int) -> np.ndarray:
    """The synthetic luma plane (uint8 [height, width])."""
    n = width * height
    r = np.empty(n, np.uint64)
    x = seed & 0xFFFFFFFF
    m = 0xFFFFFFFF
    for i in range(n):  # xorshift32, one draw per pixel in row-major order
        x ^= (x << 13) & m
        x ^= x >> 17
        x ^= (x << 5) & m
        r[i] = x
    r = r.reshape(height, width).astype(np.int64)
    yy, xx = np.mgrid[0:height, 0:width]
    left = 20 + ((xx // 8) * 37 + (yy // 8) * 91) % 200 + r % 3
    right = np.clip((xx + 2 * yy) % 256 + r % 17 - 8, 0, 255)
    return np.where(xx < width // 2, left, right).astype(np.uint8)


def fixture_bytes(consts: dict) -> bytes:
    out = [struct.pack("<I", len(FRAMES))]
    for w, h, disp, seed in FRAMES:
        f = v3_features.features(frame(w, h, seed), disp)
        out.append(struct.pack("<4I", w, h, disp, seed))
        out.append(struct.pack(f"<{len(f)}d", *f))
        out.append(struct.pack("<3d", *v3_infer.infer(consts, f)))
    return b"".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=FIXTURE)
    a = ap.parse_args()
    a.out.write_bytes(fixture_bytes(json.loads(v3_infer.JSON.read_text())))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
