"""The golden model, the simulation drivers and the `sws` command line, on top of the mapper and the RTL."""
