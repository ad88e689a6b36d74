"""thqa v3 inference in float64, as `src/thqa/estimate.rs` computes it (numpy only)."""

from pathlib import Path

import numpy as np

JSON = Path(__file__).resolve().parent / "results" / "v3-model.json"  # v3_export.py writes it


def infer(c: dict, f: np.ndarray) -> tuple[float, float, float]:
    """(QP-equivalent, log2 resolution, score) of one feature vector with the constants `c`."""
    z = (f - np.array(c["mu"])) / np.array(c["sd"])
    h = np.maximum(np.array(c["w1"]) @ z + np.array(c["b1"]), 0)
    o = np.array(c["w2"]) @ h + np.array(c["b2"])
    qp, res = o[0] * c["qp_span"] + c["qp_centre"], o[1]
    m = c["map"]
    s = m["a"] - m["b"] * (qp - c["qp_centre"]) / c["qp_span"] + m["c"] * (res + 1)
    return float(qp), float(res), float(5 / (1 + np.exp(-s)))
