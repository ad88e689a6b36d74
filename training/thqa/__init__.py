"""The thqa quality model: dataset, training, ONNX export and evaluation (models/thqa.md).

Run from the repository's root as modules, e.g. `python -m training.thqa.train` (training/thqa/reproduce
runs them all)."""
