"""thqa network: a small no-reference frame-quality model on N luma patches (see models/thqa.md).

Every patch (display size, 8-bit luma / 255) is described by
- MSCN statistics (BRISQUE / NIQE style) at two scales (the patch's 2x2 and 4x4 averages;
  at full resolution they cost ~10 ms per frame in tract, at these scales ~0.5 ms):
  m = (x - mu) / (sigma + 1/255), mu and sigma a 7x7 Gaussian (sigma 7/6) local mean and
  deviation; features: mean m^2, mean |m|, mean m^4, the four neighbour products (horizontal,
  vertical, both diagonals), mean sigma and mean sigma^2 (9 per scale);
- a tiny CNN on 4 (x - 0.5) (three 3x3 stride-2 convs 1->8->16->24, ReLU): the spatial means
  of its input and its square, of every stage's activations and of their squares;
- optionally (`bands=True`, `train.py --bands`; not in the shipped model): band energies, the
  log of the energy the patch (less its mean) loses at each of four 2x2 averagings (48 -> 24
  -> 12 -> 6 -> 3) and the energy left at 3x3, one value per octave (Haar bands);
- scale and scale^2 (the judged picture's shorter side / 1080).
Two per-patch dense layers (ReLU), the mean over the N patches, a dense layer and 5 * sigmoid
give the frame score in 0..5. All the fixed filters are convolutions without padding; the
features are standardised with constants set from the training data (`calibrate`).

ONNX ops used: Conv, Relu, Mul, Add, Sub, Div, Sqrt, Abs, ReduceMean, Concat, Gemm, Sigmoid
(and Log with the band energies).
"""

import math

import torch
from torch import nn

C1, C2, C3, HID1, HID = 8, 16, 24, 64, 48
K = 7  # Gaussian window
NMS = 9  # MSCN features per scale
NB = 5  # band energies per patch
NF0 = 2 * NMS + 2 + 2 * (C1 + C2 + C3) + 2  # per-patch features without the band energies
NF = NF0 + NB  # with them
# How the MSCN features of one scale permute when a patch is transposed or flipped (the
# neighbour products: horizontal, vertical, diagonal, anti-diagonal at indices 3..6).
MS_TRANSPOSE = [0, 1, 2, 4, 3, 5, 6, 7, 8]
MS_FLIP = [0, 1, 2, 3, 4, 6, 5, 7, 8]


def _gauss() -> torch.Tensor:
    """The 1-D Gaussian (applied as a row then a column filter)."""
    g = torch.tensor([math.exp(-((i - K // 2) ** 2) / (2 * (7 / 6) ** 2)) for i in range(K)])
    return g / g.sum()


def _pairs() -> tuple[torch.Tensor, torch.Tensor]:
    """2x2 selection kernels: a * b = the four neighbour products of a map."""
    a, b = torch.zeros(4, 1, 2, 2), torch.zeros(4, 1, 2, 2)
    for o, (pa, pb) in enumerate([((0, 0), (0, 1)), ((0, 0), (1, 0)), ((0, 0), (1, 1)), ((0, 1), (1, 0))]):
        a[o, 0, pa[0], pa[1]] = 1.0
        b[o, 0, pb[0], pb[1]] = 1.0
    return a, b


class THQA(nn.Module):
    def __init__(self, bands: bool = False):
        super().__init__()
        self.nb = NB if bands else 0
        nf = NF0 + self.nb
        g = _gauss()
        self.register_buffer("grow", g.view(1, 1, 1, K))
        self.register_buffer("gcol", g.view(1, 1, K, 1))
        centre = torch.zeros(1, 1, K, K)
        centre[0, 0, K // 2, K // 2] = 1.0
        self.register_buffer("centre", centre)
        self.register_buffer("avg2", torch.full((1, 1, 2, 2), 0.25))
        pa, pb = _pairs()
        self.register_buffer("pa", pa)
        self.register_buffer("pb", pb)
        self.c1 = nn.Conv2d(1, C1, 3, 2, 1)
        self.c2 = nn.Conv2d(C1, C2, 3, 2, 1)
        self.c3 = nn.Conv2d(C2, C3, 3, 2, 1)
        # Feature standardisation, set once from training data (`calibrate`).
        # Ablation switches (1 = on): the scale input and the MSCN features (`train.py --ablate`).
        self.register_buffer("scale_gain", torch.ones(1))
        self.register_buffer("ms_gain", torch.ones(2 * NMS))  # per MSCN feature (half, quarter)
        self.register_buffer("fmean", torch.zeros(nf))
        self.register_buffer("finv", torch.ones(nf))
        self.fc1 = nn.Linear(nf, HID1)
        self.fc1b = nn.Linear(HID1, HID)
        self.fc2 = nn.Linear(HID, 1)
        self.act = nn.ReLU()

    def _blur(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.conv2d(nn.functional.conv2d(x, self.grow), self.gcol)

    def mscn(self, x: torch.Tensor) -> torch.Tensor:
        """x [M,1,S,S] in 0..1 -> MSCN features [M, NMS]."""
        mu = self._blur(x)
        var = self.act(self._blur(x * x) - mu * mu)
        sigma = torch.sqrt(var + 1e-8)
        m = (nn.functional.conv2d(x, self.centre) - mu) / (sigma + 1.0 / 255.0)
        m2 = m * m
        prod = nn.functional.conv2d(m, self.pa) * nn.functional.conv2d(m, self.pb)
        f = torch.cat([m2.mean((2, 3)), m.abs().mean((2, 3)), (m2 * m2).mean((2, 3)) * 0.1,
                       prod.mean((2, 3)), sigma.mean((2, 3)) * 10.0, var.mean((2, 3)) * 100.0], 1)
        return f

    def mscn_features(self, patches: torch.Tensor) -> torch.Tensor:
        """[M,1,P,P] -> [M, 2 * NMS]: the MSCN features of the patch's 2x2 and 4x4 averages."""
        half = nn.functional.conv2d(patches, self.avg2, stride=2)
        quarter = nn.functional.conv2d(half, self.avg2, stride=2)
        return torch.cat([self.mscn(half), self.mscn(quarter)], 1)

    @classmethod
    def from_state(cls, state: dict) -> "THQA":
        """A model for a saved state dict (with or without the band energies)."""
        model = cls(bands=state["fmean"].numel() == NF)
        if state["ms_gain"].numel() == 1:  # saved when the gain was one number
            state = {**state, "ms_gain": state["ms_gain"].expand(2 * NMS).clone()}
        model.load_state_dict(state)
        return model

    def band_features(self, patches: torch.Tensor) -> torch.Tensor:
        """[M,1,P,P] -> [M, NB]: log energy of each octave band (Haar: what each 2x2 averaging
        of the zero-mean patch removes; the last, the energy left at the coarsest level)."""
        level = patches - patches.mean((2, 3), keepdim=True)
        sq = [(level * level).mean((2, 3))]
        for _ in range(NB - 1):
            level = nn.functional.conv2d(level, self.avg2, stride=2)
            sq.append((level * level).mean((2, 3)))
        bands = [self.act(sq[k] - sq[k + 1]) for k in range(NB - 1)] + [sq[-1]]
        return torch.log(torch.cat(bands, 1) + 1e-6)

    def features(self, patches: torch.Tensor, scale: torch.Tensor,
                 ms: torch.Tensor | None = None) -> torch.Tensor:
        """[M,1,P,P], [M,1] -> [M, NF] raw per-patch features (`ms`: the MSCN features if
        already computed, as training does)."""
        if ms is None:
            ms = self.mscn_features(patches)
        ms, scale = ms * self.ms_gain, scale * self.scale_gain
        xin = torch.add(patches * 4.0, -2.0)  # (x - 0.5) * 4 as Mul + Add
        r1 = self.act(self.c1(xin))
        r2 = self.act(self.c2(r1))
        r3 = self.act(self.c3(r2))
        f = torch.cat([ms, xin.mean((2, 3)), (xin * xin).mean((2, 3)),
                       r1.mean((2, 3)), (r1 * r1).mean((2, 3)), r2.mean((2, 3)), (r2 * r2).mean((2, 3)),
                       r3.mean((2, 3)), (r3 * r3).mean((2, 3))]
                      + ([self.band_features(patches)] if self.nb else []) + [scale, scale * scale], 1)
        return f

    @torch.no_grad()
    def calibrate(self, patches: torch.Tensor, scale: torch.Tensor) -> None:
        """Sets the feature standardisation from a sample of patches [M,1,P,P], scale [M,1]."""
        f = self.features(patches, scale)
        self.fmean.copy_(f.mean(0))
        self.finv.copy_(1.0 / (f.std(0) + 1e-3))

    def patch_hidden(self, patches: torch.Tensor, scale: torch.Tensor,
                     ms: torch.Tensor | None = None) -> torch.Tensor:
        """[M,1,P,P], [M,1] -> [M, HID] per-patch hidden features."""
        f = (self.features(patches, scale, ms) - self.fmean) * self.finv
        return self.act(self.fc1b(self.act(self.fc1(f))))

    def forward(self, patches: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """One frame: patches [N,1,P,P], scale [N,1] -> score [1,1] in 0..5 (the ONNX graph)."""
        h = self.patch_hidden(patches, scale).mean(0, keepdim=True)
        return 5.0 * torch.sigmoid(self.fc2(h))

    def frames(self, patches: torch.Tensor, scale: torch.Tensor,
               ms: torch.Tensor | None = None) -> torch.Tensor:
        """A batch of frames: patches [B,N,1,P,P], scale [B,N,1] (MSCN features [B,N,2*NMS] if
        precomputed) -> scores [B] (same maths)."""
        b, n = patches.shape[:2]
        ms = None if ms is None else ms.flatten(0, 1)
        h = self.patch_hidden(patches.flatten(0, 1), scale.flatten(0, 1), ms).view(b, n, -1).mean(1)
        return 5.0 * torch.sigmoid(self.fc2(h)).squeeze(1)


def mflops(n: int, p: int) -> dict:
    """Multiply-adds counted as 2 FLOPs, per frame (N patches), for the conv and dense layers."""
    a, b = p // 2, p // 4  # the two scales
    q, h = a - K + 1, b - K + 1  # their MSCN map sides
    fixed = 2 * (a * q + q * q + b * h + h * h) * K + (q * q + h * h) * (K * K + 8)
    fixed += (a * a + b * b) * 4
    s1, s2, s3 = p // 2, p // 4, p // 8
    conv = (s1 * s1 * C1 * 9 + s2 * s2 * C2 * 9 * C1 + s3 * s3 * C3 * 9 * C2) * n
    fixed += p * p * 2 + (a * a + b * b) * 6  # band energies (approximate)
    dense = (NF * HID1 + HID1 * HID) * n + HID
    macs = conv + fixed * n + dense
    return {"mflop": 2 * macs / 1e6, "conv_mflop": 2 * conv / 1e6, "macs": macs}


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
