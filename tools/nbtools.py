"""Tools for the course's notebooks: build one from cells, execute them, make student copies.

    python tools/nbtools.py execute notebooks/01_first_classifier.ipynb        # full run, outputs saved in place
    python tools/nbtools.py execute --fast notebooks/*.ipynb                   # fast mode, outputs saved in place
    python tools/nbtools.py student notebooks/*.ipynb --out student/           # solutions removed

Conventions every notebook follows (tests/test_notebooks_lint.py checks them):
- cell 0 is COLAB_CELL (installs course_utils on Colab only, then setup() prints device and mode);
- every cell has metadata.slideshow.slide_type; the first markdown cell starts with "# " (the title);
- an exercise's solution cell is tagged "solution"; the student copy keeps only the code outside
  "### BEGIN SOLUTION" / "### END SOLUTION" and puts `...` in between.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from course_utils.config import REPO_SLUG  # noqa: E402

COLAB_CELL = f'''# Works on Colab too: there, install the course helpers (Colab's own torch is kept).
import sys
if "google.colab" in sys.modules:
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "course-utils @ git+https://github.com/{REPO_SLUG}"], check=True)

from course_utils import setup
device = setup()  # seeds everything, picks CUDA / MPS / CPU, prints versions and full/fast mode'''


def md(text: str, slide: str = "-") -> nbformat.NotebookNode:
    """A markdown cell; slide is one of slide, subslide, fragment, -, skip, notes."""
    return nbformat.v4.new_markdown_cell(text.strip("\n"), metadata={"slideshow": {"slide_type": slide}})


def code(src: str, slide: str = "-", tags: list[str] | None = None) -> nbformat.NotebookNode:
    """A code cell with slide metadata (and tags such as 'solution')."""
    meta = {"slideshow": {"slide_type": slide}}
    if tags:
        meta["tags"] = list(tags)
    return nbformat.v4.new_code_cell(src.strip("\n"), metadata=meta)


def new_notebook(cells: list, title: str) -> nbformat.NotebookNode:
    """A notebook: the Colab/setup cell first, then `cells`; Python 3 kernel; slides-ready."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [code(COLAB_CELL, slide="skip")] + list(cells)
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "title": title,
        "colab": {"provenance": []},
    }
    return nb


def execute(path: Path, fast: bool, timeout: int = 1800) -> float:
    """Run a notebook top to bottom in notebooks/ and save it with its outputs; return seconds taken."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env_before = os.environ.get("COURSE_FAST")
    os.environ["COURSE_FAST"] = "1" if fast else "0"
    t0 = time.perf_counter()
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        if env_before is None:
            os.environ.pop("COURSE_FAST", None)
        else:
            os.environ["COURSE_FAST"] = env_before
    _drop_stale_widget_text(nb)
    nbformat.write(nb, path)
    return time.perf_counter() - t0


def _drop_stale_widget_text(nb: nbformat.NotebookNode) -> None:
    """Widget outputs (progress bars) keep the text of their first frame ("0%|"); keep only the widget view."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "application/vnd.jupyter.widget-view+json" in data:
                data.pop("text/plain", None)


SOLUTION = re.compile(r"### BEGIN SOLUTION.*?### END SOLUTION", re.S)


def student_copy(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy without solutions and without outputs of solution cells."""
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if "solution" in cell.metadata.get("tags", []):
            cell.source = SOLUTION.sub("...  # YOUR CODE HERE", cell.source)
            cell.outputs, cell.execution_count = [], None
    return nb


def main() -> None:
    """Command line: execute or student."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("execute", help="run notebooks and save their outputs")
    e.add_argument("--fast", action="store_true", help="COURSE_FAST=1 (tiny data, few steps)")
    e.add_argument("paths", nargs="+", type=Path)
    s = sub.add_parser("student", help="write student copies with the solutions removed")
    s.add_argument("paths", nargs="+", type=Path)
    s.add_argument("--out", type=Path, default=REPO / "student")
    args = p.parse_args()
    for path in args.paths:
        if args.cmd == "execute":
            print(f"{path.name}: {execute(path, args.fast):.0f} s ({'fast' if args.fast else 'full'} mode)")
        else:
            args.out.mkdir(parents=True, exist_ok=True)
            nbformat.write(student_copy(nbformat.read(path, as_version=4)), args.out / path.name)
            print(f"wrote {args.out / path.name}")


if __name__ == "__main__":
    main()
