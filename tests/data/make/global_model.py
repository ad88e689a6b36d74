"""Writes a copy of an ntiresr ONNX model whose residual also gets the mean of the whole input
frame: a model that is not local, which the plugin must run on the whole frame rather than in
bands of rows (tests/bands.rs).

    python -m tests.data.make.global_model tests/data/tiny.onnx tests/data/global_mean.onnx
"""

import sys

import onnx
from onnx import helper

model = onnx.load(sys.argv[1])
graph = model.graph
for node in graph.node:
    node.output[:] = ["residual_local" if name == "residual" else name for name in node.output]
graph.node.extend([
    helper.make_node("ReduceMean", ["frame"], ["frame_mean"], axes=[1, 2, 3], keepdims=1),
    helper.make_node("Add", ["residual_local", "frame_mean"], ["residual"]),
])
onnx.checker.check_model(model)
onnx.save(model, sys.argv[2])
