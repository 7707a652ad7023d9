"""Amaranth RTL generation for SWS crossbar controllers: components, Verilog emission, synthesis."""
