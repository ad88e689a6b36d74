"""v10 (issue #35): v9 grown by a zero-initialised residual block starts exactly at v9's function,
exports as the same function, can learn, and costs at most 1.3x v9.

    python -m pytest training/test_grow.py
"""

import copy
from pathlib import Path

import pytest
import torch

from .deploy import DeployedPixelNet
from .model import PixelNet, gflop, load
from .reparam import fuse
from .train import grow_from, unroll

V9 = Path(__file__).resolve().parent / "checkpoints" / "v9-last.pt"


def v9() -> PixelNet:
    model = PixelNet(16, 5, rep=64)
    model.load_state_dict(torch.load(V9, weights_only=False)["model"])
    return model


def v10() -> PixelNet:
    model = PixelNet(16, 5, rep=64, extra=1)
    grow_from(model, V9)
    return model


def stream(model, frames, h, w):
    """Outputs of a recurrent run over `frames` from an empty state, as the element runs it."""
    outs, state, prev = [], torch.zeros(1, model.state_ch, h, w), frames[0]
    with torch.no_grad():
        for f in frames:
            residual, state = model(f, prev, state)
            outs += [residual, state]
            prev = f
    return outs


def max_diff(a, b, h=9, w=13, n=4):
    g = torch.Generator().manual_seed(5)
    frames = [torch.rand(1, 6, h, w, generator=g) for _ in range(n)]
    return max((x - y).abs().max().item() for x, y in zip(stream(a, frames, h, w), stream(b, frames, h, w)))


@pytest.mark.parametrize("h,w", [(9, 13), (34, 60)])
def test_grown_v9_starts_at_v9(h, w):
    base, grown = v9(), v10()
    assert len(grown.extra) == 1
    assert max_diff(base, grown, h, w) <= 1e-6  # measured: 0 (the block's second conv is 0)
    # And the residual is not trivially zero: v9 itself differs from bicubic.
    frames = [torch.rand(1, 6, h, w) for _ in range(2)]
    assert stream(base, frames, h, w)[0].abs().max() > 1e-3


def test_grown_v9_exports_as_v9():
    """Fused (as load() and export.py fuse it) and rearranged for deployment, still v9's function."""
    base = DeployedPixelNet(fuse(v9())).eval()
    grown = DeployedPixelNet(fuse(v10())).eval()
    assert sum(1 for k in grown.state_dict() if k.startswith("extra.")) == 4  # a and b: weight, bias
    assert max_diff(base, grown) <= 1e-6


def test_load_reads_the_grown_architecture(tmp_path):
    grown = v10()
    with torch.no_grad():  # a trained block is not zero
        for p in grown.extra.parameters():
            p.normal_(0, 0.05)
    torch.save({"model": grown.state_dict()}, tmp_path / "last.pt")
    loaded = load(tmp_path / "last.pt")
    assert len(loaded.extra) == 1
    assert max_diff(fuse(copy.deepcopy(grown)).eval(), loaded) <= 1e-5


def test_the_grown_block_learns_from_the_first_step():
    """The zero conv gets a gradient at once (a zero block whose gradient were zero too would never
    move)."""
    torch.manual_seed(0)
    grown = v10()
    ly = torch.rand(2, 1, 1, 16, 16)
    lu, lv = torch.rand(2, 1, 1, 8, 8), torch.rand(2, 1, 1, 8, 8)
    hy, hu, hv = torch.rand(2, 1, 1, 64, 64), torch.rand(2, 1, 1, 32, 32), torch.rand(2, 1, 1, 32, 32)
    unroll(grown, 0.5, ly, lu, lv, hy, hu, hv, torch.ones(1)).backward()
    b = grown.extra[0].b
    assert b.weight.grad.abs().sum() > 0 and b.point.grad.abs().sum() > 0


def test_v10_costs_at_most_1_3_times_v9():
    ratio = gflop(v10()) / gflop(v9())
    assert 1.2 < ratio <= 1.3, ratio  # 5.38 / 4.19 GFLOP
