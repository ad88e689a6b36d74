"""train.before_after counts the before/after pairs the way issue #19 judges them."""

import numpy as np

from .train import before_after


def _info(first, targets):
    return [{"first": first, "version": v, "target": t} for v, t in targets.items()]


def test_counts_only_decodes_whose_upscale_gains_two_vmaf_points():
    info = _info(0, {"x4-qp22": 2.0, "x4-qp22-ntiresr": 2.5,  # gains 10 VMAF: counted
                     "x4-qp27": 2.0, "x4-qp27-ntiresr": 2.05,  # 1 point: not counted
                     "x4-qp42": 1.0, "x4-qp42-ntiresr": 1.5,  # QP outside 22-37
                     "x4-qp32": 1.5, "x4-qp32-fsrcnn": 2.0})  # no ntiresr upscale
    info += _info(100, {"x4-qp37": 1.0, "x4-qp37-ntiresr": 1.4})  # another clip
    right = np.array([1.0, 2.0, 0, 0, 0, 0, 0, 0, 1.0, 1.5])
    assert before_after(right, info) == (2, 2)
    one_wrong = right.copy()
    one_wrong[9] = 0.9  # the second clip's upscale scored below its decode
    assert before_after(one_wrong, info) == (1, 2)
