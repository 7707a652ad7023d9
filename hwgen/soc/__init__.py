"""The tile as a drop-in for a chip (docs/design.md section 6, "The SoC wrapper"): a control/status register
block behind Wishbone B4 or AXI4-Lite, AXI4-Stream data ports, timing constraints. Wrappers around the
controller: nothing here changes its insides."""
