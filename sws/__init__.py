"""The `sws` command line and the experiments (sweep, fidelity, plots) on top of mapper, hwgen and sim."""
