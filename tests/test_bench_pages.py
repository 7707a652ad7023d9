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
