"""Training, export and evaluation of the ntiresr network; training/thqa/ is the thqa element's.

Run from the repository's root as modules, e.g. `python -m training.train`, `python -m
training.export` (training/reproduce runs them all)."""
