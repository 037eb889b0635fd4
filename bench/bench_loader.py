"""The in-memory TensorLoader against DataLoader(TensorDataset), batch sizes 64 and 256 (CPU).

    python bench/bench_loader.py            # about a minute on an idle 2-core machine
    python bench/bench_loader.py --quick    # smoke run

Both loaders shuffle the offline MNIST training split (3,500 images, 28x28x1) every epoch.
  iterate: only `for x, y in loader: pass` (what the loader itself costs);
  train:   one epoch of a tiny MLP (784-64-10, Adam) with the same loop for both loaders.
Each measurement is rotated between the loaders in every round (so a busy neighbour slows both alike);
reported: median images/s, and the median over rounds of time(DataLoader) / time(TensorLoader).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (add_cpu_options, apply_cpu_options, busy_warning, describe, machine_info, median,  # noqa: E402
                    print_table, timed, write_json)

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from bench_fit import load_data, tiny_mlp  # noqa: E402
from course_utils.data import TensorLoader  # noqa: E402

TARGET = 1.4  # TensorLoader at least 1.4x DataLoader when training the MLP at batch size 256
LOADERS = {
    "TensorLoader": lambda ds, bs: TensorLoader(ds, batch_size=bs, shuffle=True),
    "DataLoader": lambda ds, bs: DataLoader(ds, batch_size=bs, shuffle=True),
}


def iterate(loader, epochs: int) -> None:
    """Draw every batch, do nothing with it."""
    for _ in range(epochs):
        for _x, _y in loader:
            pass


def train(loader, epochs: int) -> None:
    """Train a freshly seeded tiny MLP for `epochs` epochs over `loader`."""
    torch.manual_seed(0)
    model, loss_fn = tiny_mlp(), nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        for x, y in loader:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


TASKS = {"iterate": iterate, "train": train}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: 3 rounds, 1 epoch per measurement")
    p.add_argument("--runs", type=int, help="rounds (default 9, quick 3)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256])
    add_cpu_options(p)
    args = p.parse_args()
    apply_cpu_options(args)
    runs = args.runs or (3 if args.quick else 9)
    epochs = {"iterate": 1 if args.quick else 10, "train": 1 if args.quick else 3}

    info = machine_info()
    print(describe(info))
    if busy_warning(info):
        print(busy_warning(info))
    dataset = load_data(limit=None).train
    n = len(dataset)
    print(f"{n} training images (1, 28, 28); {runs} rounds after one warm-up; {args.clock} clock\n")

    rows = []
    for bs in args.batch_sizes:
        loaders = {name: make(dataset, bs) for name, make in LOADERS.items()}
        for task, fn in TASKS.items():
            for loader in loaders.values():  # warm-up
                fn(loader, 1)
            times = {name: [] for name in loaders}
            for r in range(runs):
                for name in (list(loaders) if r % 2 == 0 else list(loaders)[::-1]):
                    times[name].append(timed(lambda: fn(loaders[name], epochs[task]), args.clock))
            speedup = median([d / t for d, t in zip(times["DataLoader"], times["TensorLoader"])])
            for name in loaders:
                rows.append({"task": task, "batch_size": bs, "loader": name,
                             "images_per_s": n * epochs[task] / median(times[name]),
                             "speedup_vs_DataLoader": speedup if name == "TensorLoader" else 1.0,
                             "runs_s": [round(t, 4) for t in times[name]]})
    print_table(rows, ["task", "batch_size", "loader", "images_per_s", "speedup_vs_DataLoader"])

    checks = []
    for row in rows:
        if row["task"] == "train" and row["batch_size"] == 256 and row["loader"] == "TensorLoader":
            s = row["speedup_vs_DataLoader"]
            checks.append(f"train MLP, batch 256: TensorLoader / DataLoader = {s:.2f}x (target >= {TARGET}x) "
                          f"{'OK' if s >= TARGET else 'MISSED'}")
    print("\n" + "\n".join(checks))
    write_json("bench_loader", {"args": vars(args), "epochs_per_measurement": epochs, "runs": runs,
                                "images": n, "rows": rows, "checks": checks}, info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
