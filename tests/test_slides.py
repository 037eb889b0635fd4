"""Slides: every notebook exports as a reveal.js deck, each section starts a slide, and the decks fit the screen.

The export here uses the CDN addresses (no npm needed); tests/test_browser.py opens a deck built with the vendored
reveal.js in Chromium. `make slides` writes every deck to build/slides/.
"""
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import slides  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
#: notebooks whose slide metadata has been checked for overflow (tools/slides.py --split-tall)
FITTED = ["01_first_classifier", "03_backprop", "06_cnn_building_blocks"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_exports_to_a_deck_with_the_title_first(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    (deck,) = slides.export([path], tmp_path, local=False)
    html = deck.read_text()
    title = next(c.source.splitlines()[0][2:] for c in nb.cells if c.cell_type == "markdown")
    starts = [m.start() for m in re.finditer("<section", html)]
    first = html[:starts[2]]  # the title slide: <section><section>title</section>, up to the next slide
    assert html.count("<section") >= len(slides.slides(nb)) and "Reveal.initialize" in html
    assert title.split("·")[-1].strip().split()[0] in first, f"the title slide does not show {title!r}"
    assert "Traceback (most recent call last)" not in html


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_section_starts_a_slide(path):
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        heading = cell.source.lstrip().split("\n")[0] if cell.cell_type == "markdown" else ""
        kind = cell.metadata.get("slideshow", {}).get("slide_type")
        if heading.startswith(("# ", "## ")):
            assert kind == "slide", f"cell {i} ({heading[:40]!r}) opens a section: slide_type should be 'slide'"
        if heading.startswith("### "):
            assert kind in ("slide", "subslide"), f"cell {i} ({heading[:40]!r}): slide_type should be 'subslide'"


@pytest.mark.parametrize("stem", FITTED)
def test_no_slide_overflows(stem):
    nb = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    assert slides.tall_slides(nb) == [], "run: python tools/slides.py --split-tall notebooks/" + stem + ".ipynb"
    assert any(c.metadata.get("slideshow", {}).get("slide_type") == "fragment" for c in nb.cells)


def test_tall_slides_are_split_where_they_overflow():
    nb = nbformat.v4.new_notebook()
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    nb.cells = [md("## A\n" + "text\n" * 20), code("x\n" * 10), code("y\n" * 10), md("## B"), code("z")]
    for c, kind in zip(nb.cells, ["slide", "-", "fragment", "slide", "-"]):
        c.metadata["slideshow"] = {"slide_type": kind}
    assert [len(s) for s in slides.slides(nb)] == [3, 2]
    assert slides.tall_slides(nb) == [(0, 22 + 11 + 11)]
    assert slides.split_tall_slides(nb) == 1 and nb.cells[2].metadata["slideshow"]["slide_type"] == "subslide"
    assert slides.tall_slides(nb) == []
