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


SOLUTION = re.compile(r"^([ \t]*)### BEGIN SOLUTION.*?### END SOLUTION[^\n]*", re.S | re.M)
PLACEHOLDER = "...  # YOUR CODE HERE"


def _python(src: str) -> str:
    """A cell's source as plain Python (IPython magics and shell lines turned into calls)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(src)


def _parse(src: str):
    """The cell's syntax tree, or None if it is not Python."""
    import ast

    try:
        return ast.parse(_python(src))
    except SyntaxError:
        return None


def _assigned(tree) -> list[str]:
    """Names assigned by the top-level statements of `tree`, in order (x = ..., x: int = ..., x += ...)."""
    import ast

    names: list[str] = []
    for stmt in tree.body:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else (
            [stmt.target] if isinstance(stmt, (ast.AnnAssign, ast.AugAssign)) else [])
        for t in targets:
            for n in ast.walk(t):
                if isinstance(n, ast.Name) and n.id not in names:
                    names.append(n.id)
    return names


_SCOPES = ("FunctionDef", "AsyncFunctionDef", "Lambda", "ClassDef", "ListComp", "SetComp", "DictComp", "GeneratorExp")


def _names(node, ctx: str) -> set[str]:
    """Names stored (ctx "Store") or read (ctx "Load") by `node` in the cell's own (module) scope.

    Nested scopes (functions, lambdas, classes, comprehensions) bind only their own locals; what they read
    from outside counts as read: the names read there that they do not bind themselves."""
    import ast

    found: set[str] = set()

    def visit(n) -> None:
        kind = type(n).__name__
        if kind in _SCOPES:
            if ctx == "Store" and kind in ("FunctionDef", "AsyncFunctionDef", "ClassDef"):
                found.add(n.name)
            if ctx == "Load":
                inner = {m.id for m in ast.walk(n) if isinstance(m, ast.Name) and isinstance(m.ctx, ast.Store)}
                inner |= {a.arg for m in ast.walk(n) if isinstance(m, ast.arguments)
                          for a in m.posonlyargs + m.args + m.kwonlyargs + [m.vararg, m.kwarg] if a is not None}
                found.update(m.id for m in ast.walk(n) if isinstance(m, ast.Name) and isinstance(m.ctx, ast.Load)
                             and m.id not in inner)
            return
        if isinstance(n, ast.Name) and type(n.ctx).__name__ == ctx:
            found.add(n.id)
        elif isinstance(n, ast.alias) and ctx == "Store":
            found.add((n.asname or n.name).split(".")[0])
        for child in ast.iter_child_nodes(n):
            visit(child)

    visit(node)
    return found


def _bound(tree) -> set[str]:
    """Every name a cell binds in its own scope: assignments, defs, classes, imports, loop and with targets."""
    return set().union(*(_names(stmt, "Store") for stmt in tree.body))


def _follow(tree, tainted: set[str]) -> tuple[bool, set[str]]:
    """Run the names of one cell through `tainted` (names whose value comes from a solution), statement by
    statement: a statement that reads a tainted name (one it has not bound itself first) taints what it binds,
    any other statement un-taints what it binds. Returns (did the cell read a tainted name, the new set)."""
    import ast

    tainted, depends = set(tainted), False
    for stmt in tree.body:
        stores = _names(stmt, "Store")
        own = stores if isinstance(stmt, (ast.For, ast.AsyncFor, ast.With, ast.AsyncWith)) else set()
        if (_names(stmt, "Load") - own) & tainted:
            depends = True
            tainted |= stores
        else:
            tainted -= stores
    return depends, tainted


def _calls_a_check(tree) -> bool:
    """Does the cell call an exercise check (a function whose name starts with check_)?"""
    import ast

    for n in ast.walk(tree):
        if isinstance(n, ast.Call):
            name = n.func.id if isinstance(n.func, ast.Name) else getattr(n.func, "attr", "")
            if name.startswith("check_"):
                return True
    return False


def _blank(match: re.Match, before: str) -> str:
    """What replaces one solution block: `...`; in a top-level block, `name = ...` for each name it assigns and
    the signature of each function it defines with `...` as the body (so that the names the rest of the notebook
    uses still exist, and a check reports "not done yet")."""
    import ast
    import textwrap

    indent, block = match.group(1), match.group(0)
    if indent:
        return indent + PLACEHOLDER
    tree = _parse(textwrap.dedent(block))
    if tree is None:
        return PLACEHOLDER
    already = _bound(_parse(before)) if _parse(before) else set()
    lines = []
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            stub = type(stmt)(**{**{f: getattr(stmt, f) for f in stmt._fields}, "body": [ast.Expr(ast.Constant(...))]})
            lines.append(ast.unparse(ast.fix_missing_locations(stub)).replace("\n    ...", "\n    " + PLACEHOLDER))
    names = [n for n in _assigned(tree) if n not in already]
    lines += [f"{n} = {PLACEHOLDER}" for n in names]
    return "\n".join(lines) or PLACEHOLDER


def _strip_solutions(src: str) -> str:
    """The source with each ### BEGIN SOLUTION ... ### END SOLUTION block blanked."""
    out, pos = [], 0
    for m in SOLUTION.finditer(src):
        out.append(src[pos:m.start()])
        out.append(_blank(m, src[:m.start()]))
        pos = m.end()
    return "".join(out) + src[pos:]


def _gives_away(cell) -> bool:
    """An output that shows an exercise's verdict (a check's tick)."""
    for out in cell.get("outputs", []):
        text = "".join(out.get("text", "")) + "".join("".join(v) for k, v in out.get("data", {}).items()
                                                      if k.startswith("text/"))
        if "✅" in text:
            return True
    return False


def student_copy(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The copy a student opens: every solution replaced by `...`, and no output that gives an answer away.

    Cleared: the outputs of solution cells, of check cells (they call a check_* function or show a tick),
    and of every later cell that depends on a solution (reads a name, before binding it, that a solution cell
    or a cell that depends on one binds). Other outputs (plots, tables, training runs before the first exercise) stay,
    so a student can read the notebook before running it. `# NBVAL_CHECK_OUTPUT` lines (CI only) are dropped.
    """
    nb = nbformat.from_dict(nb)
    tainted: set[str] = set()
    after_first_exercise = False
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tree = _parse(cell.source)
        is_solution = "solution" in cell.metadata.get("tags", [])
        after_first_exercise |= is_solution
        depends = False
        if is_solution:
            tainted |= _bound(tree) if tree is not None else set()
            cell.source = _strip_solutions(cell.source)
        elif tree is not None:
            depends, tainted = _follow(tree, tainted)
        check = after_first_exercise and (_gives_away(cell) or (tree is not None and _calls_a_check(tree)))
        if is_solution or depends or check:
            cell.outputs, cell.execution_count = [], None
        cell.source = re.sub(r"\A# NBVAL_CHECK_OUTPUT\n+", "", cell.source)
    return nb


def student_text(path: Path) -> str:
    """The student copy of the notebook at `path`, as the text written to student/."""
    return nbformat.writes(student_copy(nbformat.read(path, as_version=4))) + "\n"


def write_student_copies(paths: list[Path], out: Path) -> list[Path]:
    """Write the student copy of each notebook into `out`; return the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        target = out / path.name
        target.write_text(student_text(path), encoding="utf-8")
        written.append(target)
    return written


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
            print(f"wrote {write_student_copies([path], args.out)[0]}")


if __name__ == "__main__":
    main()
