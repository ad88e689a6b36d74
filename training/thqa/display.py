"""Display-size patches: the thqa contract's patch rule (mirrored in `src/thqa/patches.rs`).

A frame is judged as it is shown. Its shorter side is brought to the display's (`display`
lines, at least the frame's own: a frame is never shrunk), the other side by aspect:

    D = max(min(W, H), display);  landscape: DH = D, DW = round(W * D / H)  (portrait: swapped)

The patch grid (`patch_origins`) is laid on the DW x DH picture and every patch pixel is a
bicubic (Keys, a = -0.5) sample of the frame, pixel centres aligned
(`src = (dst + 0.5) * W / DW - 0.5`), edges clamped, rounded to 8 bits as an upscaled frame
would be. Only the patches are resampled, never the whole frame. At D = min(W, H) this is a
plain copy of the patches. Arithmetic: taps and weights in float64, weights rounded to float32,
the horizontal pass then the vertical one in float32 (a left-to-right sum of four products),
then floor(v + 0.5) clamped to 0..255.
"""

import numpy as np

A = -0.5  # Keys' cubic


def display_size(w: int, h: int, display: int) -> tuple[int, int]:
    """(DW, DH): the size a w x h frame is judged at for a display of `display` lines."""
    if w >= h:
        d = max(h, display)
        return (w * d + h // 2) // h, d
    d = max(w, display)
    return d, (h * d + w // 2) // w


def patch_origins(w: int, h: int, g: int, p: int) -> list[tuple[int, int]]:
    """(top, left) of patch i*g + j on a w x h picture (the contract's grid)."""
    out = []
    for i in range(g):
        top = min(max((2 * i + 1) * h // (2 * g) - p // 2, 0), max(h - p, 0))
        for j in range(g):
            left = min(max((2 * j + 1) * w // (2 * g) - p // 2, 0), max(w - p, 0))
            out.append((top, left))
    return out


def _cubic(t: np.ndarray) -> np.ndarray:
    """The four Keys weights for fractional offsets t (float64) -> [len(t), 4]."""
    x = np.stack([1 + t, t, 1 - t, 2 - t], 1)
    near = ((A + 2) * x - (A + 3)) * x * x + 1
    far = ((A * x - 5 * A) * x + 8 * A) * x - 4 * A
    return np.where(x <= 1, near, far)


def taps(start: int, p: int, src: int, dst: int) -> tuple[np.ndarray, np.ndarray]:
    """Source indices [p, 4] and float32 weights [p, 4] for display samples start..start+p of an
    axis of `src` samples shown as `dst` (display samples past the end repeat the last one)."""
    d = np.minimum(np.arange(start, start + p), dst - 1)
    s = (d + 0.5) * (src / dst) - 0.5
    f = np.floor(s)
    idx = np.clip(f.astype(np.int64)[:, None] + np.arange(-1, 3)[None], 0, src - 1)
    return idx, _cubic(s - f).astype(np.float32)


def _sum4(w: np.ndarray, v: list[np.ndarray]) -> np.ndarray:
    return w[0] * v[0] + w[1] * v[1] + w[2] * v[2] + w[3] * v[3]


def patch(y: np.ndarray, top: int, left: int, p: int, dw: int, dh: int) -> np.ndarray:
    """One p x p uint8 patch at display (top, left) of luma plane y shown at dw x dh."""
    h, w = y.shape
    xi, xw = taps(left, p, w, dw)
    yi, yw = taps(top, p, h, dh)
    rows = y[np.unique(yi)].astype(np.float32)  # only the source rows the patch needs
    ry = np.searchsorted(np.unique(yi), yi)
    horiz = _sum4(xw.T[:, None, :], [rows[:, xi[:, k]] for k in range(4)])  # [rows, p]
    out = _sum4(yw.T[:, :, None], [horiz[ry[:, k]] for k in range(4)])  # [p, p]
    return np.clip(np.floor(out + np.float32(0.5)), 0, 255).astype(np.uint8)


def patches(y: np.ndarray, display: int, g: int, p: int) -> np.ndarray:
    """Luma plane (H, W) uint8 -> [g*g, p, p] uint8 patches at the contract positions."""
    dw, dh = display_size(y.shape[1], y.shape[0], display)
    return np.stack([patch(y, t, l, p, dw, dh) for t, l in patch_origins(dw, dh, g, p)])


def random_patches(y: np.ndarray, display: int, n: int, p: int, rng: np.random.Generator) -> np.ndarray:
    """n patches at random display positions (training only)."""
    dw, dh = display_size(y.shape[1], y.shape[0], display)
    tops = rng.integers(0, max(dh - p, 0) + 1, n)
    lefts = rng.integers(0, max(dw - p, 0) + 1, n)
    return np.stack([patch(y, int(t), int(l), p, dw, dh) for t, l in zip(tops, lefts)])


def scale(w: int, h: int, display: int) -> float:
    """The model's `scale` input: the judged picture's shorter side / 1080."""
    return min(display_size(w, h, display)) / 1080.0
