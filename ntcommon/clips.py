"""Which shared clips are used for what, as the data folder's MANIFEST.md describes them.

The data folder: `data` arguments, default paths.DATA ($NTIRESR_DATA, else ../shared/data).
"""

from pathlib import Path

from .degrade import Clip, make_clip
from .paths import DATA

# MANIFEST.md "detail" column: about half resolution. They are halved (Lanczos) before use in
# training so that the truth carries real detail; in evaluation they are scored as they are.
# (D03 and D05, added to the data with the D clips, are soft by the manifest: 49 and 50 dB.)
SOFT = {"A06", "A07", "A08", "A09", "A10", "A12", "A13", "A18", "B02", "D03", "D05"}
# Pillarboxed or letterboxed clips: the picture area (ffmpeg crop=w:h:x:y). D10's bottom band
# is black with burned-in subtitles (manifest: crop=1920:880:0:0).
CROPS = {"A03": "960:720:160:0", "D10": "1920:880:0:0"}

TRAIN_QPS = (17, 22, 27, 32, 34, 37)
EVAL_QPS = (22, 27, 32, 37)


def clip_id(path: Path) -> str:
    return path.name.split("_")[0]


def train_clips(data: Path = DATA) -> list[Clip]:
    return [
        make_clip(p, CROPS.get(clip_id(p)), soft=clip_id(p) in SOFT)
        for p in sorted((data / "train").glob("*.mp4"))
    ]


def val_clips(data: Path = DATA) -> list[Clip]:
    """Validation clips at their original resolution (only the crop, to a multiple of 8)."""
    return [make_clip(p, CROPS.get(clip_id(p))) for p in sorted((data / "val").glob("*.mp4"))]
