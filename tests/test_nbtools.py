"""The notebook tools: building with conventions, student copies."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import nbtools  # noqa: E402


def test_new_notebook_starts_with_colab_cell_and_has_slide_metadata():
    nb = nbtools.new_notebook([nbtools.md("# Title", "slide"), nbtools.code("x = 1")], title="t")
    assert nb.cells[0].source == nbtools.COLAB_CELL
    assert all(c.metadata["slideshow"]["slide_type"] for c in nb.cells)


def test_student_copy_removes_solutions_only():
    sol = nbtools.code("def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION", tags=["solution"])
    sol.outputs = [{"output_type": "stream", "name": "stdout", "text": "secret"}]
    keep = nbtools.code("print('### BEGIN SOLUTION stays in untagged cells')")
    nb = nbtools.new_notebook([sol, keep], title="t")
    student = nbtools.student_copy(nb)
    assert student.cells[1].source == "def f(x):\n    ...  # YOUR CODE HERE"
    assert student.cells[1].outputs == []
    assert student.cells[2].source == keep.source
    assert "return 2 * x" in nb.cells[1].source  # the original is untouched
