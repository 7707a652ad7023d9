"""What drives each output of an Amaranth design: read from Amaranth's own netlist (NIR), not from a simulation.

`netlist(top)` builds a `wiring.Component`'s netlist once. `drivers(netlist)` gives, for each output port, the
kinds of netlist cell that drive its bits (`"FlipFlop"`, `"SyncReadPort"` for a synchronous memory read,
`"const"`, `"input"` for an input port's own bits, or a logic cell such as `"Operator"` or `"AssignmentList"`).
`combinational_inputs(netlist)` gives, for each output port, the input ports that reach it through logic alone
(no flip-flop or synchronous read on the way; a flip-flop's clock does not count; a design with an `Instance`,
whose paths Amaranth cannot see, is refused). Both read Amaranth 0.5's internal `_ir.build_netlist` and `_nir`
cells (`comb_edges_to` is the relation Amaranth's own combinational-loop check walks), so the tests that use
them first try them on a hand-made design whose answers are known (tests/hwgen/test_registered_outputs.py).
"""

from __future__ import annotations

from amaranth.hdl import _ast, _ir
from amaranth.lib import wiring

#: Cells whose output is a register: a flip-flop's Q, or the data of a synchronous memory read.
REGISTERS = frozenset({"FlipFlop", "SyncReadPort"})


def netlist(top: wiring.Component):
    """Amaranth's netlist of `top`, its ports those of its signature, named as `amaranth.back.rtlil.convert`
    names them."""
    ports = {}
    for path, member, value in top.signature.flatten(top):
        if isinstance(value, _ast.ValueCastable):
            value = value.as_value()
        flow = _ir.PortDirection.Input if member.flow == wiring.In else _ir.PortDirection.Output
        ports["__".join(map(str, path))] = (value, flow)
    return _ir.build_netlist(_ir.Fragment.get(top, None), ports, name="top")


def drivers(netlist) -> dict[str, set[str]]:
    """{output port: kinds of cell driving its bits} (Verilog port names: `bus__adc__0__start`)."""
    out = {}
    for name, value in netlist.cells[0].ports_o.items():
        out[name] = {"const" if net.is_const else "input" if net.cell == 0
                     else type(netlist.cells[net.cell]).__name__ for net in value}
    return out


def combinational_inputs(netlist) -> dict[str, set[str]]:
    """{output port: the input ports with a path to it through logic only}; ports with none are left out."""
    boxes = [cell for cell in netlist.cells if type(cell).__name__ == "Instance"]
    if boxes:
        raise ValueError(f"{len(boxes)} instances (black boxes) hide their paths: check the design without them")
    names = {}
    for name, (start, width) in netlist.cells[0].ports_i.items():
        for bit in range(start, start + width):
            names[bit] = name
    cones = {}

    def cone(net) -> frozenset:
        # Depth-first with an explicit stack (a design's logic can be thousands of cells deep).
        stack = [net]
        while stack:
            n = stack[-1]
            if n.is_const or n in cones:
                stack.pop()
                continue
            if n.cell == 0:
                cones[n] = frozenset({names[n.bit]})
                stack.pop()
                continue
            sources = [s for s, _ in netlist.cells[n.cell].comb_edges_to(n.bit)]
            todo = [s for s in sources if not s.is_const and s not in cones]
            if todo:
                stack.extend(todo)
                continue
            cones[n] = frozenset().union(*(cones.get(s, frozenset()) for s in sources))
            stack.pop()
        return cones.get(net, frozenset())

    out = {}
    for name, value in netlist.cells[0].ports_o.items():
        reach = set().union(*(cone(net) for net in value)) - {"clk"}
        if reach:
            out[name] = reach
    return out
