"""The quality and speed benchmark of ntiresr against bicubic, Lanczos and the peers (README.md here).

Run from the repository's root: `python -m bench.benchmark` (scripts/benchmark does it in the venv
that scripts/bench-python owns)."""
