"""One call at the top of every notebook: seeds, device, and a one-line report."""
from __future__ import annotations

import platform
import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from . import config


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (CPU and every GPU) with `seed`."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds CUDA and MPS


@contextmanager
def single_thread() -> Iterator[None]:
    """Run tiny problems on one CPU thread: for a few hundred numbers, starting threads costs more than the work."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def pick_device(prefer: str | None = None) -> torch.device:
    """The best device available: CUDA, then Apple MPS, then CPU (or `prefer` if given)."""
    if prefer is not None:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def in_colab() -> bool:
    """True when running inside Google Colab."""
    return "google.colab" in sys.modules


def describe(device: torch.device) -> str:
    """One line: Python, torch and torchvision versions, device, full or fast mode."""
    import torchvision

    where = "Colab" if in_colab() else platform.system()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type.upper()
    mode = "FAST (COURSE_FAST=1: tiny data, few steps)" if config.FAST else "full"
    return (
        f"Python {platform.python_version()} | torch {torch.__version__} | "
        f"torchvision {torchvision.__version__} | device: {name} | {where} | mode: {mode}"
    )


def setup(seed: int = 0, device: str | None = None, quiet: bool = False) -> torch.device:
    """Seed everything, pick the device, make the course's ImageNet weights loadable offline, print one line."""
    from .pretrained import install_offline_weights

    seed_everything(seed)
    dev = pick_device(device)
    try:
        install_offline_weights()  # torchvision's own `weights=` calls then work without the internet
    except (OSError, ValueError) as err:  # a corrupted or unreadable copy: say so, but let the notebook run
        print(f"Note: the offline ImageNet weights were not installed: {err}")
    if not quiet:
        print(describe(dev))
    return dev
