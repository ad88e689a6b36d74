"""Export a trained checkpoint to the ONNX contract of models/README.md, with a parity sample.

    python -m training.export training/runs/v9/calibrated.pt models/ntiresr.onnx

Besides the .onnx it writes <name>.sample.bin: a small stored input (two steps from an empty state)
and the outputs PyTorch gave, which the Rust parity test replays through tract.
"""

import argparse
import hashlib
import struct
from pathlib import Path

import torch
from torch import nn

from .deploy import deployable
from .model import IN_CH, load

INPUTS = ["frame", "prev_frame", "state"]
OUTPUTS = ["residual", "state_out"]


def export(model: nn.Module, out: Path) -> None:
    model.eval()
    h, w = 10, 14
    args = (torch.rand(1, IN_CH, h, w), torch.rand(1, IN_CH, h, w), torch.zeros(1, model.state_ch, h, w))
    dyn = {n: {2: "h", 3: "w"} for n in INPUTS + OUTPUTS}
    torch.onnx.export(model, args, str(out), input_names=INPUTS, output_names=OUTPUTS,
                      dynamic_axes=dyn, opset_version=17, dynamo=False)


def write_sample(model: nn.Module, out: Path, h: int = 6, w: int = 10, seed: int = 7) -> None:
    """Two recurrent steps on random frames: [u32 h, w, state_ch] then every tensor as f32 LE."""
    g = torch.Generator().manual_seed(seed)
    f0, f1 = (torch.rand(1, IN_CH, h, w, generator=g) for _ in range(2))
    s0 = torch.zeros(1, model.state_ch, h, w)
    with torch.no_grad():
        r0, s1 = model(f0, f0, s0)
        r1, s2 = model(f1, f0, s1)
    with open(out, "wb") as fh:
        fh.write(struct.pack("<3I", h, w, model.state_ch))
        for t in (f0, f1, r0, s1, r1, s2):
            fh.write(t.contiguous().numpy().astype("<f4").tobytes())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("out", type=Path)
    a = ap.parse_args()
    torch.manual_seed(0)  # the export's trace inputs
    model = load(a.checkpoint)  # architecture read from the checkpoint
    # The graph is the deployable rearrangement; the parity sample comes from the trained
    # network itself, so the Rust parity test checks the rearrangement too.
    export(deployable(model), a.out)
    write_sample(model, a.out.with_suffix(".sample.bin"))
    print(a.out, hashlib.sha256(a.out.read_bytes()).hexdigest())


if __name__ == "__main__":
    main()
