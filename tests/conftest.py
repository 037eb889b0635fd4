"""Shared fixtures: a tiny classification problem that trains in well under a second."""
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from course_utils.data import TensorLoader


@pytest.fixture
def tiny_data():
    """Two Gaussian blobs in 8-D: (train loader, val loader)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 8, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    train = TensorLoader(TensorDataset(x[:192], y[:192]), batch_size=32, shuffle=True)
    val = TensorLoader(TensorDataset(x[192:], y[192:]), batch_size=64, shuffle=False)
    return train, val


@pytest.fixture
def tiny_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))


def pytest_terminal_summary(terminalreporter):
    """Print what the real-browser tests measured (Run All time, what rendered, each widget's redraw times)."""
    rows = []
    for report in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", []):
        props = dict(getattr(report, "user_properties", []))
        if report.when == "call" and "browser_run_all_s" in props:
            rows.append((report.nodeid.split("::")[1].removeprefix("TestNotebook_"), props))
    if not rows:
        return
    terminalreporter.section("real-browser tests: Run All and widget redraw times (s)")
    for name, props in sorted(rows):
        c = props["browser_counts"]
        terminalreporter.line(f"{name}: Run All {props['browser_run_all_s']} s, {c['cells']} cells, {c['images']} "
                              f"images, {c['widgets']} widget views, {c['interactive']} interactive widgets")
        by_control: dict[tuple[str, str], list[float]] = {}
        for widget, control, seconds in props["browser_redraws"]:
            by_control.setdefault((widget, control), []).append(seconds)
        for (widget, control), times in by_control.items():
            terminalreporter.line(f"    {widget} {control}: " + ", ".join(f"{t:.2f}" for t in times))
