"""thqa network: a tiny no-reference frame-quality model on N luma patches (see models/thqa.md).

Per patch: three 3x3 stride-2 convs (1->8->16->24, ReLU); the spatial means of the input and of its
square (brightness, contrast), of every stage's activations and of their squares (energy) give
98 features; with scale and scale^2 appended, two per-patch layers (100->64->48, ReLU), then the
mean over the N patches, a 48->1 layer and 5*sigmoid -> frame score in 0..5.

ONNX ops used: Conv, Relu, Mul, ReduceMean, Concat, Gemm, Sigmoid (no Reshape).
"""

import torch
from torch import nn

C1, C2, C3, HID1, HID = 8, 16, 24, 64, 48
NF = 2 + 2 * (C1 + C2 + C3) + 2  # per-patch features


class THQA(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, C1, 3, 2, 1)
        self.c2 = nn.Conv2d(C1, C2, 3, 2, 1)
        self.c3 = nn.Conv2d(C2, C3, 3, 2, 1)
        self.fc1 = nn.Linear(NF, HID1)
        self.fc1b = nn.Linear(HID1, HID)
        self.fc2 = nn.Linear(HID, 1)
        self.act = nn.ReLU()

    def patch_hidden(self, patches: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """[M,1,P,P], [M,1] -> [M, HID] per-patch hidden features."""
        x = torch.add(patches * 4.0, -2.0)  # (x - 0.5) * 4 as Mul + Add
        r1 = self.act(self.c1(x))
        r2 = self.act(self.c2(r1))
        r3 = self.act(self.c3(r2))
        f = torch.cat([x.mean((2, 3)), (x * x).mean((2, 3)),
                       r1.mean((2, 3)), (r1 * r1).mean((2, 3)), r2.mean((2, 3)), (r2 * r2).mean((2, 3)),
                       r3.mean((2, 3)), (r3 * r3).mean((2, 3)), scale, scale * scale], 1)
        return self.act(self.fc1b(self.act(self.fc1(f))))

    def forward(self, patches: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """One frame: patches [N,1,P,P], scale [N,1] -> score [1,1] in 0..5 (the ONNX graph)."""
        h = self.patch_hidden(patches, scale).mean(0, keepdim=True)
        return 5.0 * torch.sigmoid(self.fc2(h))

    def frames(self, patches: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """A batch of frames: patches [B,N,1,P,P], scale [B,N,1] -> scores [B] (same maths)."""
        b, n = patches.shape[:2]
        h = self.patch_hidden(patches.flatten(0, 1), scale.flatten(0, 1)).view(b, n, -1).mean(1)
        return 5.0 * torch.sigmoid(self.fc2(h)).squeeze(1)


def mflops(n: int, p: int) -> dict:
    """Multiply-adds counted as 2 FLOPs, per frame (N patches), for the conv and dense layers."""
    s1, s2, s3 = p // 2, p // 4, p // 8
    conv = (s1 * s1 * C1 * 9 * 1 + s2 * s2 * C2 * 9 * C1 + s3 * s3 * C3 * 9 * C2) * n
    act = s1 * s1 * C1 + s2 * s2 * C2 + s3 * s3 * C3 + p * p  # activations incl. the input
    pool = 2 * act * n  # squares + sums for the means
    elt = 3 * act * n  # input affine, bias, relu
    dense = (NF * HID1 + HID1 * HID) * n + HID
    flops = 2 * conv + pool + elt + 2 * dense
    return {"mflop": flops / 1e6, "conv_mflop": 2 * conv / 1e6, "macs": conv + dense}


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
