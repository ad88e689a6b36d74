"""The ntiresr networks: causal, recurrent x4 restorers for I420 video.

One step maps (current frame, previous frame, recurrent state), packed on the chroma grid, to a
residual over the bicubic x4 upscale of every plane, and the next state (contract in
models/README.md). PixelNet (v5, and v6-v10: v5's network trained with RepConv) computes luma at
low-res luma resolution. (NtireSR, v1-v4, computed everything on the chroma grid; retired, see
docs/history.md.)
"""

import torch
import torch.nn.functional as F
from torch import nn

from .reparam import RepConv, fuse

IN_CH = 6  # 4 luma sub-pixels (space-to-depth 2, c = 2*dy + dx) + U + V
OUT_CH = 96  # 64 luma sub-pixels (x8 of the grid) + 16 U + 16 V (x4 of the grid)
STATE_CH = 16


class PixelNet(nn.Module):
    """v5: luma restored at low-res luma resolution (one position per low-res luma sample, as in the
    issue's calibration net) by a narrow plain 3x3 stack; chroma and the state by a 1x1 read-out on
    the chroma grid that also reads the luma features. The contract of models/README.md.

    Per step, at low-res luma resolution: y, the previous y, U and V (nearest x2) and the state
    (depth-to-space 2 of its S channels) -> conv3x3 -> `body` x conv3x3 (+ skip) = features F ->
    conv3x3 to the 16 output sub-pixels of each low-res luma sample. On the chroma grid: conv3x3
    over the packed frame, then a 1x1 over it and space-to-depth 2 of F -> U/V residual + state.
    """

    def __init__(self, channels: int = 16, body: int = 5, state: int = STATE_CH, chroma: int = 16,
                 rep: int = 0, extra: int = 0):
        super().__init__()
        if state % 4:
            raise ValueError(f"state channels must be a multiple of 4, not {state}")
        self.state_ch = state
        # rep > 0: the luma convs are RepConvs (expanded to `rep` channels while training, fused
        # into plain 3x3 convs for export); body convs then also carry an identity branch.
        conv = (lambda i, o, ident=False: RepConv(i, o, rep, ident)) if rep else \
            (lambda i, o, ident=False: nn.Conv2d(i, o, 3, padding=1))
        self.head = conv(4 + state // 4, channels)
        self.body = nn.ModuleList(conv(channels, channels, True) for _ in range(body))
        # v10 (issue #35): residual blocks after the body, each zero at the start (see ResBlock),
        # so a trained network grown by them keeps its function exactly.
        self.extra = nn.ModuleList(ResBlock(conv(channels, channels), conv(channels, channels))
                                   for _ in range(extra))
        self.luma = conv(channels, 16)
        self.chroma_in = nn.Conv2d(IN_CH, chroma, 3, padding=1)
        self.chroma_out = nn.Conv2d(chroma + 4 * channels, 32 + state, 1)
        for m in (self.luma, self.chroma_out):  # start at bicubic and a zero state
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, frame, prev_frame, state):
        h, w = frame.shape[2:]
        f = self.features(frame, prev_frame, state)
        luma = to_cells(self.luma(f), h, w)
        out = self.chroma_read_out(F.leaky_relu(self.chroma_in(frame - 0.5), 0.1), f)
        return torch.cat([luma, out[:, :32]], 1), torch.clamp(out[:, 32:], -1.0, 1.0)

    def chroma_read_out(self, c, f):
        """U/V residual and state (before the clamp) from the chroma features c and F."""
        return self.chroma_out(torch.cat([c, F.pixel_unshuffle(f, 2)], 1))

    def features(self, frame, prev_frame, state):
        """The luma features F at low-res luma resolution (before the read-outs)."""
        u, v = frame[:, 4:5], frame[:, 5:6]
        # One depth-to-space 2: y, previous y, U and V (nearest x2), S/4 state channels.
        x = F.pixel_shuffle(torch.cat([frame[:, :4], prev_frame[:, :4], u, u, u, u, v, v, v, v,
                                       state], 1), 2)
        x = F.leaky_relu(self.head(x - 0.5), 0.1)
        f = x
        for conv in self.body:
            f = F.leaky_relu(conv(f), 0.1)
        for block in self.extra:
            f = block(f)
        return f + x

    def scale_chroma(self, a: float) -> None:
        """Multiplies the chroma residual by `a` (luma and state unchanged)."""
        with torch.no_grad():
            self.chroma_out.weight[:32] *= a
            self.chroma_out.bias[:32] *= a

    def grid_scale(self, m: nn.Conv2d) -> float:
        """Positions a conv runs at, relative to the chroma grid."""
        return 1 if m in (self.chroma_in, self.chroma_out) else 4


class ResBlock(nn.Module):
    """f + b(leaky_relu(a(f))), EDSR's block: two 3x3 convs (plain or RepConv, no identity branch)
    whose second starts at zero (every branch of a RepConv zeroed), so the block starts as the
    identity, exactly: a network grown by it computes its source's function at step 0, and the
    zero conv still gets a gradient from the first step (its input a(f) is not zero). Exported,
    it is two convs, a LeakyRelu and an Add of two conv results, which the plugin's fast kernels
    fuse (the Add into b's epilogue)."""

    def __init__(self, a: nn.Module, b: nn.Module):
        super().__init__()
        self.a, self.b = a, b
        with torch.no_grad():
            for name in ("weight", "bias", "project", "point"):  # plain convs: weight, bias
                if hasattr(b, name):
                    getattr(b, name).zero_()

    def forward(self, f):
        return f + self.b(F.leaky_relu(self.a(f), 0.1))


def to_cells(r, h: int, w: int):
    """(N, 16, 2h, 2w): channel 4a+b = output sub-pixel (a, b) of low-res luma sample (2y+i, 2x+j)
    -> (N, 64, h, w): the contract's channel 8*(4i+a) + (4j+b) of cell (y, x)."""
    n = r.shape[0]
    return r.reshape(n, 4, 4, h, 2, w, 2).permute(0, 4, 1, 6, 2, 3, 5).reshape(n, 64, h, w)


def load(path) -> nn.Module:
    """A trained model from a checkpoint (final.pt or a training last.pt); the architecture is
    read from the tensor names and shapes."""
    s = torch.load(path, weights_only=False)
    s = s.get("model", s)
    count = lambda prefix: len({k.split(".")[1] for k in s if k.startswith(prefix + ".")})
    if "chroma_out.weight" not in s:
        raise SystemExit(f"{path}: not a PixelNet checkpoint (NtireSR, v1-v4, is retired: docs/history.md)")
    rep = s["head.expand"].shape[0] if "head.expand" in s else 0
    model = PixelNet(s["head.weight"].shape[0], count("body"), state=s["chroma_out.weight"].shape[0] - 32,
                     chroma=s["chroma_in.weight"].shape[0], rep=rep, extra=count("extra"))
    model.load_state_dict(s)
    return fuse(model).eval()  # RepConvs (if any) become the plain convs that are exported


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


def gflop(model: nn.Module, h: int = 270, w: int = 480) -> float:
    """Multiply-adds x2 per frame of h x w low-res luma."""
    cells = (h // 2) * (w // 2)
    convs = (m for m in model.modules() if isinstance(m, (nn.Conv2d, RepConv)))
    return sum(2 * m.in_channels * m.out_channels * m.kernel_size[0] * m.kernel_size[1]
               * cells * model.grid_scale(m) for m in convs) / 1e9
