"""Full-reference metrics on I420 planes (numpy; OpenCV filters for SSIM): PSNR-Y/U/V, SSIM-Y,
temporal error.

Every figure is the mean over frames of a per-frame value (the usual video convention).
"""

import numpy as np

PSNR_CAP = 100.0  # dB given to an identical frame, so that JSON never holds inf


def psnr(ref: np.ndarray, out: np.ndarray) -> float:
    """Mean over frames of 10 log10(255^2 / MSE); arrays (n, h, w) uint8. Capped at PSNR_CAP."""
    d = ref.astype(np.float64) - out.astype(np.float64)
    mse = (d * d).reshape(d.shape[0], -1).mean(1)
    with np.errstate(divide="ignore"):
        p = 10 * np.log10(255.0**2 / mse)
    return float(np.minimum(p, PSNR_CAP).mean())


def _gaussian_valid(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Separable correlation of a (h, w) float64 image with a 1-D kernel on both axes, keeping
    only the 'valid' positions (windows wholly inside the image). OpenCV does the filtering."""
    import cv2

    r = len(k) // 2
    return cv2.sepFilter2D(x, cv2.CV_64F, k, k, borderType=cv2.BORDER_REFLECT)[r:-r, r:-r]


_K = np.exp(-0.5 * ((np.arange(11) - 5) / 1.5) ** 2)
_K /= _K.sum()


def ssim(ref: np.ndarray, out: np.ndarray) -> float:
    """Mean over frames of SSIM (Wang et al. 2004: 11x11 gaussian, sigma 1.5, K1 .01, K2 .03,
    L 255, 'valid' windows only, as the reference MATLAB code); arrays (n, h, w) uint8."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    vals = []
    for a, b in zip(ref.astype(np.float64), out.astype(np.float64)):
        f = lambda x: _gaussian_valid(x, _K)
        ma, mb = f(a), f(b)
        saa, sbb, sab = f(a * a) - ma * ma, f(b * b) - mb * mb, f(a * b) - ma * mb
        m = ((2 * ma * mb + c1) * (2 * sab + c2)) / ((ma * ma + mb * mb + c1) * (saa + sbb + c2))
        vals.append(m.mean())
    return float(np.mean(vals))


def temporal_rmse(ref: np.ndarray, out: np.ndarray) -> float | None:
    """Temporal stability: RMS (in 8-bit levels) of the error of frame-to-frame differences,
    (out[t] - out[t-1]) - (ref[t] - ref[t-1]), over t >= 1. 0 is perfect; flicker raises it even
    where per-frame errors are small. None for a single frame."""
    if ref.shape[0] < 2:
        return None
    r, o = ref.astype(np.float64), out.astype(np.float64)
    d = np.diff(o, axis=0) - np.diff(r, axis=0)
    return float(np.sqrt((d * d).mean()))


def planes(ref, out) -> dict:
    """All numpy metrics of `out` against `ref` (two frames.Video of the same size)."""
    return {
        "psnr_y": psnr(ref.y, out.y),
        "psnr_u": psnr(ref.u, out.u),
        "psnr_v": psnr(ref.v, out.v),
        "ssim_y": ssim(ref.y, out.y),
        "trmse_y": temporal_rmse(ref.y, out.y),
    }
