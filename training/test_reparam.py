"""Checks that a RepConv-trained PixelNet fuses into the plain network it exports as, and that
the deployed rearrangement (deploy.py) computes the same function.

    python -m pytest training/test_reparam.py
"""

import copy

import torch
import torch.nn.functional as F
from torch import nn

from .deploy import DeployedPixelNet
from .model import PixelNet
from .reparam import RepConv, fuse


def randomise(model: nn.Module) -> None:
    """Non-zero values in every branch (a fresh RepConv starts with some branches at zero)."""
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.1)


def test_repconv_is_one_conv():
    torch.manual_seed(1)
    rep = RepConv(8, 8, expand=24, identity=True)
    randomise(rep)
    x = torch.rand(2, 8, 9, 11)
    # Every branch applied separately, as the over-parameterised block is defined.
    branches = (F.conv2d(x, rep.weight, rep.bias, padding=1)
                + F.conv2d(F.conv2d(x, rep.expand, padding=1), rep.project[:, :, None, None])
                + F.conv2d(x, rep.point[:, :, None, None]) + x)
    torch.testing.assert_close(rep.fused()(x), branches, rtol=1e-5, atol=1e-5)


def test_pixelnet_fuses_to_plain():
    torch.manual_seed(2)
    rep = PixelNet(8, 2, rep=16)
    randomise(rep)
    plain = fuse(copy.deepcopy(rep))
    assert not any(isinstance(m, RepConv) for m in plain.modules())
    assert set(plain.state_dict()) == set(PixelNet(8, 2).state_dict())
    args = (torch.rand(1, 6, 5, 7), torch.rand(1, 6, 5, 7), torch.rand(1, 16, 5, 7) * 2 - 1)
    for a, b in zip(rep(*args), plain(*args)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_deployed_pixelnet_is_the_same_function():
    torch.manual_seed(3)
    net = PixelNet(8, 2, chroma=12)
    randomise(net)  # a trained read-out is non-zero
    deployed = DeployedPixelNet(net)
    assert not any(k.startswith("chroma_out") for k in deployed.state_dict())
    for h, w in ((5, 7), (6, 10)):  # odd and even chroma grids
        args = (torch.rand(1, 6, h, w), torch.rand(1, 6, h, w), torch.rand(1, 16, h, w) * 2 - 1)
        for a, b in zip(net(*args), deployed(*args)):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
