"""What the benchmark (bench/) and the training (training/) share: the repository's folders and
the data and peers folders (paths), which shared clips serve what (clips), the Track 2
degradation (degrade), and the ntiresr element's gst-launch-1.0 pipeline (gst)."""
