"""The stage configs (training/configs/*.toml) are the command lines that training/reproduce ran
before it read them: each parses to exactly those options, and reproduce runs each of them.

    python -m pytest training/test_configs.py
"""

import re
import shlex
from pathlib import Path

import pytest

from .train import parse_args

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "training" / "configs"

# The train.py command lines of training/reproduce at 4dc9563 (v10's from its comment: the run
# started with it), copied verbatim: the reference the configs must reproduce. v6 ran with the
# script's default of 85 minutes.
REFERENCE = {
    "v6": """--arch pixel --channels 16 --body 5 --rep 64 --lr 1e-3
        --frames 360 --seed 2028 --minutes 85 --out training/runs/v6""",
    "v9": """--arch pixel --channels 16 --body 5 --rep 64 --lr 2e-4
        --frames 120 --seed 2028 --minutes 38 --threads 1 --init-from training/runs/v6/final.pt
        --msssim 0.03 --vmaf 0.001 --vmaf-neg 0.002 --fft 0.1 --out training/runs/v9""",
    "v10": """--arch pixel --channels 16 --body 5 --rep 64
        --extra 1 --init-from training/checkpoints/v9-last.pt --lr 3e-4 --warmup 200 --frames 360
        --seq 8 --batch 8 --seed 2035 --minutes 600 --threads 1 --msssim 0.03 --vmaf 0.001
        --vmaf-neg 0.002 --fft 0.1 --ema 0.999 --out training/runs/v10""",
    "x-perc1": """--arch pixel --channels 16 --body 5 --rep 64 --lr 2e-4
        --frames 120 --seed 2028 --minutes 30 --threads 1 --init-from training/runs/v6/final.pt
        --msssim 0.1 --vmaf 0.005 --vmaf-neg 0.005 --fft 0.5 --out training/runs/x-perc1""",
    "detail": """--arch pixel --channels 16 --body 5 --rep 64 --lr 2e-4
        --frames 120 --seed 2029 --minutes 60 --threads 1 --init-from training/runs/x-perc1/final.pt
        --msssim 0.1 --vmaf 0.003 --vmaf-neg 0.01 --fft 0.5 --out training/runs/detail""",
    "x-every": """--arch pixel --channels 16 --body 5 --rep 64 --lr 1e-4
        --frames 120 --seed 2031 --minutes 95 --threads 1 --init-from training/runs/detail/final.pt
        --msssim 0.1 --vmaf 0.003 --vmaf-neg 0.01 --fft 0.5 --seq 6 --batch 4 --perceptual-every
        --temporal 0.5 --ema 0.999 --out training/runs/x-every""",
}


def options(argv: list[str]) -> dict:
    return vars(parse_args(argv))


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_config_is_the_reference_command_line(name):
    expected = options(shlex.split(REFERENCE[name]))
    got = options(["--config", str(CONFIGS / f"{name}.toml")])
    got.pop("config")
    expected.pop("config")
    assert got == expected


def test_every_config_is_a_reference():
    assert sorted(p.stem for p in CONFIGS.glob("*.toml")) == sorted(REFERENCE)


def test_the_command_line_overrides_the_config():
    base = options(["--config", str(CONFIGS / "x-every.toml")])
    got = options(["--config", str(CONFIGS / "x-every.toml"), "--minutes", "5", "--seed", "7",
                   "--no-perceptual-every", "--out", "elsewhere"])
    assert (got["minutes"], got["seed"], got["perceptual_every"], str(got["out"])) == (5.0, 7, False, "elsewhere")
    assert {k: v for k, v in got.items() if k not in ("minutes", "seed", "perceptual_every", "out")} == \
        {k: v for k, v in base.items() if k not in ("minutes", "seed", "perceptual_every", "out")}


def test_a_config_key_train_py_lacks_is_refused(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('out = "x"\nlearning-rate = 1e-3\n')
    with pytest.raises(SystemExit, match="learning-rate"):
        parse_args(["--config", str(bad)])


def test_a_config_value_of_the_wrong_type_is_refused(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('lr = "fast"\n')
    with pytest.raises(SystemExit):
        parse_args(["--config", str(bad)])
    assert "--lr" in capsys.readouterr().err


def test_reproduce_trains_every_stage_from_its_config():
    """Each train.py command of training/reproduce (v10's commented out, as it is not shipped) is
    `--config training/configs/<stage>.toml` with no other option than v6's --minutes."""
    text = (ROOT / "training" / "reproduce").read_text().replace("\\\n", " ")
    runs = {}
    for line in text.splitlines():
        m = re.search(r"-m training\.train (.*?)(>>|$)", line)
        if m:
            argv = shlex.split(m.group(1))
            assert argv[:1] == ["--config"], line
            runs[Path(argv[1]).stem] = argv[2:]
            assert argv[1] == f"training/configs/{Path(argv[1]).stem}.toml"
    assert sorted(runs) == sorted(REFERENCE)
    assert runs.pop("v6") == ["--minutes", "$minutes"]
    assert all(extra == [] for extra in runs.values())
