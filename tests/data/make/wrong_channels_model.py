"""Writes a copy of an ntiresr ONNX model whose output keeps only its first C channels: the
likeliest mistake in a retrained model, for the plugin's error tests (tests/faults.rs).

    python -m tests.data.make.wrong_channels_model tests/data/tiny.onnx residual 48 \
        tests/data/wrong_residual.onnx
    python -m tests.data.make.wrong_channels_model tests/data/tiny.onnx state_out 8 \
        tests/data/wrong_state_out.onnx --undeclared

With --undeclared the output's channel dimension is left symbolic, so only running the model
shows the wrong count.
"""

import argparse

import numpy as np
import onnx
from onnx import helper, numpy_helper

ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("output", choices=["residual", "state_out"])
ap.add_argument("channels", type=int)
ap.add_argument("out")
ap.add_argument("--undeclared", action="store_true")
args = ap.parse_args()

model = onnx.load(args.model)
graph = model.graph
full = f"{args.output}_full"
for node in graph.node:
    node.output[:] = [full if name == args.output else name for name in node.output]
for name, value in [("cut_starts", 0), ("cut_ends", args.channels), ("cut_axes", 1)]:
    graph.initializer.append(numpy_helper.from_array(np.array([value], dtype=np.int64), name))
graph.node.append(helper.make_node(
    "Slice", [full, "cut_starts", "cut_ends", "cut_axes"], [args.output]))
for tensor in graph.output:
    if tensor.name == args.output:
        dim = tensor.type.tensor_type.shape.dim[1]
        if args.undeclared:
            dim.dim_param = "c"
        else:
            dim.dim_value = args.channels
onnx.checker.check_model(model)
onnx.save(model, args.out)
