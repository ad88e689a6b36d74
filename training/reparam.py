"""Training-time over-parameterised 3x3 convolution that collapses into one plain 3x3 conv.

RepConv holds a plain 3x3 kernel, an expanded linear branch (3x3 to `expand` channels, then 1x1
back, as in SESR's collapsible linear blocks), a 1x1 branch and, optionally, an identity. All are
linear, so their sum is one 3x3 kernel: it is formed from the parameters on every forward pass
(training costs about as much as the plain conv) and `fused()` returns it as an nn.Conv2d, so the
exported graph and its speed are those of the plain network.
"""

import torch
import torch.nn.functional as F
from torch import nn


class RepConv(nn.Module):
    def __init__(self, cin: int, cout: int, expand: int, identity: bool = False):
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size = cin, cout, (3, 3)
        plain = nn.Conv2d(cin, cout, 3, padding=1)  # PyTorch's default init for the plain branch
        self.weight = nn.Parameter(plain.weight.detach().clone())
        self.bias = nn.Parameter(plain.bias.detach().clone())
        self.expand = nn.Parameter(nn.Conv2d(cin, expand, 3).weight.detach().clone())
        self.project = nn.Parameter(torch.zeros(cout, expand))  # the expanded branch starts at 0
        self.point = nn.Parameter(torch.zeros(cout, cin))
        self.identity = identity and cin == cout

    def kernel(self) -> torch.Tensor:
        k = self.weight + torch.einsum("oe,eikl->oikl", self.project, self.expand)
        centre = self.point
        if self.identity:
            centre = centre + torch.eye(self.in_channels, dtype=k.dtype)
        return k + F.pad(centre[:, :, None, None], (1, 1, 1, 1))

    def forward(self, x):
        return F.conv2d(x, self.kernel(), self.bias, padding=1)

    def fused(self) -> nn.Conv2d:
        conv = nn.Conv2d(self.in_channels, self.out_channels, 3, padding=1)
        with torch.no_grad():
            conv.weight.copy_(self.kernel())
            conv.bias.copy_(self.bias)
        return conv


def fuse(model: nn.Module) -> nn.Module:
    """Replaces every RepConv in `model` (in place) by its plain conv; returns the model."""
    for name, child in model.named_children():
        if isinstance(child, RepConv):
            setattr(model, name, child.fused())
        else:
            fuse(child)
    return model
