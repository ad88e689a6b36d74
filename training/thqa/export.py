"""Export a thqa checkpoint to models/thqa.onnx (+ .sha256, + .sample.bin for the Rust parity test).

ONNX: opset 17, static shapes, inputs `patches` f32 [N,1,P,P] and `scale` f32 [N,1], output
`score` f32 [1,1]. Checks onnxruntime against PyTorch (<= 1e-4) and lists the op types.
sample.bin: u32 N, u32 P (LE), patches (N*P*P f32 LE), scale (N f32 LE), PyTorch's score (f32 LE);
the patches are random (seeded) patches of the first frame of a train clip, Gaussian-blurred
(sigma 1) plus Gaussian noise (sigma 0.003), scale 512/1080 (the clip's own size as display).

Usage: .venv/bin/python -m training.thqa.export [--ckpt training/thqa/cache/ckpt/last.pt] [--data DIR]
"""

import argparse
import hashlib
import json
import struct
import subprocess
import time
from pathlib import Path

import numpy as np
import torch

from ntcommon.paths import DATA, ROOT

from .dataset import CACHE, N, P
from .model import THQA, mflops, n_params

SAMPLE_CLIP = "B18_liveportrait_d0.mp4"
ALLOWED_OPS = {"Conv", "Relu", "LeakyRelu", "ReduceMean", "GlobalAveragePool", "Gemm", "MatMul",
               "Add", "Sub", "Mul", "Div", "Sqrt", "Abs", "Concat", "Sigmoid", "Constant", "Slice",
               "Log"}


def sample_input(seed: int = 7, data: Path = DATA) -> tuple[np.ndarray, np.ndarray]:
    path = data / "train" / SAMPLE_CLIP
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-frames:v", "1", "-pix_fmt", "gray",
                          "-f", "rawvideo", "-"], check=True, capture_output=True).stdout
    y = np.frombuffer(raw, np.uint8).reshape(512, 512).astype(np.float32) / 255.0
    rng = np.random.default_rng(seed)
    tops, lefts = rng.integers(0, 512 - P + 1, N), rng.integers(0, 512 - P + 1, N)
    pt = np.stack([y[t : t + P, l : l + P] for t, l in zip(tops, lefts)])[:, None]
    from scipy.ndimage import gaussian_filter

    pt = gaussian_filter(pt, (0, 0, 1.0, 1.0))
    pt = np.clip(pt + rng.normal(0, 0.003, pt.shape), 0, 1).astype(np.float32)
    return pt, np.full((N, 1), 512 / 1080, np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", type=Path, default=CACHE / "ckpt" / "last.pt")
    ap.add_argument("--out", type=Path, default=ROOT / "models" / "thqa.onnx")
    ap.add_argument("--data", type=Path, default=DATA,
                    help="the shared clips (default: $NTIRESR_DATA, else ../shared/data)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    ck = torch.load(a.ckpt, map_location="cpu")
    model = THQA.from_state(ck["model"])
    model.eval()
    patches, scale = sample_input(data=a.data)
    with torch.no_grad():
        ref = model(torch.from_numpy(patches), torch.from_numpy(scale)).numpy()
    torch.onnx.export(model, (torch.from_numpy(patches), torch.from_numpy(scale)), str(a.out),
                      input_names=["patches", "scale"], output_names=["score"], opset_version=17,
                      dynamo=False, do_constant_folding=True)
    import onnx
    import onnxruntime as ort

    m = onnx.load(str(a.out))
    onnx.checker.check_model(m)
    ops = sorted({n.op_type for n in m.graph.node})
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in
              list(m.graph.input) + list(m.graph.output)}
    extra = set(ops) - ALLOWED_OPS
    if extra:
        raise SystemExit(f"ops outside the allowed set: {sorted(extra)}")
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(a.out), so, providers=["CPUExecutionProvider"])
    got = sess.run(["score"], {"patches": patches, "scale": scale})[0]
    diff = float(np.abs(got - ref).max())
    if got.shape != (1, 1) or diff > 1e-4:
        raise SystemExit(f"onnxruntime mismatch: shape {got.shape}, max diff {diff}")
    t = time.perf_counter()
    for _ in range(200):
        sess.run(["score"], {"patches": patches, "scale": scale})
    ms = (time.perf_counter() - t) / 200 * 1000
    with open(a.out.with_suffix(".sample.bin"), "wb") as f:
        f.write(struct.pack("<II", N, P))
        f.write(patches.astype("<f4").tobytes())
        f.write(scale.astype("<f4").tobytes())
        f.write(ref.astype("<f4").reshape(-1).tobytes())
    digest = hashlib.sha256(a.out.read_bytes()).hexdigest()
    (a.out.parent / (a.out.name + ".sha256")).write_text(f"{digest}  {a.out.name}\n")
    info = {"onnx": str(a.out), "sha256": digest, "inputs_outputs": shapes, "ops": ops,
            "torch_score": float(ref[0, 0]), "ort_max_abs_diff": diff, "ort_ms_per_frame_1thread": ms,
            "params": n_params(model), **mflops(N, P), "ckpt_step": ck.get("step"), "seed": ck.get("seed")}
    print(json.dumps(info, indent=1))


if __name__ == "__main__":
    main()
