"""Writes a small random-weight ntiresr model (same contract) with a stride-2 convolution on the
grid: its output depends on the parity of the grid row, so a shift by one row changes it. The
plugin must start its bands of rows on even rows for it (tests/bands.rs).

    python -m tests.data.make.stride2_model tests/data/stride2.onnx
"""

import sys

import torch
import torch.nn.functional as F
from torch import nn

from training.export import INPUTS, OUTPUTS
from training.model import IN_CH, OUT_CH

STATE_CH = 4


class Stride2(nn.Module):
    state_ch = STATE_CH

    def __init__(self, channels: int = 4):
        super().__init__()
        self.down = nn.Conv2d(IN_CH + STATE_CH, channels, 3, stride=2, padding=1)
        self.mix = nn.Conv2d(IN_CH + STATE_CH + channels, channels, 3, padding=1)
        self.residual = nn.Conv2d(channels, OUT_CH, 1)
        self.state = nn.Conv2d(channels, STATE_CH, 1)

    def forward(self, frame, prev_frame, state):
        h, w = frame.shape[2], frame.shape[3]
        x = torch.cat([frame - 0.5 + 0 * prev_frame, state], 1)
        coarse = F.interpolate(self.down(x), scale_factor=2.0, mode="nearest")[:, :, :h, :w]
        features = F.leaky_relu(self.mix(torch.cat([x, coarse], 1)), 0.1)
        return 0.1 * self.residual(features), torch.clamp(self.state(features), -1.0, 1.0)


def main() -> None:
    torch.manual_seed(0)
    model = Stride2().eval()
    h, w = 10, 14
    args = (torch.rand(1, IN_CH, h, w), torch.rand(1, IN_CH, h, w), torch.zeros(1, STATE_CH, h, w))
    dyn = {n: {2: "h", 3: "w"} for n in INPUTS + OUTPUTS}
    torch.onnx.export(model, args, sys.argv[1], input_names=INPUTS, output_names=OUTPUTS,
                      dynamic_axes=dyn, opset_version=17, dynamo=False)


if __name__ == "__main__":
    main()
