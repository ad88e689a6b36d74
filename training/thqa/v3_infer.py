"""thqa v3 inference in float64, as `src/thqa/estimate.rs` computes it (numpy only)."""

from pathlib import Path

import numpy as np

JSON = Path(__file__).resolve().parent / "results" / "v3-model.json"  # v3_export.py writes it


def infer(c: dict, f: np.ndarray) -> tuple[float, float, float]:
    """(QP-equivalent, log2 resolution, score) of one feature vector with the constants `c`, the
    estimates clamped as v3_model.clamp does."""
    z = (f - np.array(c["mu"])) / np.array(c["sd"])
    h = np.maximum(np.array(c["w1"]) @ z + np.array(c["b1"]), 0)
    o = np.array(c["w2"]) @ h + np.array(c["b2"])
    qp, res = o[0] * c["qp_span"] + c["qp_centre"], o[1]
    hi = min(0.0, -f[0])  # f[0]: log2 of the upscale to the display
    qp = min(max(qp, c["qp_range"][0]), c["qp_range"][1])
    res = min(max(res, min(c["res_lowest"], hi)), hi)
    m = c["map"]
    s = m["a"] - m["b"] * (qp - c["qp_centre"]) / c["qp_span"] + m["c"] * (res + 1)
    return float(qp), float(res), float(5 / (1 + np.exp(-s)))
