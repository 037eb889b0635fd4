"""Images/s and MFU of a CIFAR-sized ResNet-18 training step on a CUDA GPU, with the course's defaults.

    python bench/bench_gpu.py                    # eager, bf16 autocast, channels_last, batch 512
    python bench/bench_gpu.py --compile          # the same step through torch.compile
    python bench/bench_gpu.py --peak-tflops 312  # a GPU that is not in the table (here: A100 bf16 dense)

Model: torchvision's resnet18 adapted to 32x32 inputs (3x3 stride-1 stem, no max-pool), 10 classes.
Step: the course's defaults on CUDA (what fit() does): bf16 autocast, channels_last, CrossEntropyLoss,
Adam(lr=1e-3), zero_grad(set_to_none=True), backward, step; synthetic data already on the GPU.
FLOPs per step: counted once with torch.utils.flop_counter.FlopCounterMode (forward + backward: matmuls and
convolutions, the usual MFU convention). MFU = FLOPs per step x steps per second / peak bf16 dense FLOP/s.
The "fit()" row trains the same model for one epoch with course_utils.fit over a TensorLoader of synthetic
images on the GPU, so it includes fit's own per-step work. Without CUDA the script says so, writes a JSON
that says "skipped" and exits with status 0 (`--allow-cpu` runs it on the CPU anyway, to test the script).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import busy_warning, describe, machine_info, print_table, write_json  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

TARGET_MFU = 0.40  # H100, bf16
# Dense bf16 tensor-core peaks in TFLOP/s (no sparsity), from the vendors' data sheets; first match wins.
# Any other GPU: pass --peak-tflops.
PEAK_TFLOPS = [("H200", 989.0), ("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("H100", 989.0),  # H100 SXM / HBM3
               ("A100", 312.0)]


def peak_tflops(gpu_name: str) -> float | None:
    """The bf16 dense peak of a GPU from its name, or None if it is not in the table."""
    for key, value in PEAK_TFLOPS:
        if key.lower() in gpu_name.lower():
            return value
    return None


def resnet18_cifar(num_classes: int = 10) -> nn.Module:
    """torchvision's ResNet-18 for 32x32 images: 3x3 stride-1 stem, no max-pool (11.2 M parameters)."""
    from torchvision.models import resnet18

    model = resnet18(num_classes=num_classes)
    model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return model


def make_step(model, optimizer, amp: bool, device_type: str):
    """One training step on a batch (x, y): autocast forward and loss, zero_grad, backward, step."""
    loss_fn = nn.CrossEntropyLoss()

    def step(x, y):
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=amp):
            loss = loss_fn(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    return step


def flops_per_step(model, x, y, amp: bool, device_type: str) -> int:
    """Forward + backward FLOPs of one step, counted by FlopCounterMode (the optimizer step is not counted)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=amp):
            loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def sync(device: torch.device) -> None:
    """Wait for the GPU (no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(step, x, y, steps: int, device: torch.device) -> float:
    """Seconds for `steps` steps, after the GPU has finished all earlier work."""
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step(x, y)
    sync(device)
    return time.perf_counter() - t0


def time_fit(args, device, amp: bool, channels_last: bool) -> dict:
    """Images/s of course_utils.fit for one epoch over synthetic images in a TensorLoader on the GPU."""
    from torch.utils.data import TensorDataset

    from course_utils.data import TensorLoader
    from course_utils.train import fit

    n = args.batch_size * args.steps
    g = torch.Generator().manual_seed(1)
    ds = TensorDataset(torch.rand(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g))
    loader = TensorLoader(ds, batch_size=args.batch_size, device=device, drop_last=True)
    torch.manual_seed(0)
    model = resnet18_cifar().to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    if args.compile:
        model = torch.compile(model, mode=args.compile_mode)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    kw = dict(epochs=1, optimizer=optimizer, amp=amp, channels_last=channels_last, live_plot=False,
              progress=False, verbose=False)
    fit(model, loader, **kw)  # warm-up epoch (and compilation)
    seconds = []
    for _ in range(args.repeats):
        sync(device)
        t0 = time.perf_counter()
        fit(model, loader, **kw)
        sync(device)
        seconds.append(time.perf_counter() - t0)
    return {"images_per_s": len(loader) * args.batch_size / statistics.median(seconds),
            "runs_s": [round(s, 4) for s in seconds]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--steps", type=int, default=30, help="timed steps per repeat (default 30)")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats; the median is reported (default 5)")
    p.add_argument("--warmup", type=int, default=10, help="untimed steps first (default 10)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--compile-mode", default=None, help="torch.compile mode, e.g. max-autotune")
    p.add_argument("--no-amp", action="store_true", help="float32 instead of bf16 autocast")
    p.add_argument("--no-channels-last", action="store_true", help="NCHW instead of channels_last")
    p.add_argument("--no-fit", action="store_true", help="skip the fit() row")
    p.add_argument("--cudnn-benchmark", action="store_true", help="torch.backends.cudnn.benchmark = True")
    p.add_argument("--peak-tflops", type=float, help="the GPU's bf16 dense peak, if not in the table")
    p.add_argument("--quick", action="store_true", help="smoke run: 5 steps x 2 repeats")
    p.add_argument("--allow-cpu", action="store_true", help="run on the CPU (batch 8) just to test the script")
    args = p.parse_args()
    if args.quick:
        args.steps, args.repeats, args.warmup = 5, 2, 2

    info = machine_info()
    print(describe(info))
    if not torch.cuda.is_available() and not args.allow_cpu:
        reason = "needs a CUDA GPU: torch.cuda.is_available() is False on this machine"
        print(f"bench_gpu: {reason}; skipped.")
        write_json("bench_gpu", {"skipped": True, "reason": reason, "args": vars(args)}, info)
        return 0
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu":
        args.batch_size = min(args.batch_size, 4)
        print(busy_warning(info) or "", "(--allow-cpu: testing the script; the numbers mean nothing)")
    amp, channels_last = not args.no_amp, not args.no_channels_last
    torch.backends.cudnn.benchmark = args.cudnn_benchmark  # off by default, as in the course

    torch.manual_seed(0)
    model = resnet18_cifar().to(device)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    x = torch.randn(args.batch_size, 3, 32, 32, device=device).contiguous(memory_format=memory_format)
    y = torch.randint(0, 10, (args.batch_size,), device=device)
    flops = flops_per_step(model, x, y, amp, device.type)  # eager: FlopCounterMode does not see inside compile
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    run = torch.compile(model, mode=args.compile_mode) if args.compile else model
    step = make_step(run, optimizer, amp, device.type)

    t0 = time.perf_counter()
    time_steps(step, x, y, args.warmup, device)  # includes compilation with --compile
    warmup_s = time.perf_counter() - t0
    seconds = [time_steps(step, x, y, args.steps, device) for _ in range(args.repeats)]
    step_s = statistics.median(seconds) / args.steps

    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    peak = args.peak_tflops or (peak_tflops(gpu) if device.type == "cuda" else None)
    rows = [{"what": "train step" + (" (compiled)" if args.compile else ""), "batch": args.batch_size,
             "ms_per_step": step_s * 1e3, "images_per_s": args.batch_size / step_s,
             "tflops_per_s": flops / step_s / 1e12,
             "mfu_percent": 100 * flops / step_s / (peak * 1e12) if peak else None}]
    if not args.no_fit:
        f = time_fit(args, device, amp, channels_last)
        fit_step_s = args.batch_size / f["images_per_s"]
        rows.append({"what": "fit() epoch" + (" (compiled)" if args.compile else ""), "batch": args.batch_size,
                     "ms_per_step": fit_step_s * 1e3, "images_per_s": f["images_per_s"],
                     "tflops_per_s": flops / fit_step_s / 1e12,
                     "mfu_percent": 100 * flops / fit_step_s / (peak * 1e12) if peak else None,
                     "runs_s": f["runs_s"]})

    print(f"\nResNet-18 (CIFAR, 32x32) on {gpu}: {'bf16 autocast' if amp else 'float32'}, "
          f"{'channels_last' if channels_last else 'NCHW'}, {'torch.compile' if args.compile else 'eager'}; "
          f"{flops / 1e9:.1f} GFLOP per step ({flops / args.batch_size / 1e9:.2f} per image, forward + backward); "
          f"peak {peak or 'unknown'} TFLOP/s; warm-up {warmup_s:.1f} s\n")
    print_table(rows, ["what", "batch", "ms_per_step", "images_per_s", "tflops_per_s", "mfu_percent"])
    checks = []
    if peak is None:
        checks.append(f"MFU: unknown peak for {gpu}: pass --peak-tflops")
    else:
        mfu = rows[0]["mfu_percent"]
        checks.append(f"MFU {mfu:.1f}% of {peak:g} TFLOP/s (target >= {TARGET_MFU:.0%} on an H100, bf16) "
                      f"{'OK' if mfu >= 100 * TARGET_MFU else 'MISSED'}")
    print("\n" + "\n".join(checks))
    write_json("bench_gpu", {"skipped": False, "args": vars(args), "device": gpu, "peak_tflops": peak,
                             "flops_per_step": flops, "warmup_s": warmup_s,
                             "runs_s": [round(s, 5) for s in seconds], "rows": rows, "checks": checks}, info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
