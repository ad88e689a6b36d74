"""train.before_after counts the before/after pairs the way issue #19 judges them; train.load's
feature cache survives an interrupted write."""

import numpy as np
import pytest

from . import train
from .dataset import N, P
from .model import NMS
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


def test_an_interrupted_feature_cache_write_leaves_no_cache(tmp_path, monkeypatch):
    """A write that dies half way (or a second run reading it meanwhile) must not leave a
    truncated .ms.npy that every later load fails on."""
    f = tmp_path / "X.npz"
    np.savez(f, patches=np.zeros((1, 1, 2 * N, P, P), np.uint8), targets=np.zeros((1, 1), np.float32),
             scale=np.ones(1, np.float32), names=np.array(["pristine"]), families=np.array(["pristine"]))
    real_save = np.save

    def dies_half_way(path, arr):
        with open(path, "wb") as h:
            h.write(b"\x93NUMPY")
        raise OSError("No space left on device")

    monkeypatch.setattr(train.np, "save", dies_half_way)
    with pytest.raises(OSError):
        train.load([f])
    monkeypatch.setattr(train.np, "save", real_save)
    assert train.load([f])[5].shape == (1, 2 * N, 2 * NMS)
