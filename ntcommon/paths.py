"""The repository's root, and the folders outside it that the benchmark and the training read.

    NTIRESR_DATA   the shared clips (train/, val/, MANIFEST.md); default ../shared/data
    NTIRESR_PEERS  the peer models of the benchmark; default ../shared/peers

(both relative to the repository's root). The variables are read once, on import; the entry
points' --data and --peers flags override them for one run.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _from_env(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value) if value else default


DATA = _from_env("NTIRESR_DATA", ROOT.parent / "shared" / "data")
PEERS = _from_env("NTIRESR_PEERS", ROOT.parent / "shared" / "peers")
# Where `cargo build --release` puts libgstntiresr.so.
PLUGIN_PATH = ROOT / "target" / "release"
