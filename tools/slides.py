"""Export notebooks as reveal.js slide decks that work offline: `python tools/slides.py notebooks/*.ipynb`.

nbconvert's slides load reveal.js, require.js, jQuery, MathJax and the widget renderer from CDNs by default, so a deck opened
without the internet shows raw text. Here they come from the npm registry once (`npm pack`, pinned versions
below) into OUT/vendor/, and every deck points at that folder with relative paths: OUT can be copied or
opened from disk (file://) as it is. Without npm, the decks keep the CDN addresses (and say so).

Each slide scrolls when its content is taller than the screen (reveal_scroll), so long outputs stay readable.
(In JupyterLab, jupyterlab-rise presents the open notebook as slides with the same cell metadata.)
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "build" / "slides"
#: npm package -> folder under vendor/ (versions as nbconvert 7's slides template expects: reveal.js 4)
VENDOR = {"reveal.js@4.0.2": "reveal.js", "requirejs@2.3.7": "requirejs", "jquery@3.7.1": "jquery",
          "mathjax@2.7.9": "mathjax", "@jupyter-widgets/html-manager@1.0.7": "html-manager"}


def vendor(out: Path) -> bool:
    """Unpack the pinned npm packages into out/vendor (once); False when npm is not available."""
    target = out / "vendor"
    if all((target / name / "package.json").exists() for name in VENDOR.values()):
        return True
    npm = shutil.which("npm")
    if npm is None:
        return False
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([npm, "pack", "--silent", *VENDOR], cwd=tmp, check=True, capture_output=True, timeout=300)
        for spec, name in VENDOR.items():
            pkg, version = spec.rsplit("@", 1)
            tgz = Path(tmp) / f"{pkg.replace('/', '-').lstrip('@')}-{version}.tgz"
            shutil.rmtree(target / name, ignore_errors=True)
            with tarfile.open(tgz) as tar:
                tar.extractall(Path(tmp) / name, filter="data")
            shutil.move(str(Path(tmp) / name / "package"), target / name)
    return True


def exporter(local: bool):
    """nbconvert's SlidesExporter pointed at vendor/ (local=True) or at the CDNs, with scrolling slides."""
    from nbconvert import SlidesExporter

    ex = SlidesExporter(reveal_scroll=True, reveal_theme="white", reveal_transition="none")
    if local:
        ex.reveal_url_prefix = "vendor/reveal.js"
        ex.require_js_url = "vendor/requirejs/require.js"
        ex.jquery_url = "vendor/jquery/dist/jquery.min.js"
        ex.mathjax_url = "vendor/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"
        ex.widget_renderer_url = "vendor/html-manager/dist/embed-amd.js"  # saved widget states render too
    return ex


def export(notebooks: list[Path], out: Path = DEFAULT_OUT, local: bool | None = None) -> list[Path]:
    """Write out/NAME.slides.html for each notebook; local=None vendors the assets when npm is there."""
    out.mkdir(parents=True, exist_ok=True)
    if local is None:
        local = vendor(out)
        if not local:
            print("npm not found: the decks load reveal.js from the internet (install Node.js and npm for offline "
                  "decks)")
    ex, written = exporter(local), []
    for path in notebooks:
        body, _ = ex.from_filename(str(path))
        dest = out / f"{Path(path).stem}.slides.html"
        dest.write_text(body, encoding="utf-8")
        written.append(dest)
    return written


#: a slide is about 700 px high: some 36 lines of text or code; a figure takes about 18
SLIDE_LINES, FIGURE_LINES = 36, 18


def cell_lines(cell) -> int:
    """About how many lines a cell takes on a slide (its source, its text outputs, its figures)."""
    lines = cell.source.count("\n") + 1 if cell.source.strip() else 0
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            lines += out.get("text", "").count("\n")
        data = out.get("data", {})
        if "image/png" in data or "image/jpeg" in data or "application/vnd.jupyter.widget-view+json" in data:
            lines += FIGURE_LINES
        elif "text/plain" in data and out.get("output_type") == "execute_result":
            lines += data["text/plain"].count("\n") + 1
    return lines


def slides(nb) -> list[list[int]]:
    """The cells of each slide and subslide (fragments stay on their slide; skipped cells and notes are left out)."""
    decks: list[list[int]] = []
    for i, cell in enumerate(nb.cells):
        kind = cell.metadata.get("slideshow", {}).get("slide_type", "-")
        if kind in ("skip", "notes"):
            continue
        if kind in ("slide", "subslide") or not decks:
            decks.append([])
        decks[-1].append(i)
    return decks


def tall_slides(nb, limit: int = SLIDE_LINES) -> list[tuple[int, int]]:
    """(first cell, lines) of each slide taller than `limit` lines that a new subslide could split."""
    return [(cells[0], total) for cells in slides(nb)
            if (total := sum(cell_lines(nb.cells[i]) for i in cells)) > limit and len(cells) > 1]


def split_tall_slides(nb, limit: int = SLIDE_LINES) -> int:
    """Start a new subslide at the cell where a slide grows past `limit` lines; returns how many were split."""
    split = 0
    for cells in slides(nb):
        total = 0
        for k, i in enumerate(cells):
            lines = cell_lines(nb.cells[i])
            if k and total + lines > limit:
                nb.cells[i].metadata.setdefault("slideshow", {})["slide_type"] = "subslide"
                split, total = split + 1, 0
            total += lines
    return split


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--split-tall", action="store_true",
                        help="instead of exporting, start a new subslide where a slide would overflow (edits the "
                             "notebooks' slide metadata in place)")
    args = parser.parse_args(argv)
    if args.split_tall:
        import nbformat

        for path in args.notebooks:
            nb = nbformat.read(path, as_version=4)
            if (n := split_tall_slides(nb)):
                nbformat.write(nb, path)
            print(f"{path}: {n} new subslides")
        return
    for dest in export(args.notebooks, args.out):
        print(dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest)


if __name__ == "__main__":
    sys.exit(main())
