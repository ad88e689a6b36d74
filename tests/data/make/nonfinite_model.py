"""Writes a copy of an ntiresr ONNX model whose residual is non-finite wherever a cell's first
luma sample is below 64 (log(y - 0.25) * (y - y), which no optimiser folds to 0) and unchanged
elsewhere: it loads (the load check runs it on grey), and a dark frame then gives non-finite
output (tests/faults.rs).

    python -m tests.data.make.nonfinite_model tests/data/tiny.onnx tests/data/nonfinite.onnx
"""

import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

model = onnx.load(sys.argv[1])
graph = model.graph
for node in graph.node:
    node.output[:] = ["residual_finite" if name == "residual" else name for name in node.output]
consts = {"quarter": 0.25}
for name, value in consts.items():
    graph.initializer.append(numpy_helper.from_array(np.array(value, dtype=np.float32), name))
graph.initializer.append(numpy_helper.from_array(np.array([0], dtype=np.int64), "first"))
graph.initializer.append(numpy_helper.from_array(np.array([1], dtype=np.int64), "second"))
graph.initializer.append(numpy_helper.from_array(np.array([1], dtype=np.int64), "channels"))
graph.node.extend([
    helper.make_node("Slice", ["frame", "first", "second", "channels"], ["luma0"]),
    helper.make_node("Sub", ["luma0", "quarter"], ["shifted"]),
    helper.make_node("Log", ["shifted"], ["log"]),
    helper.make_node("Sub", ["luma0", "luma0"], ["zero"]),
    helper.make_node("Mul", ["log", "zero"], ["poison"]),
    helper.make_node("Add", ["residual_finite", "poison"], ["residual"]),
])
onnx.checker.check_model(model)
onnx.save(model, sys.argv[2])
