"""Writes a copy of an ntiresr ONNX model whose input "state" is renamed "hidden": a model that
breaks the contract, for the plugin's error tests.

    python -m tests.data.make.wrong_model tests/data/tiny.onnx tests/data/wrong_contract.onnx
"""

import sys

import onnx

model = onnx.load(sys.argv[1])
for tensor in model.graph.input:
    if tensor.name == "state":
        tensor.name = "hidden"
for node in model.graph.node:
    node.input[:] = ["hidden" if name == "state" else name for name in node.input]
onnx.save(model, sys.argv[2])
