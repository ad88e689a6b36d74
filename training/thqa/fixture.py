"""Write tests/data/thqa_patches.bin: the patch rule's parity fixture for `src/thqa/patches.rs`.

A synthetic 8-bit luma frame (seeded: a noisy ramp, a textured ellipse, a bar and a checker;
no footage) and, for each display size listed, the positions and the 8-bit patches that
`display.py` takes from it (the plain copy at the frame's own size, the bicubic samples at
1080 lines). The Rust test reads the frame and must give the same patches, bit for bit;
`test_fixture.py` checks that the stored file is what display.py gives today.

Layout (little-endian u32 unless noted): W, H, G, P, K (display sizes), then the frame (W*H u8),
then per display size: the display size, G*G (top, left) pairs, G*G*P*P patch bytes (u8).

Usage: python -m training.thqa.fixture [--out tests/data/thqa_patches.bin]
"""

import argparse
from pathlib import Path

import numpy as np

from . import display
from .dataset import G, P

ROOT = Path(__file__).resolve().parents[2]
W, H = 240, 136
DISPLAYS = (0, 1080)  # the frame's own size (plain copies) and a 1080-line display (bicubic)
FIXTURE = ROOT / "tests/data/thqa_patches.bin"


def frame(seed: int = 19) -> np.ndarray:
    """A W x H luma picture with flat, textured and sharp-edged regions."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    y = 90 + 0.2 * xx + rng.normal(0, 1.5, (H, W))  # a gentle ramp with sensor noise
    face = ((xx - 150) / 40) ** 2 + ((yy - 70) / 50) ** 2 < 1
    y[face] = 150 + 40 * np.sin(xx[face] / 2.3) * np.cos(yy[face] / 3.1) + rng.normal(0, 6, face.sum())
    y[20:24, 10:90] = 230  # a bright bar: an edge on a flat region
    y[90:, 20:60] = 40 + 30 * (((xx[90:, 20:60] // 4) + (yy[90:, 20:60] // 4)) % 2)  # a checker
    return np.clip(np.rint(y), 0, 255).astype(np.uint8)


def fixture_bytes() -> bytes:
    """The fixture's content, from `display.py` as it is now."""
    y = frame()
    parts = [np.array([W, H, G, P, len(DISPLAYS)], "<u4").tobytes(), y.tobytes()]
    for disp in DISPLAYS:
        dw, dh = display.display_size(W, H, disp)
        at = display.patch_origins(dw, dh, G, P)
        pt = display.patches(y, disp, G, P)
        parts += [np.array([disp], "<u4").tobytes(), np.array(at, "<u4").tobytes(), pt.tobytes()]
    return b"".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=FIXTURE)
    a = ap.parse_args()
    data = fixture_bytes()
    a.out.write_bytes(data)
    print(f"wrote {a.out} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
