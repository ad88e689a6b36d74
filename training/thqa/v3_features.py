"""thqa v3 features: content-light statistics of one luma plane that betray compression and scale.

Mirrored bit for bit (up to float rounding in the last step) by `src/thqa/v3_features.rs`; the
parity fixture is `tests/data/thqa_v3_features.bin` (`python -m training.thqa.v3_fixture`).

The plane is read in 64x64 tiles on the 64-px grid (so every codec block grid of 4..32 px keeps
its phase); at most MAX_TILES tiles are used: every k-th tile in row-major order with
k = ceil(tiles / MAX_TILES). A plane smaller than a tile is read as one tile, edge-repeated. Per tile, in integers:
- |horizontal| and |vertical| neighbour differences, summed per boundary phase (x+1) mod 32,
  and counted when 0 and when at most 2;
- |4-neighbour Laplacian| of the tile, of its 2x2 box sums (/4) and of its 4x4 box sums (/16);
- the range (max - min) of each of its 64 aligned 8x8 blocks and 256 4x4 blocks;
- H.265's integer 8x8 DCT of the 8 blocks on its diagonal.
Features (FEATURES names them): ln-ratios of the mean difference on block-grid phases (4, 8, 16,
32 px) against odd phases, ln of the mean gradient and of the three Laplacians, the shares of
flat 8x8 blocks (range <= 1, <= 4), the DCT's high-band share of AC energy and the share of its
high-band coefficients under 1 in magnitude, the shares of neighbour differences of 0 and of
at most 2, the share of flat 4x4 blocks (range <= 1), and log2 of the display upscale factor.
"""

import math

import numpy as np

TILE = 64
MAX_TILES = 128
FEATURES = (
    "log2_upscale", "ln_grad", "ln_lap1", "ln_lap2", "ln_lap4",
    "blk4", "blk8", "blk16", "blk32", "flat1", "flat4", "dct_hi", "dct_zero",
    "diff0", "diff2", "flat4x4",
)


# H.265's integer 8-point DCT (rows ~ 64 * sqrt(8) * the orthonormal basis): integer transforms
# keep Python and Rust exact; c / 2**15 is about the orthonormal coefficient.
DCT = np.array([
    [64, 64, 64, 64, 64, 64, 64, 64],
    [89, 75, 50, 18, -18, -50, -75, -89],
    [83, 36, -36, -83, -83, -36, 36, 83],
    [75, -18, -89, -50, 50, 89, 18, -75],
    [64, -64, -64, 64, 64, -64, -64, 64],
    [50, -89, 18, 75, -75, -18, 89, -50],
    [36, -83, 83, -36, -36, 83, -83, 36],
    [18, -50, 75, -89, 89, -75, 50, -18],
], np.int64)
DCT_UNIT = 1 << 15  # |c| < DCT_UNIT: an orthonormal coefficient under about 1
_UV = np.add.outer(np.arange(8), np.arange(8))
HI = _UV >= 8  # high band: u + v >= 8
ZERO_BAND = _UV >= 6


def tile_origins(w: int, h: int) -> list[tuple[int, int]]:
    """(x, y) of the tiles used, row-major, every k-th; a frame with no whole tile gets one at
    (0, 0) whose pixels past the frame repeat its last row and column."""
    nx, ny = w // TILE, h // TILE
    n = nx * ny
    if n == 0:
        return [(0, 0)] if w > 0 and h > 0 else []
    k = -(-n // MAX_TILES)
    return [((t % nx) * TILE, (t // nx) * TILE) for t in range(0, n, k)]


def _lap(a: np.ndarray) -> np.ndarray:
    """|4-neighbour Laplacian| of the interior of the last two axes (integers)."""
    c = a[..., 1:-1, 1:-1]
    return np.abs(4 * c - a[..., :-2, 1:-1] - a[..., 2:, 1:-1] - a[..., 1:-1, :-2] - a[..., 1:-1, 2:])


def sums(y: np.ndarray) -> dict | None:
    """The integer / float sums the features are made of (None: an empty plane)."""
    h, w = y.shape
    org = tile_origins(w, h)
    if not org:
        return None
    if w < TILE or h < TILE:
        y = np.pad(y, ((0, max(0, TILE - h)), (0, max(0, TILE - w))), mode="edge")
    t = np.stack([y[oy:oy + TILE, ox:ox + TILE] for ox, oy in org]).astype(np.int64)
    n = len(org)
    dh = np.abs(t[:, :, 1:] - t[:, :, :-1])  # boundary between x and x+1: phase (x+1) % 32
    dv = np.abs(t[:, 1:, :] - t[:, :-1, :])
    ph = (np.arange(1, TILE) % 32)
    diff = np.zeros(32, np.int64)
    cnt = np.zeros(32, np.int64)
    np.add.at(diff, ph, dh.sum(axis=(0, 1)))
    np.add.at(diff, ph, dv.sum(axis=(0, 2)))
    np.add.at(cnt, ph, np.full(TILE - 1, 2 * n * TILE, np.int64))
    b2 = t.reshape(n, 32, 2, 32, 2).sum(axis=(2, 4))
    b4 = b2.reshape(n, 16, 2, 16, 2).sum(axis=(2, 4))
    blocks = t.reshape(n, 8, 8, 8, 8).transpose(0, 1, 3, 2, 4)  # [n, by, bx, 8, 8]
    rng = blocks.max(axis=(3, 4)) - blocks.min(axis=(3, 4))
    b4x4 = t.reshape(n, 16, 4, 16, 4)
    rng4 = b4x4.max(axis=(2, 4)) - b4x4.min(axis=(2, 4))
    diag = blocks[:, np.arange(8), np.arange(8)].reshape(-1, 8, 8)
    c = DCT @ diag @ DCT.T  # int64, exact
    c2 = (c.astype(np.float64) / DCT_UNIT) ** 2
    return {
        "diff": diff, "cnt": cnt,
        "lap1": int(_lap(t).sum()), "n1": n * (TILE - 2) ** 2,
        "lap2": int(_lap(b2).sum()), "n2": n * 30 * 30,
        "lap4": int(_lap(b4).sum()), "n4": n * 14 * 14,
        "flat1": int((rng <= 1).sum()), "flat4": int((rng <= 4).sum()), "blocks": n * 64,
        "flat4x4": int((rng4 <= 1).sum()), "blocks4": n * 256,
        "d0": int((dh == 0).sum() + (dv == 0).sum()), "d2": int((dh <= 2).sum() + (dv <= 2).sum()),
        "nd": 2 * n * TILE * (TILE - 1),
        "e_hi": float(c2[:, HI].sum()), "e_ac": float(c2.sum() - c2[:, 0, 0].sum()),
        "zero": int((np.abs(c[:, ZERO_BAND]) < DCT_UNIT).sum()), "nzero": int(ZERO_BAND.sum()) * len(diag),
    }


def from_sums(s: dict, log2_upscale: float) -> np.ndarray:
    """The feature vector (FEATURES order, float64) from `sums`."""
    diff, cnt = s["diff"].astype(np.float64), s["cnt"].astype(np.float64)
    odd = np.arange(32) % 2 == 1
    off = diff[odd].sum() / cnt[odd].sum()

    def on(g: int) -> float:
        m = np.arange(32) % g == 0
        return diff[m].sum() / cnt[m].sum()

    grad = diff.sum() / cnt.sum()
    return np.array([
        log2_upscale,
        math.log(grad + 1),
        math.log(s["lap1"] / s["n1"] + 1),
        math.log(s["lap2"] / s["n2"] / 4 + 1),
        math.log(s["lap4"] / s["n4"] / 16 + 1),
        *(math.log((on(g) + 1) / (off + 1)) for g in (4, 8, 16, 32)),
        s["flat1"] / s["blocks"],
        s["flat4"] / s["blocks"],
        math.log((s["e_hi"] + 1) / (s["e_ac"] + 1)),
        s["zero"] / s["nzero"],
        s["d0"] / s["nd"],
        s["d2"] / s["nd"],
        s["flat4x4"] / s["blocks4"],
    ])


def upscale_log2(w: int, h: int, display: int) -> float:
    """log2 of how much the element enlarges a w x h frame for a display of `display` lines."""
    short = min(w, h)
    return math.log2(max(short, display) / short)


def features(y: np.ndarray, display: int) -> np.ndarray | None:
    """Feature vector of a uint8 luma plane judged on a display of `display` lines (None: empty)."""
    s = sums(y)
    if s is None:
        return None
    h, w = y.shape
    return from_sums(s, upscale_log2(w, h, display))
