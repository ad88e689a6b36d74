"""tests/data/make-all remakes every generated fixture byte for byte: the generators are the
committed files' sources (the frozen ones, tests/data/README.md, excepted).

    python -m pytest tests/data/make
"""

import os
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent
FROZEN = {"tiny.onnx", "tiny.sample.bin"}


def test_make_all_remakes_every_generated_fixture(tmp_path):
    env = dict(os.environ, PYTHON=sys.executable)
    subprocess.run([str(DATA / "make-all"), str(tmp_path)], check=True, env=env, capture_output=True)
    made = {p.name for p in tmp_path.iterdir()}
    committed = {p.name for p in DATA.iterdir() if p.is_file() and p.suffix in (".onnx", ".bin")}
    assert made == committed - FROZEN
    for name in sorted(made):
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name
