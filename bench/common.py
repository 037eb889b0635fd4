"""Shared helpers of the benchmarks: timing, medians, machine info, a table, JSON results."""
from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
sys.path.insert(0, str(REPO))  # `import course_utils` without installing it
# Optional packages that are not course dependencies (e.g. lightning), installed with pip --target elsewhere.
for _site in filter(None, os.environ.get("BENCH_EXTRA_SITE", "").split(os.pathsep)):
    sys.path.append(_site)  # appended: the venv's torch always wins


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}  # cpu: this process's CPU time, all threads


def timed(fn, clock: str = "wall") -> float:
    """Seconds that fn() takes on `clock` ("wall", or "cpu": robust to other busy processes with 1 thread)."""
    now = CLOCKS[clock]
    t0 = now()
    fn()
    return now() - t0


def add_cpu_options(parser) -> None:
    """--threads and --clock, for timing on a CPU that other processes share."""
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice, all cores); "
                        "use 1 on a busy machine, where threads that wait for each other stall")
    parser.add_argument("--clock", choices=list(CLOCKS), default="wall",
                        help="wall (default) or cpu = this process's CPU time (use with --threads 1 on a busy machine)")


def apply_cpu_options(args) -> None:
    """Set torch's thread count from --threads."""
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)


def median(values) -> float:
    """The median of a non-empty list of numbers."""
    return statistics.median(values)


def cpu_model() -> str:
    """The CPU's model name, from /proc/cpuinfo on Linux, else platform."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    """Where and when the numbers were taken: CPU, cores, load, torch, GPU, date."""
    import torch

    info = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    return info


def busy_warning(info: dict) -> str | None:
    """A warning line when other processes were busy (the 1-min load average exceeds the cores)."""
    load, cores = info.get("load_average_1min"), info.get("cpu_cores") or 1
    if load is not None and load > cores:
        return (f"WARNING: load average {load} > {cores} cores: other processes share the CPU and timings are "
                "inflated; for meaningful ratios use --threads 1 --clock cpu.")
    return None


def print_table(rows: list[dict], columns: list[str]) -> None:
    """Print rows (dicts) as an aligned plain-text table; floats with 4 significant digits (or 12,345)."""
    def cell(v):
        if isinstance(v, float):
            return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"
        return "" if v is None else str(v)

    text = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(t[i]) for t in text)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    print("  ".join("-" * w for w in widths))
    for t in text:
        print("  ".join(v.ljust(w) for v, w in zip(t, widths)))


def write_json(name: str, payload: dict, machine: dict | None = None) -> Path:
    """Write bench/results/<name>.json with the machine info first, atomically; return the path."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"machine": machine or machine_info(), **payload}, indent=2, default=str) + "\n")
    tmp.replace(path)
    print(f"\nwrote {path.relative_to(REPO)}")
    return path


def describe(info: dict) -> str:
    """One line about the machine, printed above every table."""
    gpu = f", {info['gpu']}" if info.get("gpu") else ""
    return (f"{info['cpu']} ({info['cpu_cores']} cores, torch threads {info['torch_threads']}, "
            f"load {info['load_average_1min']}){gpu}; torch {info['torch']}; {info['date']}")
