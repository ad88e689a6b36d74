"""Writes a copy of an ntiresr ONNX model whose residual is multiplied by a constant; 0 gives a
model whose output is the plain bicubic upscale (tests/faults.rs compares the fallback with it).

    python -m tests.data.make.scaled_model tests/data/tiny.onnx 0 tests/data/zero_residual.onnx
"""

import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

model = onnx.load(sys.argv[1])
factor = float(sys.argv[2])
graph = model.graph
for node in graph.node:
    node.output[:] = ["residual_unscaled" if name == "residual" else name for name in node.output]
graph.initializer.append(numpy_helper.from_array(np.array(factor, dtype=np.float32), "factor"))
graph.node.append(helper.make_node("Mul", ["residual_unscaled", "factor"], ["residual"]))
onnx.checker.check_model(model)
onnx.save(model, sys.argv[3])
