"""The student copies in student/: regenerated from notebooks/ they are identical, and each one runs top to
bottom in fast mode with every exercise unsolved (the checks say "not done yet", later cells still run).

Regenerate them with:  python tools/nbtools.py student notebooks/*.ipynb --out student/
"""
import os
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
import nbtools  # noqa: E402

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
STUDENT = REPO / "student"
REGENERATE = "python tools/nbtools.py student notebooks/*.ipynb --out student/"


def test_every_notebook_has_a_student_copy_and_no_other():
    have = {p.name for p in STUDENT.glob("*.ipynb")}
    want = {p.name for p in NOTEBOOKS}
    assert have == want, (f"student/ is out of date (missing {sorted(want - have)}, stale {sorted(have - want)}): "
                          f"run {REGENERATE}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_student_copy_is_regenerated_identically(path):
    copy = STUDENT / path.name
    assert copy.exists(), f"no student/{path.name}: run {REGENERATE}"
    assert copy.read_text(encoding="utf-8") == nbtools.student_text(path), \
        f"student/{path.name} differs from what notebooks/{path.name} gives: run {REGENERATE}"


def test_student_copies_hold_no_solution():
    for copy in sorted(STUDENT.glob("*.ipynb")):
        nb = nbformat.read(copy, as_version=4)
        for i, cell in enumerate(nb.cells):
            assert "BEGIN SOLUTION" not in cell.source, f"{copy.name} cell {i} still holds a solution"
            if "solution" in cell.metadata.get("tags", []):
                assert not cell.get("outputs"), f"{copy.name} cell {i}: a solution cell's output is kept"
            after_an_exercise = any("solution" in c.metadata.get("tags", []) for c in nb.cells[:i + 1])
            assert not (after_an_exercise and "✅" in str(cell.get("outputs", []))), \
                f"{copy.name} cell {i} shows a check's tick"


def _run_unsolved(name: str, tmp_path: Path, monkeypatch) -> None:
    """Execute student/<name> in fast mode in a scratch folder; fail on the first cell that raises."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    work = tmp_path / name
    work.mkdir()
    shutil.copy(STUDENT / name, work / name)
    nb = nbformat.read(work / name, as_version=4)
    monkeypatch.setenv("COURSE_FAST", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(work)}})
    try:
        client.execute()
    except CellExecutionError as err:
        message = re.sub(r"\x1b\[[0-9;]*m", "", str(err))   # no terminal colours in the report
        pytest.fail(f"student/{name} crashes unsolved (fast mode):\n{message[-3000:]}", pytrace=False)
    texts = ["".join(o.get("text", "")) for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    if any("solution" in c.metadata.get("tags", []) for c in nb.cells):
        assert any("not done yet" in t for t in texts), f"student/{name}: no check said 'not done yet'"


# One class per notebook: `pytest -n 2 --dist loadscope` (make test) spreads classes over the workers.
for _path in NOTEBOOKS:
    _cls = f"TestRunsUnsolved_{_path.stem}"

    def _test(self, tmp_path, monkeypatch, _name=_path.name):
        _run_unsolved(_name, tmp_path, monkeypatch)

    globals()[_cls] = type(_cls, (), {"test_runs_top_to_bottom_unsolved": _test})
del _path, _cls, _test


def test_readme_links_open_the_student_copies():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        row = next((line for line in readme.splitlines() if line.startswith("|") and path.name in line), None)
        assert row is not None, f"README.md has no row for {path.name}"
        assert f"](student/{path.name})" in row, f"README row of {path.name}: the title must link student/{path.name}"
        assert f"colab.research.google.com/github/" in row and f"/blob/main/student/{path.name})" in row, \
            f"README row of {path.name}: the Colab badge must open student/{path.name}"
        assert f"](notebooks/{path.name})" in row, f"README row of {path.name}: keep a link to the instructor version"
