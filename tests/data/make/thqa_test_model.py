"""A tiny random-weight model with the thqa contract (models/thqa.md), for the Rust tests only.

    python -m tests.data.make.thqa_test_model tests/data/thqa_tiny.onnx
"""

import sys

import torch
from torch import nn


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, stride=2, padding=1)
        self.fc = nn.Linear(5, 1)

    def forward(self, patches, scale):
        f = torch.relu(self.conv(patches - 0.5)).mean((2, 3))
        per_patch = self.fc(torch.cat([f, scale], 1))
        return 5 * torch.sigmoid(per_patch.mean(0, keepdim=True))


torch.manual_seed(3)
torch.onnx.export(Tiny(), (torch.rand(4, 1, 16, 16), torch.full((4, 1), 0.25)), sys.argv[1],
                  input_names=["patches", "scale"], output_names=["score"], opset_version=17,
                  dynamo=False)
