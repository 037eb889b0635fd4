"""Every notebook follows the course conventions (see tools/nbtools.py)."""
import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
SLIDE_TYPES = {"slide", "subslide", "fragment", "-", "skip", "notes"}
MACHINE_PATH = re.compile(r"(/root/|/tmp/|/work/|/home/\w+/|/Users/\w+/|[A-Z]:\\\\Users)")


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found in notebooks/"


@pytest.fixture(params=NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def nb(request):
    return json.loads(request.param.read_text())


def test_first_cell_is_colab_setup(nb):
    first = "".join(nb["cells"][0]["source"])
    assert nb["cells"][0]["cell_type"] == "code"
    assert '"google.colab" in sys.modules' in first and "setup(" in first
    pip_args = first.split('"install"')[1].split("check=True")[0]
    assert not re.search(r"[\"' ]torch(vision|audio)?[\"'=<> ]", pip_args), "the Colab cell must never (re)install torch"


def test_every_cell_has_slide_metadata(nb):
    for i, cell in enumerate(nb["cells"]):
        assert cell["metadata"].get("slideshow", {}).get("slide_type") in SLIDE_TYPES, f"cell {i}"


def test_has_title(nb):
    first_md = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    assert "".join(first_md["source"]).startswith("# ")


def test_outputs_from_one_clean_in_order_run(nb):
    counts = [c["execution_count"] for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(isinstance(n, int) for n in counts), "every code cell must have been run (commit a full run)"
    assert counts == list(range(1, len(counts) + 1)), "outputs must come from one restart-and-run-all"


def test_no_errors_or_machine_paths_in_outputs(nb):
    for i, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"cell {i} has a stored error"
            text = "".join(out.get("text", "")) + "".join(
                "".join(v) for k, v in out.get("data", {}).items() if k.startswith("text/"))
            m = MACHINE_PATH.search(text)
            assert not m, f"cell {i} output shows a machine path: {text[max(0, m.start() - 30):m.end() + 30]!r}"


def test_full_mode_outputs_committed(nb):
    first_out = "".join("".join(o.get("text", "")) for o in nb["cells"][0].get("outputs", []))
    assert "mode: full" in first_out, "commit the outputs of a full-mode run (tools/nbtools.py execute)"


def test_solutions_are_marked(nb):
    for cell in nb["cells"]:
        if "solution" in cell["metadata"].get("tags", []):
            src = "".join(cell["source"])
            assert "### BEGIN SOLUTION" in src and "### END SOLUTION" in src


def test_header_says_what_full_and_fast_mode_run_and_what_a_gpu_changes(nb):
    first_md = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    lines = [line for line in "".join(first_md["source"]).splitlines() if line.startswith("**Modes:**")]
    assert len(lines) == 1, ('the first markdown cell needs one line starting with "**Modes:**" that says what full '
                             'and fast mode run and what a GPU changes')
    words = lines[0].lower()
    assert "full" in words and "fast" in words and "gpu" in words, f"the **Modes:** line must name full, fast and GPU: {lines[0]!r}"
