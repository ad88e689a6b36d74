"""The ntiresr network: a causal, recurrent x4 restorer for I420 video that works on the chroma grid.

One step maps (current frame, previous frame, recurrent state) to a residual over the bicubic x4
upscale of every plane, and the next state. Everything runs at half the low-res luma size (the
chroma grid), so a 480x270 frame costs about 2.6 GFLOP. The contract is in models/README.md.
"""

import torch
import torch.nn.functional as F
from torch import nn

IN_CH = 6  # 4 luma sub-pixels (space-to-depth 2, c = 2*dy + dx) + U + V
OUT_CH = 96  # 64 luma sub-pixels (x8 of the grid) + 16 U + 16 V (x4 of the grid)
STATE_CH = 16


class NtireSR(nn.Module):
    def __init__(self, channels: int = 32, body: int = 3, state: int = STATE_CH):
        super().__init__()
        self.state_ch = state
        self.head = nn.Conv2d(2 * IN_CH + state, channels, 3, padding=1)
        self.body = nn.ModuleList(nn.Conv2d(channels, channels, 3, padding=1) for _ in range(body))
        self.tail = nn.Conv2d(channels, OUT_CH + state, 1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def features(self, frame, prev_frame, state):
        """The features the 1x1 tail reads (everything but the tail)."""
        # Centred inputs and leaky ReLUs: with plain ReLUs on 0..1 inputs the features die early
        # in training and the net collapses to bicubic (measured: +0.00 dB after 1,265 steps).
        x = F.leaky_relu(self.head(torch.cat([frame - 0.5, prev_frame - 0.5, state], 1)), 0.1)
        f = x
        for conv in self.body:
            f = F.leaky_relu(conv(f), 0.1)
        return f + x

    def forward(self, frame, prev_frame, state):
        y = self.tail(self.features(frame, prev_frame, state))
        return y[:, :OUT_CH], torch.clamp(y[:, OUT_CH:], -1.0, 1.0)


def pack(y, u, v):
    """Planes (N,1,H,W), (N,1,H/2,W/2) x2 in 0..1 -> network input (N,6,H/2,W/2)."""
    return torch.cat([F.pixel_unshuffle(y, 2), u, v], 1)


def upscale(y, u, v):
    """Bicubic x4 of every plane (torch's a=-0.75, edge-clamped; the element does the same)."""
    up = lambda p: F.interpolate(p, scale_factor=4, mode="bicubic", align_corners=False)
    return up(y), up(u), up(v)


def reconstruct(residual, y, u, v):
    """Bicubic x4 planes + the network's residual -> HR planes (unclamped)."""
    by, bu, bv = upscale(y, u, v)
    ry = F.pixel_shuffle(residual[:, :64], 8)
    ru = F.pixel_shuffle(residual[:, 64:80], 4)
    rv = F.pixel_shuffle(residual[:, 80:96], 4)
    return by + ry, bu + ru, bv + rv


def gflop(model: NtireSR, h: int = 270, w: int = 480) -> float:
    """Multiply-adds x2 per frame of h x w low-res luma."""
    cells = (h // 2) * (w // 2)
    total = 0
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            total += 2 * m.in_channels * m.out_channels * m.kernel_size[0] * m.kernel_size[1] * cells
    return total / 1e9
