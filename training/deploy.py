"""PixelNet rearranged for tract: the same function, with a cheaper chroma read-out.

PixelNet's chroma/state read-out is a 1x1 conv over the concatenation of the chroma features and
SpaceToDepth 2 of the luma features. tract turns that into transposes, a split einsum and packing:
~20 ms of an ~80 ms frame (per-op profile, 480x270, 2 threads) for 0.25 GFLOP. `deployable`
exports it as a 1x1 conv over the chroma features plus a 2x2 conv with stride 2 over the luma
features (the same sums: SpaceToDepth channel 4*c + 2*i + j is luma feature c at offset (i, j) of
the cell), which tract runs directly. Everything else is the trained network's own modules.
"""

import torch
from torch import nn

from .model import PixelNet


class DeployedPixelNet(nn.Module):
    def __init__(self, m: PixelNet):
        super().__init__()
        self.state_ch = m.state_ch
        self.head, self.body, self.luma, self.chroma_in = m.head, m.body, m.luma, m.chroma_in
        self.extra = m.extra  # v10's residual blocks (empty for v5-v9)
        w, b = m.chroma_out.weight.detach()[:, :, 0, 0], m.chroma_out.bias.detach()
        n_out, chroma = w.shape[0], m.chroma_in.out_channels
        luma_ch = (w.shape[1] - chroma) // 4
        self.chroma_point = nn.Conv2d(chroma, n_out, 1)
        self.chroma_luma = nn.Conv2d(luma_ch, n_out, 2, stride=2, bias=False)
        with torch.no_grad():
            self.chroma_point.weight.copy_(w[:, :chroma, None, None])
            self.chroma_point.bias.copy_(b)
            self.chroma_luma.weight.copy_(w[:, chroma:].reshape(n_out, luma_ch, 2, 2))

    # PixelNet's own forward and feature stack over the same modules (same names, so the ONNX
    # graph is PixelNet's but for the read-out below).
    forward = PixelNet.forward
    features = PixelNet.features

    def chroma_read_out(self, c, f):
        return self.chroma_point(c) + self.chroma_luma(f)


def deployable(model: nn.Module) -> nn.Module:
    """The graph to export for a fused `model`: DeployedPixelNet for a PixelNet, else itself."""
    return DeployedPixelNet(model).eval() if isinstance(model, PixelNet) else model
