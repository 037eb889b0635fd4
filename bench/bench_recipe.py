"""The mid-term kit's fastest recipe to 94% CIFAR-10 test accuracy: seconds and MFU, beside airbench's 3.83 s (A100).

    python bench/bench_recipe.py                      # ResNet-9, epochs 10,14,18,24, one seed each
    python bench/bench_recipe.py --epochs 12,16 --seeds 3 --compile
    python bench/bench_recipe.py --allow-cpu          # smoke test on the CPU and the offline stand-in

Recipe (course_utils.midterm's train command, nothing else): Page's ResNet-9 (`resnet9`), data on the GPU,
random flips and crops on the GPU, bf16 autocast, channels_last, SGD with Nesterov momentum 0.9, weight decay
5e-4, the one-cycle schedule (linear warm-up over 25% of the steps to --lr, then linear decay to 0), label
smoothing, flip test-time augmentation; optional EMA (--ema) and torch.compile (--compile). For each number of
epochs it trains --seeds runs and reports the mean test accuracy (10,000 images) and the mean training time
(every epoch's training and validation, plus the test pass; data loading excluded); the fastest setting whose
mean accuracy reaches 94% is the result. A 1-epoch warm-up run comes first (CUDA initialisation, cuDNN,
compilation). MFU = training FLOPs (forward + backward per image, counted with FlopCounterMode, times the
images trained) / seconds / the GPU's bf16 dense peak (the table of bench_gpu.py).

CIFAR-10 must be available (downloaded once by torchvision into COURSE_DATA_DIR). Without CUDA the script
says so, writes {"skipped": true} and exits 0. Reference: airbench94 reaches 94.01% in 3.83 s on an A100
(Keller Jordan; its own measurement, not ours).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_gpu import flops_per_step, peak_tflops  # noqa: E402
from common import describe, machine_info, print_table, write_json  # noqa: E402

import torch  # noqa: E402

AIRBENCH = {"seconds": 3.83, "accuracy": 0.9401, "gpu": "A100"}
TARGET = 0.94


def recipe_args(args, epochs: int, seed: int, out: Path) -> list[str]:
    """The train command's options for one run of the recipe."""
    argv = ["--model", args.model, "--epochs", str(epochs), "--batch-size", str(args.batch_size),
            "--lr", str(args.lr), "--weight-decay", str(args.weight_decay), "--label-smoothing",
            str(args.label_smoothing), "--schedule", "onecycle", "--tta", "--seed", str(seed),
            "--out", str(out), "--quiet", "--data", args.data, "--val-size", str(args.val_size)]
    argv += ["--ema", str(args.ema)] if args.ema else []
    argv += ["--compile"] if args.compile else []
    argv += ["--limit", str(args.limit)] if args.limit else []
    argv += [f"--model-option={o}" for o in args.model_option]
    return argv


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="resnet9", help="kit model (default resnet9)")
    p.add_argument("--model-option", action="append", default=[], help="KEY=VALUE for the model builder")
    p.add_argument("--epochs", default="10,14,18,24", help="comma-separated numbers of epochs to try")
    p.add_argument("--seeds", type=int, default=1, help="runs per setting; the mean accuracy decides")
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--lr", type=float, default=0.4, help="peak learning rate (Page's ResNet-9: 0.4)")
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--label-smoothing", type=float, default=0.2)
    p.add_argument("--ema", type=float, default=0.0, help="EMA decay of the weights (0: off)")
    p.add_argument("--val-size", type=int, default=5000,
                   help="held-out training images (the kit's split; airbench trains on all 50,000)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--peak-tflops", type=float, help="the GPU's bf16 dense peak, if not in bench_gpu's table")
    p.add_argument("--allow-cpu", action="store_true",
                   help="run on the CPU and the offline stand-in (tiny model, 1 epoch) just to test the script")
    args = p.parse_args()
    args.data, args.limit = "cifar10", None

    info = machine_info()
    print(describe(info))
    if not torch.cuda.is_available() and not args.allow_cpu:
        reason = "needs a CUDA GPU: torch.cuda.is_available() is False on this machine"
        print(f"bench_recipe: {reason}; skipped (not measured).")
        write_json("bench_recipe", {"skipped": True, "reason": reason, "args": vars(args), "airbench": AIRBENCH}, info)
        return 0
    if not torch.cuda.is_available():  # --allow-cpu: the numbers mean nothing
        args.data, args.limit, args.epochs, args.batch_size = "standin", 256, "1", 64
        args.model_option = args.model_option or ["width_mult=0.125"]
        print("--allow-cpu: testing the script on the stand-in (NOT CIFAR-10); the numbers mean nothing")

    from course_utils.midterm.train import build_parser, train
    from course_utils.models import build_cifar_model

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    options = dict(o.split("=", 1) for o in args.model_option)
    model = build_cifar_model(args.model, **{k: float(v) if "." in v else int(v) for k, v in options.items()})
    model = model.to(device, memory_format=torch.channels_last)
    x = torch.randn(args.batch_size, 3, 32, 32, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (args.batch_size,), device=device)
    flops_per_image = flops_per_step(model, x, y, True, device.type) / args.batch_size
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    peak = args.peak_tflops or (peak_tflops(gpu) if device.type == "cuda" else None)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        train(build_parser().parse_args(recipe_args(args, 1, 999, Path(tmp) / "warmup")))  # warm-up, not timed
        for epochs in [int(e) for e in args.epochs.split(",")]:
            runs = [train(build_parser().parse_args(recipe_args(args, epochs, seed, Path(tmp) / f"e{epochs}s{seed}")))
                    for seed in range(args.seeds)]
            seconds = statistics.mean(r["wall_time_s"] for r in runs)
            images = epochs * runs[0]["steps_per_epoch"] * args.batch_size   # images trained (last partial batch dropped)
            tflops = flops_per_image * images / seconds / 1e12
            rows.append({"epochs": epochs, "seeds": args.seeds, "seconds": seconds,
                         "test_accuracy": statistics.mean(r["test_accuracy"] for r in runs),
                         "min_accuracy": min(r["test_accuracy"] for r in runs), "tflops_per_s": tflops,
                         "mfu_percent": 100 * tflops / peak if peak else None,
                         "runs": [{k: r[k] for k in ("seed", "test_accuracy", "wall_time_s")} for r in runs]})
    print(f"\n{args.model} on {gpu}: {flops_per_image / 1e9:.2f} GFLOP per training image (forward + backward), "
          f"peak {peak or 'unknown'} TFLOP/s\n")
    print_table(rows, ["epochs", "seeds", "seconds", "test_accuracy", "min_accuracy", "tflops_per_s", "mfu_percent"])
    reached = [r for r in rows if r["test_accuracy"] >= TARGET]
    best = min(reached, key=lambda r: r["seconds"]) if reached else None
    line = (f"fastest to {TARGET:.0%}: {best['epochs']} epochs, {best['seconds']:.2f} s, mean accuracy "
            f"{best['test_accuracy']:.4f} on {gpu}" if best else f"no setting reached {TARGET:.0%} mean test accuracy")
    print(f"\n{line}\nairbench94: {AIRBENCH['accuracy']:.2%} in {AIRBENCH['seconds']} s on an {AIRBENCH['gpu']} "
          "(its authors' figure)")
    write_json("bench_recipe", {"skipped": False, "smoke_test_only": device.type == "cpu", "args": vars(args),
                                "device": gpu, "peak_tflops": peak, "flops_per_image": flops_per_image,
                                "rows": rows, "result": line, "airbench": AIRBENCH}, info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
