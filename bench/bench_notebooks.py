"""Time to execute every notebook in fast mode (COURSE_FAST=1), and optionally the whole test command.

    python bench/bench_notebooks.py                        # every notebooks/*.ipynb, one after the other
    python bench/bench_notebooks.py notebooks/03_backprop.ipynb
    python bench/bench_notebooks.py --quick                # smoke run: only the notebook with the fewest code cells
    python bench/bench_notebooks.py --with-test-command    # also `make test` (unit tests + nbval, 2 workers)

Notebooks run top to bottom with nbclient in a fresh kernel, from notebooks/ (as tools/nbtools.py does), and
are not saved. Reported per notebook: wall seconds and CPU seconds of the kernel (the latter is less
sensitive to other busy processes), and whether it ran without error. Targets: < 90 s per notebook in fast
mode, < 20 minutes for the test command.
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, busy_warning, describe, machine_info, print_table, write_json  # noqa: E402

NOTEBOOK_TARGET_S = 90
TEST_COMMAND_TARGET_S = 20 * 60


def children_cpu() -> float:
    """CPU seconds (user + system) used so far by finished child processes (kernels, make)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_notebook(path: Path, timeout: int) -> dict:
    """Execute one notebook in fast mode without saving it; return seconds and status."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    cpu0, t0 = children_cpu(), time.perf_counter()
    status = "ok"
    try:
        client.execute(stderr=subprocess.DEVNULL)  # a fresh kernel (its own stderr muted), every cell, shut down
    except (CellExecutionError, CellTimeoutError) as err:
        status = "error: " + re.sub(r"\x1b\[[0-9;]*m", "", str(err).strip().splitlines()[-1])[:100]
    wall = time.perf_counter() - t0
    return {"notebook": path.name, "code_cells": sum(c.cell_type == "code" for c in nb.cells),
            "wall_s": wall, "kernel_cpu_s": children_cpu() - cpu0, "status": status,
            "within_target": status == "ok" and wall < NOTEBOOK_TARGET_S}


def run_test_command(command: str, env: dict) -> dict:
    """Run the test command (default `make test`) from the repository root; return seconds and exit status."""
    cpu0, t0 = children_cpu(), time.perf_counter()
    proc = subprocess.run(command, shell=True, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or [""]
    return {"command": command, "wall_s": wall, "cpu_s": children_cpu() - cpu0, "returncode": proc.returncode,
            "last_line": tail[0][:200], "within_target": proc.returncode == 0 and wall < TEST_COMMAND_TARGET_S}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    p.add_argument("--quick", action="store_true", help="only the notebook with the fewest code cells")
    p.add_argument("--timeout", type=int, default=600, help="seconds per cell before giving up (default 600)")
    p.add_argument("--threads", type=int, help="OMP_NUM_THREADS for the kernels (default: unset, all cores)")
    p.add_argument("--with-test-command", action="store_true", help="also time the whole test command")
    p.add_argument("--test-command", default="make test", help="what --with-test-command runs (default: make test)")
    args = p.parse_args()

    import nbformat

    paths = [q.resolve() for q in args.notebooks] or sorted((REPO / "notebooks").glob("*.ipynb"))
    if args.quick:
        paths = [min(paths, key=lambda q: sum(c.cell_type == "code" for c in nbformat.read(q, 4).cells))]
    env_before = dict(os.environ)  # for the test command, which sets its own
    os.environ["COURSE_FAST"] = "1"  # the kernels inherit the environment
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)

    info = machine_info()
    print(describe(info))
    if busy_warning(info):
        print(busy_warning(info).replace("use --threads 1 --clock cpu", "compare kernel_cpu_s"))
    print(f"{len(paths)} notebook(s), fast mode (COURSE_FAST=1), target < {NOTEBOOK_TARGET_S} s each\n")

    rows = []
    for path in paths:
        print(f"running {path.name} ...", flush=True)
        rows.append(run_notebook(path, args.timeout))
    print()
    print_table(rows, ["notebook", "code_cells", "wall_s", "kernel_cpu_s", "status", "within_target"])

    test = None
    if args.with_test_command:
        print(f"\nrunning `{args.test_command}` (target < {TEST_COMMAND_TARGET_S // 60} min) ...", flush=True)
        test = run_test_command(args.test_command, env_before)
        print(f"`{test['command']}`: {test['wall_s']:.0f} s wall, {test['cpu_s']:.0f} s CPU, "
              f"exit status {test['returncode']}; last line: {test['last_line']}")

    write_json("bench_notebooks", {"args": {**vars(args), "notebooks": [q.name for q in paths]},
                                   "target_s": NOTEBOOK_TARGET_S, "notebooks": rows, "test_command": test}, info)
    failed = any(not r["status"] == "ok" for r in rows) or (test is not None and test["returncode"] != 0)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
