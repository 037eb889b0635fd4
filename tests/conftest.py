"""Shared fixtures: a tiny classification problem that trains in well under a second."""
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from course_utils.data import TensorLoader


@pytest.fixture
def tiny_data():
    """Two Gaussian blobs in 8-D: (train loader, val loader)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 8, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    train = TensorLoader(TensorDataset(x[:192], y[:192]), batch_size=32, shuffle=True)
    val = TensorLoader(TensorDataset(x[192:], y[192:]), batch_size=64, shuffle=False)
    return train, val


@pytest.fixture
def tiny_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
