"""Generators of the Rust tests' model fixtures in tests/data/ (tests/data/make-all runs them all;
tests/data/README.md says which file each makes and which are frozen). Run from the repository's
root in the training venv, e.g. `python -m tests.data.make.stride2_model tests/data/stride2.onnx`."""
