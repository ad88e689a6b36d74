"""Upscale a directory of recorded calls with ntiresr, one file per Dask task.

    scripts/batch [--scheduler tcp://HOST:PORT] [--workers N] IN_DIR OUT_DIR

`batch.cli` plans the run on the client (which files, which are already done, how many threads
each pipeline gets) and writes `OUT_DIR/manifest.jsonl`; `batch.worker` is the task, one
GStreamer pipeline per file, run on a Dask worker through PyGObject. `batch.worker` imports
nothing else from this package and is pickled by value, so a cluster's workers need Dask, gi
and the plugin, not this repository.
"""
