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


def _out(text):
    return [{"output_type": "stream", "name": "stdout", "text": text}]


def test_student_copy_keeps_top_level_names_as_placeholders():
    sol = nbtools.code("sizes = None  # a list\n### BEGIN SOLUTION\nsizes = [64, 32]\nn, m = 1, 2\n### END SOLUTION\nsizes",
                       tags=["solution"])
    student = nbtools.student_copy(nbtools.new_notebook([sol], title="t"))
    assert student.cells[1].source == "sizes = None  # a list\nn = ...  # YOUR CODE HERE\nm = ...  # YOUR CODE HERE\nsizes"
    call = nbtools.code("x = 1\n### BEGIN SOLUTION\nfreeze(model)\n### END SOLUTION", tags=["solution"])
    assert nbtools.student_copy(nbtools.new_notebook([call], title="t")).cells[1].source == "x = 1\n...  # YOUR CODE HERE"


def test_student_copy_clears_checks_and_cells_that_depend_on_a_solution():
    before = nbtools.code("check_same(a, b)\nimport numpy as np\ndata = np.arange(3)")
    before.outputs = _out("✅ the demo check before any exercise stays")
    sol = nbtools.code("def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION", tags=["solution"])
    check = nbtools.code("# NBVAL_CHECK_OUTPUT\nok = check_function(f, lambda x: 2 * x, [(1,)])")
    uses = nbtools.code("y = f(data)\nprint(y)")
    uses_later = nbtools.code("print(y + 1)")
    rebinds = nbtools.code("y = 3\nprint(y)")
    independent = nbtools.code("print(data.sum())")
    local = nbtools.code("def g(f):\n    return f(1)\nprint([f for f in range(2)])")
    cells = [before, sol, check, uses, uses_later, rebinds, independent, local]
    for c in cells[1:]:
        c.outputs = _out("some output")
        c.execution_count = 1
    student = nbtools.student_copy(nbtools.new_notebook(cells, title="t")).cells[1:]
    kept = [bool(c.outputs) for c in student]
    assert kept == [True, False, False, False, False, True, True, True]
    assert student[2].source == "ok = check_function(f, lambda x: 2 * x, [(1,)])"   # CI-only marker dropped
    assert student[2].execution_count is None


def test_student_copy_clears_a_tick_anywhere_after_the_first_exercise():
    sol = nbtools.code("### BEGIN SOLUTION\nanswer = 4\n### END SOLUTION", tags=["solution"])
    verdict = nbtools.code("report()")
    verdict.outputs = _out("✅ answer: correct!")
    student = nbtools.student_copy(nbtools.new_notebook([sol, verdict], title="t"))
    assert student.cells[1].source == "answer = ...  # YOUR CODE HERE" and student.cells[2].outputs == []


def test_student_copy_keeps_the_signature_of_a_function_defined_in_a_top_level_block():
    sol = nbtools.code('### BEGIN SOLUTION\ndef double(x: int, k=2) -> int:\n    """Twice x."""\n    return k * x\n'
                       '### END SOLUTION\nok = check_function(double, lambda x: 2 * x, [(1,)])', tags=["solution"])
    student = nbtools.student_copy(nbtools.new_notebook([sol], title="t")).cells[1].source
    assert student == ("def double(x: int, k=2) -> int:\n    ...  # YOUR CODE HERE\n"
                       "ok = check_function(double, lambda x: 2 * x, [(1,)])")
    namespace = {"check_function": lambda f, *a: f(1)}
    exec(student, namespace)                      # the student copy still runs
    assert namespace["ok"] is None
