"""One training loop for CPU, CUDA and Apple MPS: `fit`, `evaluate`, `predict`, checkpoints.

Start with `run_epoch`: its steps 1-5 are the plain PyTorch loop (forward, loss,
zero_grad, backward, step). `fit` calls it once per epoch and adds the book-keeping
a course needs: validation after each epoch, a history, early stopping,
checkpoints, and clear errors.
"""
from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from torch import nn

from .history import History

Batch = tuple  # (inputs, targets) or whatever a custom step_fn understands
StepFn = Callable[[nn.Module, Batch], "torch.Tensor | dict[str, torch.Tensor]"]


# ---------------------------------------------------------------- helpers
def accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Fraction of rows whose largest output is the target class (a 0-d tensor, no host sync)."""
    if outputs.ndim != 2 or outputs.shape[1] < 2 or targets.shape != outputs.shape[:1]:
        raise ValueError(f"accuracy needs class scores shaped (N, classes) and labels shaped (N,), got outputs "
                         f"{tuple(outputs.shape)} and targets {tuple(targets.shape)}: for a single-output model "
                         "pass metrics={} or your own metric function")
    return (outputs.argmax(dim=1) == targets).float().mean()


METRICS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {"accuracy": accuracy}


def to_device(batch, device: torch.device):
    """Move a tensor, or lists/tuples/dicts of tensors (detection targets), to `device`."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def model_device(model: nn.Module) -> torch.device:
    """The one device that holds all of the model's parameters (error if they are spread out)."""
    devices = {p.device for p in model.parameters()}
    if not devices:
        return torch.device("cpu")
    if len(devices) > 1:
        raise ValueError(f"model has parameters on several devices {sorted(map(str, devices))}: "
                         "call model.to(device) first")
    return devices.pop()


def _check_data(name: str, data, device: torch.device, pairs: bool = True) -> None:
    """Clear errors for data that is not an iterable of batches, an empty dataset, or a loader on the wrong device.
    pairs: the batches must be (inputs, targets) (no custom step_fn)."""
    fix = (f"pass {name} as an iterable of (inputs, targets) batches, e.g. "
           "TensorLoader(TensorDataset(X, y), batch_size=64) or a torch DataLoader")
    if pairs and isinstance(data, torch.Tensor):
        raise TypeError(f"{name} is a single tensor {tuple(data.shape)}, not an iterable of batches: {fix}")
    if pairs and isinstance(data, (list, tuple)) and data and all(isinstance(v, torch.Tensor) for v in data):
        raise TypeError(f"{name} is a {type(data).__name__} of {len(data)} tensors (shapes "
                        f"{[tuple(v.shape) for v in data]}), not an iterable of batches: {fix}")
    if pairs and isinstance(data, torch.utils.data.Dataset) and not isinstance(data, torch.utils.data.IterableDataset):
        raise TypeError(f"{name} is a {type(data).__name__} (single examples, no batches): {fix}")
    try:
        iter(data)
    except TypeError:
        raise TypeError(f"{name} is a {type(data).__name__}, which cannot be iterated: {fix}") from None
    try:
        n = len(data)
    except TypeError:
        return  # an iterable without a length: nothing to check
    if n == 0:
        raise ValueError(f"{name} is empty (0 batches): check the dataset and batch_size")
    loader_device = getattr(data, "device", None)
    if loader_device is not None and torch.device(loader_device).type != device.type:
        raise ValueError(f"{name} holds its data on {loader_device} but the model is on {device}: "
                         f"make the loader with device={str(device)!r} or move the model with model.to(...)")


def _unpack_batch(batch, data_name: str):
    """(inputs, targets) from a batch, or a clear error saying what the data gave instead."""
    if isinstance(batch, (list, tuple)) and len(batch) == 2:
        return batch
    what = (f"a {type(batch).__name__} of {len(batch)} items" if isinstance(batch, (list, tuple, dict))
            else f"a {type(batch).__name__}" + (f" shaped {tuple(batch.shape)}" if isinstance(batch, torch.Tensor) else ""))
    raise ValueError(f"each batch of {data_name} must be a pair (inputs, targets), but the first one is {what}: "
                     "pass a loader of (x, y) batches, e.g. TensorLoader(TensorDataset(X, y), batch_size=64), "
                     "or a step_fn(model, batch) that computes the loss")


def _metric_fns(metrics) -> dict:
    """metrics as a dict name -> fn: names are looked up in METRICS (a clear error lists the known ones)."""
    if isinstance(metrics, dict):
        return dict(metrics)
    if isinstance(metrics, str):
        metrics = (metrics,)
    unknown = [k for k in metrics if k not in METRICS]
    if unknown:
        raise ValueError(f"metrics: unknown name(s) {unknown}; the known names are {sorted(METRICS)}. "
                         "For another metric pass a dict, e.g. metrics={'f1': my_f1}, with my_f1(outputs, targets) "
                         "returning a number")
    return {k: METRICS[k] for k in metrics}


def _check_optimizer(optimizer, model: nn.Module) -> None:
    """A clear error for an optimizer that holds none of the model's parameters (it would train nothing)."""
    if not hasattr(optimizer, "param_groups"):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}: "
                        "e.g. optimizer=torch.optim.SGD(model.parameters(), lr=0.1)")
    mine = {id(p) for p in model.parameters()}
    theirs = [p for group in optimizer.param_groups for p in group["params"]]
    if theirs and mine and not any(id(p) in mine for p in theirs):
        raise ValueError("optimizer holds none of this model's parameters (it was built on another model, or on "
                         "an earlier instance before the model was re-created), so training would change nothing: "
                         "build it after the model, from this model, e.g. "
                         "optimizer=torch.optim.SGD(model.parameters(), lr=0.1)")


def _finish_bar(bar) -> None:
    """Early stopping ends a run before the bar's total: make the total what was done, so it closes as finished."""
    bar.total = bar.n
    container = getattr(bar, "container", None)  # tqdm.notebook's widget: (text, progress, text)
    if container is not None:
        container.children[1].max = max(bar.n, 1)
    bar.refresh()


def _check_loss(loss: torch.Tensor) -> None:
    """Clear errors for a loss that is not a scalar (checked on the first batch only)."""
    if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
        shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
        raise ValueError(f"loss_fn returned {shape}, not a scalar: use reduction='mean' "
                         f"(e.g. nn.CrossEntropyLoss()) or add .mean()")


def _loss_or_explain(loss_fn, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Call loss_fn; if the targets have the wrong shape or dtype, say so in plain words."""
    try:
        return loss_fn(outputs, targets)
    except (RuntimeError, ValueError, IndexError) as err:
        hint = ""
        if isinstance(loss_fn, nn.CrossEntropyLoss):
            hint = ("nn.CrossEntropyLoss wants outputs of shape (N, classes) and targets of class indices, "
                    "shape (N,) and dtype torch.long (use y.long().view(-1)), or probabilities shaped like the outputs. ")
        raise ValueError(f"loss_fn failed on outputs {tuple(outputs.shape)} {outputs.dtype} and targets (labels) "
                         f"{tuple(targets.shape)} {targets.dtype}. {hint}Original error: {err}") from None


def _autocast(device: torch.device, amp: bool):
    """bf16 autocast when `amp` is on, on CUDA or the CPU (so CI runs a GPU user's code path); otherwise
    (amp off, or another device such as MPS) a no-op context."""
    if amp and device.type in ("cuda", "cpu"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()  # cheaper per step than a disabled autocast


def _accumulate(sums: dict, name: str, value: torch.Tensor, n: int) -> None:
    """sums[name] += value * n, in place on the device (no host sync)."""
    if name in sums:
        sums[name].add_(value.float(), alpha=n)
    else:
        sums[name] = value.float() * n


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (where live plots and widget progress bars work)."""
    try:
        from IPython import get_ipython

        return get_ipython() is not None and "IPKernelApp" in get_ipython().config
    except ImportError:
        return False


# ---------------------------------------------------------------- one epoch
def run_epoch(model: nn.Module, data: Iterable, loss_fn, device: torch.device, *,
              optimizer: torch.optim.Optimizer | None = None, metrics: dict | None = None,
              step_fn: StepFn | None = None, clip_grad_norm: float | None = None, amp: bool = False,
              channels_last: bool = False, scheduler=None, epoch: int = 0, progress=None,
              check_every: int = 1, data_name: str = "data") -> dict[str, float]:
    """Train (if an optimizer is given) or evaluate for one pass over `data`; return mean loss and metrics."""
    training = optimizer is not None
    model.train(training)
    metrics = metrics or {}
    sums: dict[str, torch.Tensor] = {}  # running sums stay on the device: no host sync per step
    count = 0
    with torch.set_grad_enabled(training):
        for step, batch in enumerate(data, start=1):
            batch = to_device(batch, device)
            with _autocast(device, amp):
                if step_fn is None:
                    # 1. forward pass  2. loss
                    x, y = _unpack_batch(batch, data_name) if step == 1 else batch
                    if channels_last and x.ndim == 4:
                        x = x.contiguous(memory_format=torch.channels_last)
                    outputs = model(x)
                    loss = _loss_or_explain(loss_fn, outputs, y) if step == 1 else loss_fn(outputs, y)
                    parts = {"loss": loss}
                else:
                    out = step_fn(model, batch)
                    parts = out if isinstance(out, dict) else {"loss": out}
                    if "loss" not in parts:  # a dict of losses (torchvision detection): train on the sum
                        parts = {**parts, "loss": sum(parts.values())}
                    loss, outputs, y = parts["loss"], None, None
            if step == 1:
                _check_loss(loss)
            if training:
                # 3. clear old gradients  4. backward pass  5. update the parameters
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if clip_grad_norm is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
                optimizer.step()
                if scheduler is not None:  # a per-step schedule (e.g. OneCycleLR)
                    scheduler.step()
            n = len(y) if y is not None else 1
            count += n
            for name, value in parts.items():
                _accumulate(sums, name, value.detach(), n)
            if outputs is not None:
                for name, fn in metrics.items():
                    _accumulate(sums, name, fn(outputs.detach(), y), n)
            if step % check_every == 0 or step == 1:
                value = loss.item()  # the one host sync, every `check_every` steps
                if not math.isfinite(value):
                    raise FloatingPointError(
                        f"The loss became {value} at epoch {epoch}, step {step} (or a few steps before). "
                        "Training diverged: try a lower learning rate (e.g. 10x smaller), "
                        "gradient clipping (clip_grad_norm=1.0), or check the inputs for NaN.")
                if progress is not None:
                    progress.set_postfix(loss=f"{value:.4f}", refresh=False)
            if progress is not None:
                progress.update(1)
    if count == 0:
        raise ValueError("the data gave no batches: check the dataset and batch_size")
    return {name: (total / count).item() for name, total in sums.items()}


# ---------------------------------------------------------------- checkpoints
def save_checkpoint(path: str | os.PathLike, model: nn.Module, optimizer=None, scheduler=None,
                    epoch: int = 0, history: History | None = None, **extra) -> Path:
    """Write a checkpoint (a plain dict) atomically: to a temporary file first, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "epoch": epoch,
        "history": history.to_dict() if history is not None else None,
        "torch_rng": torch.get_rng_state(),
        **extra,
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # atomic: a crash mid-write never leaves a half-written checkpoint at `path`
    return path


def load_checkpoint(path: str | os.PathLike, model: nn.Module, optimizer=None, scheduler=None,
                    map_location=None) -> dict:
    """Restore a checkpoint into model (and optimizer, scheduler); return the dict. Never unpickles code."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}: check the path (train with checkpoint_path=... first)")
    state = torch.load(path, map_location=map_location or model_device(model), weights_only=True)
    model.load_state_dict(state["model"])
    if optimizer is not None and state.get("optimizer") is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    return state


# ---------------------------------------------------------------- fit
def fit(model: nn.Module, train_data: Iterable, val_data: Iterable | None = None, *, epochs: int,
        optimizer: torch.optim.Optimizer | None = None, loss_fn: Callable | None = None,
        metrics: Iterable[str] | dict = ("accuracy",), scheduler=None, scheduler_per_step: bool = False,
        early_stopping: int | None = None, monitor: str = "val_loss", clip_grad_norm: float | None = None,
        amp: bool | None = None, channels_last: bool | None = None, step_fn: StepFn | None = None,
        checkpoint_path: str | os.PathLike | None = None, resume: bool = False,
        live_plot: bool | None = None, progress: bool = True, verbose: bool = True) -> History:
    """Train `model` for `epochs` epochs, validating after each one; return the History.

    optimizer: defaults to Adam(lr=1e-3). loss_fn: defaults to nn.CrossEntropyLoss().
    metrics: names from METRICS or a dict name -> fn(outputs, targets).
    scheduler: stepped once per epoch (with the monitored value if it is ReduceLROnPlateau),
        or once per batch if scheduler_per_step=True (OneCycleLR).
    early_stopping: stop after this many epochs without improvement of `monitor` (ties do not count as
        improvement); the best weights are then restored. Without it, the model keeps the last epoch's weights.
    monitor: a logged name such as "val_loss" or "val_accuracy" (losses: lower is better); with no val_data,
        "val_x" means "train_x".
    amp / channels_last: default on for CUDA (bf16 autocast, NHWC memory layout), off elsewhere.
    step_fn(model, batch) -> loss or dict of losses: replaces forward+loss (e.g. torchvision detection models).
    checkpoint_path: save after every epoch; with resume=True continue from it if it exists.
    Pressing Stop (KeyboardInterrupt) ends training cleanly and keeps the best weights.
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    device = model_device(model)
    _check_data("train_data", train_data, device, pairs=step_fn is None)
    if val_data is not None:
        _check_data("val_data", val_data, device, pairs=step_fn is None)
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=1e-3)
    _check_optimizer(optimizer, model)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    metric_fns = _metric_fns(metrics)
    amp = device.type == "cuda" if amp is None else amp
    channels_last = device.type == "cuda" if channels_last is None else channels_last
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if monitor.startswith("val_") and val_data is None:
        monitor = monitor.replace("val_", "train_", 1)
    higher_is_better = not monitor.endswith("loss")

    history, start_epoch = History(monitor=monitor), 1
    if resume and checkpoint_path is not None and Path(checkpoint_path).exists():
        state = load_checkpoint(checkpoint_path, model, optimizer, scheduler)
        history = History.from_dict(state["history"]) if state.get("history") else history
        torch.set_rng_state(state["torch_rng"])
        start_epoch = state["epoch"] + 1
        if verbose:
            print(f"Resumed from {Path(checkpoint_path).name} after epoch {state['epoch']}")

    best_value, best_state, bad_epochs = history.best_value(higher_is_better), None, 0
    interrupted = False
    plotter = history.live_plot() if (live_plot if live_plot is not None else _in_notebook()) else None
    check_every = 1 if device.type == "cpu" else 25  # a host sync is free on CPU, costly on a GPU
    bar = None
    if progress:  # one bar for the whole run: a notebook keeps one tidy output, not one bar per epoch
        from tqdm.auto import tqdm

        steps = _len_or_none(train_data)
        bar = tqdm(total=steps * (epochs - start_epoch + 1) if steps else None, unit="batch")
    try:
        for epoch in range(start_epoch, epochs + 1):
            t0 = time.perf_counter()
            if bar is not None:
                bar.set_description(f"epoch {epoch}/{epochs}")
            train_stats = run_epoch(model, train_data, loss_fn, device, optimizer=optimizer, metrics=metric_fns,
                                    step_fn=step_fn, clip_grad_norm=clip_grad_norm, amp=amp,
                                    channels_last=channels_last, epoch=epoch, progress=bar,
                                    scheduler=scheduler if scheduler_per_step else None, check_every=check_every,
                                    data_name="train_data")
            row = {"epoch": epoch, **{f"train_{k}": v for k, v in train_stats.items()}}
            if val_data is not None:
                val_stats = evaluate(model, val_data, loss_fn, metrics=metric_fns, step_fn=step_fn,
                                     amp=amp, channels_last=channels_last, data_name="val_data")
                row.update({f"val_{k}": v for k, v in val_stats.items()})
            row["lr"] = optimizer.param_groups[0]["lr"]
            row["seconds"] = time.perf_counter() - t0
            if monitor not in row:
                raise ValueError(f"monitor={monitor!r} is not among the logged values {sorted(row)}")
            if scheduler is not None and not scheduler_per_step:
                if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                    scheduler.step(row[monitor])  # it needs the monitored value
                else:
                    scheduler.step()
            history.append(row)

            value = row[monitor]
            improved = best_value is None or (value > best_value if higher_is_better else value < best_value)
            if improved:
                best_value, bad_epochs = value, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                bad_epochs += 1
            if checkpoint_path is not None:
                save_checkpoint(checkpoint_path, model, optimizer, scheduler, epoch, history)
            if plotter is not None:
                plotter.update()
            elif verbose:
                print(history.format_row(row))
            if early_stopping is not None and bad_epochs >= early_stopping:
                if verbose:
                    print(f"Early stopping: {monitor} has not improved for {early_stopping} epochs.")
                if bar is not None:
                    bar.set_description(f"epoch {epoch}/{epochs} (early stop)")
                    _finish_bar(bar)
                break
    except KeyboardInterrupt:
        interrupted = True
        print(f"Training stopped by the user after {len(history)} complete epoch(s).")
    finally:
        if bar is not None:
            bar.close()
        if plotter is not None:
            plotter.close()
    if plotter is not None and verbose and len(history):
        print(history.format_row(history.rows[-1]))  # the last epoch as text, under the live plot
    if best_state is not None and (early_stopping is not None or interrupted):
        model.load_state_dict(best_state)
        if verbose:
            print(f"Restored the best weights (epoch {history.best_epoch()}, {monitor} = {best_value:.4f}).")
    return history


def _len_or_none(data) -> int | None:
    """len(data) if it has one (for the progress bar), else None."""
    try:
        return len(data)
    except TypeError:
        return None


# ---------------------------------------------------------------- evaluate / predict
@torch.no_grad()
def evaluate(model: nn.Module, data: Iterable, loss_fn: Callable | None = None, *,
             metrics: Iterable[str] | dict = ("accuracy",), step_fn: StepFn | None = None,
             amp: bool | None = None, channels_last: bool | None = None, data_name: str = "data") -> dict[str, float]:
    """Mean loss and metrics of `model` on `data`, in eval mode and without gradients."""
    device = model_device(model)
    _check_data(data_name, data, device, pairs=step_fn is None)
    metric_fns = _metric_fns(metrics)
    return run_epoch(model, data, loss_fn or nn.CrossEntropyLoss(), device, metrics=metric_fns, step_fn=step_fn,
                     data_name=data_name,
                     amp=device.type == "cuda" if amp is None else amp,
                     channels_last=device.type == "cuda" if channels_last is None else channels_last)


@torch.no_grad()
def predict(model: nn.Module, data: Iterable | torch.Tensor, batch_size: int = 256
            ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Model outputs for every example (on the CPU), and the targets if `data` yields (x, y) pairs."""
    device = model_device(model)
    model.eval()
    if isinstance(data, torch.Tensor):
        data = [(data[i:i + batch_size],) for i in range(0, len(data), batch_size)]
    outputs, targets = [], []
    for batch in data:
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        outputs.append(model(x.to(device)).float().cpu())
        if isinstance(batch, (list, tuple)) and len(batch) > 1:
            targets.append(batch[1].cpu())
    return torch.cat(outputs), (torch.cat(targets) if targets else None)
