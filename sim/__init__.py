"""The golden model and the simulation drivers (Amaranth, Verilator, Icarus) of a plan's tile."""
