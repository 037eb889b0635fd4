"""Convolutions over time (notebook 12): 1-D shapes, causal and dilated stacks, real time series, models.

    causal_pad(x, kernel_size, dilation)         left-pad so that output t sees inputs <= t only
    CausalConv1d(...)                            an nn.Conv1d that does that padding itself
    dilated_receptive_field(k, dilations)        1 + sum (k - 1) d, through conv.receptive_fields
    input_dependence(model, ...)                 which inputs one output depends on, measured with autograd
    load_ucr(name)                               a UCR/UEA classification set (shipped inside sktime: offline)
    fcn(...), resnet1d(...), mlp(...), tcn(...)  the models the notebook trains
    rocket_features(x, kernels)                  ROCKET's features recomputed with F.conv1d (checks sktime's)
    load_sunspots(), make_windows(...)           a real series (statsmodels) cut into forecasting windows
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from .checks import check_function, not_done
from .conv import _positive_int, receptive_fields
from .data import DatasetUnavailableError

__all__ = [
    "causal_padding", "causal_pad", "CausalConv1d", "dilated_receptive_field", "input_dependence",
    "SeriesData", "load_ucr", "standardize_channels", "same_conv1d", "fcn", "resnet1d", "mlp", "tcn", "TCN",
    "rocket_features", "load_sunspots", "make_windows", "linear_forecast", "rmse",
    "draw_conv1d", "draw_dilated_stack", "plot_examples", "check_receptive_field", "check_causal_pad",
]


# ---------------------------------------------------------------- causal and dilated convolutions
def causal_padding(kernel_size: int, dilation: int = 1) -> int:
    """The zeros to put on the left so that a stride-1 conv keeps the length and never looks ahead: (k-1)d."""
    return (_positive_int(kernel_size, "kernel_size") - 1) * _positive_int(dilation, "dilation")


def causal_pad(x: torch.Tensor, kernel_size: int, dilation: int = 1) -> torch.Tensor:
    """Pad a (N, C, L) batch with (k-1)d zeros on the left only (the past), none on the right (the future)."""
    if not isinstance(x, torch.Tensor) or x.ndim != 3:
        raise ValueError(f"x must be a tensor shaped (N, C, L), got {getattr(x, 'shape', type(x).__name__)}")
    return F.pad(x, (causal_padding(kernel_size, dilation), 0))


class CausalConv1d(nn.Conv1d):
    """nn.Conv1d whose output at time t depends on inputs at times <= t only (same length as the input)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation, padding=0, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(causal_pad(x, self.kernel_size[0], self.dilation[0]))


def dilated_receptive_field(kernel_size: int | Sequence[int], dilations: Sequence[int]) -> int:
    """Receptive field of stacked stride-1 convs with these dilations: 1 + sum over layers of (k - 1) d."""
    dilations = list(dilations)
    if not dilations:
        raise ValueError("dilations is empty: give one dilation per layer, e.g. [1, 2, 4, 8]")
    ks = [kernel_size] * len(dilations) if isinstance(kernel_size, int) else list(kernel_size)
    if len(ks) != len(dilations):
        raise ValueError(f"kernel_size must be one int or one per layer ({len(dilations)}), got {len(ks)}")
    return receptive_fields([(k, 1, d) for k, d in zip(ks, dilations)])[-1]  # the formula of course_utils.conv


def input_dependence(model: nn.Module, in_channels: int = 1, length: int = 128, at: int | None = None,
                     seed: int = 0) -> np.ndarray:
    """Indices of the input steps that output step `at` (default: the last) depends on, found with autograd.

    A random input (not zeros, which ReLUs would silence) and the gradient of the output at `at`:
    the non-zero entries are the receptive field. For a causal model none of them is after `at`.
    """
    x = torch.randn(1, in_channels, length, generator=torch.Generator().manual_seed(seed), requires_grad=True)
    was_training = model.training
    model.eval()
    try:
        out = model(x)
    finally:
        model.train(was_training)
    if out.ndim != 3 or out.shape[-1] != length:
        raise ValueError(f"the model must keep the length (N, C, {length}), got {tuple(out.shape)}: "
                         "use causal or 'same' padding")
    at = length - 1 if at is None else at
    out[0, :, at].sum().backward()
    return torch.nonzero(x.grad[0].abs().sum(0) > 0).flatten().numpy()


# ---------------------------------------------------------------- real time series (UCR/UEA)
@dataclass
class SeriesData:
    """A time-series classification set: train/test TensorDatasets of (N, C, L) float32 series and int labels."""

    train: TensorDataset
    test: TensorDataset
    classes: list[str]
    name: str
    source: str

    def __repr__(self) -> str:
        x = self.train.tensors[0]
        return (f"SeriesData({self.name}: train {len(self.train)}, test {len(self.test)}, "
                f"{x.shape[1]} channel(s) x {x.shape[2]} steps, {len(self.classes)} classes; {self.source})")

    def numpy(self, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
        """(X, y) as NumPy arrays, shaped (N, C, L) and (N,), for scikit-learn and sktime."""
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        x, y = getattr(self, split).tensors
        return x.numpy().astype(np.float64), y.numpy()


def standardize_channels(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Scale each channel to mean 0, std 1 with the training set's statistics (applied to all arrays given)."""
    mean = train.mean(axis=(0, 2), keepdims=True)
    std = train.std(axis=(0, 2), keepdims=True) + 1e-8
    return [(a - mean) / std for a in (train, *others)]


def load_ucr(name: str = "BasicMotions", standardize: bool = True) -> SeriesData:
    """A UCR/UEA classification set with its official train/test split, through sktime's loader.

    Offline: sktime's wheel ships BasicMotions, GunPoint, ArrowHead, ItalyPowerDemand, OSULeaf, ACSF1 and a few
    more. Any other name is downloaded from timeseriesclassification.com (needs the internet once).
    Series of unequal length are not supported here. standardize: per channel, with the train statistics.
    """
    try:
        from sktime.datasets import load_UCR_UEA_dataset
    except ImportError:
        raise ImportError("load_ucr needs sktime: pip install sktime (the course pins it in requirements.txt)") from None
    try:
        x_train, y_train = load_UCR_UEA_dataset(name, split="train", return_type="numpy3D")
        x_test, y_test = load_UCR_UEA_dataset(name, split="test", return_type="numpy3D")
    except (OSError, ValueError) as err:  # URLError is an OSError
        raise DatasetUnavailableError(
            f"The UCR/UEA set {name!r} is not shipped with sktime and could not be downloaded "
            f"({type(err).__name__}). Offline, use one that ships: 'BasicMotions', 'GunPoint', 'ArrowHead', "
            "'ItalyPowerDemand', 'OSULeaf'.") from None
    x_train, x_test = np.asarray(x_train, dtype=np.float64), np.asarray(x_test, dtype=np.float64)
    if standardize:
        x_train, x_test = standardize_channels(x_train, x_test)
    classes = sorted(set(y_train) | set(y_test), key=lambda c: (len(str(c)), str(c)))
    index = {c: i for i, c in enumerate(classes)}

    def as_dataset(x, y):
        return TensorDataset(torch.tensor(x, dtype=torch.float32), torch.tensor([index[c] for c in y]))

    return SeriesData(as_dataset(x_train, y_train), as_dataset(x_test, y_test), [str(c) for c in classes], name,
                      "UCR/UEA archive, as shipped in sktime (official train/test split)")


# ---------------------------------------------------------------- models
def same_conv1d(in_channels: int, out_channels: int, kernel_size: int) -> nn.Sequential:
    """A stride-1 Conv1d that keeps the length: zeros (k-1)//2 on the left, the rest on the right (even k too)."""
    left = (kernel_size - 1) // 2
    return nn.Sequential(nn.ConstantPad1d((left, kernel_size - 1 - left), 0.0),
                         nn.Conv1d(in_channels, out_channels, kernel_size))


def fcn(in_channels: int, num_classes: int, widths: Sequence[int] = (128, 256, 128),
        kernel_sizes: Sequence[int] = (8, 5, 3)) -> nn.Sequential:
    """Wang et al. (2017)'s fully convolutional network: [conv, batch norm, ReLU] x 3, global average pool, linear."""
    if len(widths) != len(kernel_sizes):
        raise ValueError(f"widths and kernel_sizes need one entry per block, got {len(widths)} and {len(kernel_sizes)}")
    layers, c = [], in_channels
    for w, k in zip(widths, kernel_sizes):
        layers += [same_conv1d(c, w, k), nn.BatchNorm1d(w), nn.ReLU()]
        c = w
    return nn.Sequential(*layers, nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(c, num_classes))


class _ResBlock1d(nn.Module):
    """Three conv-BN(-ReLU) layers (kernels 8, 5, 3) plus a 1x1-conv shortcut, as in Wang et al.'s ResNet."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        convs = []
        for i, k in enumerate((8, 5, 3)):
            convs += [same_conv1d(c_in if i == 0 else c_out, c_out, k), nn.BatchNorm1d(c_out)]
            if i < 2:
                convs.append(nn.ReLU())
        self.body = nn.Sequential(*convs)
        self.shortcut = nn.Sequential(nn.Conv1d(c_in, c_out, 1), nn.BatchNorm1d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + self.shortcut(x))


def resnet1d(in_channels: int, num_classes: int, widths: Sequence[int] = (64, 128, 128)) -> nn.Sequential:
    """Wang et al. (2017)'s ResNet for time series: three residual blocks, global average pool, linear."""
    blocks, c = [], in_channels
    for w in widths:
        blocks.append(_ResBlock1d(c, w))
        c = w
    return nn.Sequential(*blocks, nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(c, num_classes))


def mlp(in_features: int, num_classes: int, hidden: int = 500, dropouts: Sequence[float] = (0.1, 0.2, 0.2, 0.3)
        ) -> nn.Sequential:
    """Wang et al. (2017)'s MLP baseline: flatten, then dropout + Linear(500) + ReLU three times, dropout + Linear."""
    layers, n = [nn.Flatten()], in_features
    for p in dropouts[:-1]:
        layers += [nn.Dropout(p), nn.Linear(n, hidden), nn.ReLU()]
        n = hidden
    return nn.Sequential(*layers, nn.Dropout(dropouts[-1]), nn.Linear(n, num_classes))


class TCN(nn.Module):
    """A WaveNet/TCN-style stack: causal dilated convs with ReLU and residual connections, then a 1x1 conv.

    Output t depends on inputs t - receptive_field + 1 .. t only; the length is unchanged.
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, width: int = 32, kernel_size: int = 3,
                 dilations: Sequence[int] = (1, 2, 4, 8)):
        super().__init__()
        self.kernel_size, self.dilations = kernel_size, list(dilations)
        self.stem = nn.Conv1d(in_channels, width, 1)
        self.layers = nn.ModuleList(CausalConv1d(width, width, kernel_size, d) for d in self.dilations)
        self.head = nn.Conv1d(width, out_channels, 1)

    @property
    def receptive_field(self) -> int:
        """1 + sum (k - 1) d over the causal layers (the 1x1 convs add nothing)."""
        return dilated_receptive_field(self.kernel_size, self.dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        for layer in self.layers:
            h = h + F.relu(layer(h))  # residual: each layer adds to what the earlier ones computed
        return self.head(h)


def tcn(in_channels: int = 1, out_channels: int = 1, width: int = 32, kernel_size: int = 3,
        dilations: Sequence[int] = (1, 2, 4, 8)) -> TCN:
    """A causal dilated TCN (see TCN)."""
    return TCN(in_channels, out_channels, width, kernel_size, dilations)


# ---------------------------------------------------------------- ROCKET, recomputed with conv1d
def rocket_features(x: np.ndarray, kernels: tuple, num_kernels: int | None = None) -> np.ndarray:
    """ROCKET's two features per random kernel (PPV, max), computed with F.conv1d from sktime's fitted kernels.

    x: (N, C, L) already normalised the way Rocket does (per series). kernels: `Rocket(...).fit(X).kernels`.
    Returns (N, 2 * num_kernels) in sktime's order: [ppv_0, max_0, ppv_1, max_1, ...].
    """
    weights, lengths, biases, dilations, paddings, n_channels, channels = kernels
    n = len(lengths) if num_kernels is None else min(num_kernels, len(lengths))
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32))
    feats, w_at, c_at = [], 0, 0
    for j in range(n):
        k, c = int(lengths[j]), int(n_channels[j])
        w = torch.as_tensor(weights[w_at:w_at + k * c]).reshape(1, c, k)  # one kernel over c chosen channels
        chosen = xt[:, torch.as_tensor(channels[c_at:c_at + c], dtype=torch.long)]
        out = F.conv1d(chosen, w, bias=torch.as_tensor(biases[j:j + 1]), dilation=int(dilations[j]),
                       padding=int(paddings[j]))[:, 0]
        feats += [(out > 0).float().mean(1), out.max(1).values]  # proportion of positive values, global max
        w_at, c_at = w_at + k * c, c_at + c
    return torch.stack(feats, 1).numpy()


# ---------------------------------------------------------------- forecasting
def load_sunspots() -> tuple[np.ndarray, np.ndarray]:
    """Yearly sunspot numbers 1700-2008 from statsmodels (ships with the package): (years, values)."""
    import statsmodels.api as sm

    data = sm.datasets.sunspots.load_pandas().data
    return data["YEAR"].to_numpy(dtype=int), data["SUNACTIVITY"].to_numpy(dtype=np.float64)


def make_windows(series: np.ndarray, lookback: int, horizon: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (N, 1, lookback) and targets (N,): the value `horizon` steps after each window of past values."""
    series = np.asarray(series, dtype=np.float32)
    lookback, horizon = _positive_int(lookback, "lookback"), _positive_int(horizon, "horizon")
    n = len(series) - lookback - horizon + 1
    if series.ndim != 1 or n < 1:
        raise ValueError(f"series must be 1-D and longer than lookback + horizon - 1 = {lookback + horizon - 1}, "
                         f"got shape {series.shape}")
    idx = np.arange(lookback)[None, :] + np.arange(n)[:, None]
    return torch.tensor(series[idx])[:, None, :], torch.tensor(series[idx[:, -1] + horizon])


def linear_forecast(x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor) -> np.ndarray:
    """The linear baseline: least-squares autoregression on the same windows (an AR(lookback) model)."""
    from sklearn.linear_model import LinearRegression

    reg = LinearRegression().fit(x_train.flatten(1).numpy(), y_train.numpy())
    return reg.predict(x_test.flatten(1).numpy())


def rmse(prediction, target) -> float:
    """Root mean squared error."""
    p, t = np.asarray(prediction, dtype=np.float64).ravel(), np.asarray(target, dtype=np.float64).ravel()
    if p.shape != t.shape:
        raise ValueError(f"prediction and target must have the same size, got {p.size} and {t.size}")
    return float(np.sqrt(np.mean((p - t) ** 2)))


# ---------------------------------------------------------------- pictures
def draw_conv1d(signal: np.ndarray, kernel_size: int = 3, stride: int = 1, dilation: int = 1,
                positions: Sequence[int] = (0, 1, 2), ax=None, title: str | None = None):
    """A signal as dots, and the input taps that a few output positions read (lines from taps to outputs)."""
    import matplotlib.pyplot as plt

    signal = np.asarray(signal, dtype=np.float64).ravel()
    n_out = math.floor((len(signal) - dilation * (kernel_size - 1) - 1) / stride + 1)
    if n_out < 1:
        raise ValueError(f"the kernel spans {dilation * (kernel_size - 1) + 1} steps, longer than the signal")
    ax = ax or plt.subplots(figsize=(8, 2.6))[1]
    ax.scatter(np.arange(len(signal)), np.zeros(len(signal)), s=40, color="#6baed6", zorder=3, label="input steps")
    out_x = np.arange(n_out) * stride + dilation * (kernel_size - 1) / 2  # drawn under the window's centre
    ax.scatter(out_x, np.ones(n_out), s=40, color="#a1d99b", zorder=3, label="outputs")
    colours = plt.cm.tab10.colors
    for i, p in enumerate(q for q in positions if q < n_out):
        taps = p * stride + dilation * np.arange(kernel_size)
        for t in taps:
            ax.plot([t, out_x[p]], [0, 1], color=colours[i % 10], lw=1.5)
        ax.scatter(taps, np.zeros(kernel_size), s=70, color=colours[i % 10], zorder=4)
    ax.set_yticks([0, 1], ["input", "output"])
    ax.set_xlabel("time step")
    ax.set_ylim(-0.4, 1.4)
    ax.set_title(title or f"k={kernel_size}, stride={stride}, dilation={dilation}: "
                          f"{len(signal)} steps -> {n_out} outputs", fontsize=10)
    return ax


def draw_dilated_stack(kernel_size: int = 2, dilations: Sequence[int] = (1, 2, 4, 8), length: int = 20, ax=None):
    """The WaveNet picture: one row of nodes per layer, and the connections the last output depends on."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(9, 3.4))[1]
    rows = len(dilations) + 1
    for r in range(rows):
        ax.scatter(np.arange(length), np.full(length, r), s=25, color="0.8", zorder=2)
    active = {length - 1}  # nodes of the top row that matter, walked down layer by layer
    for r in range(rows - 1, 0, -1):
        d, below = dilations[r - 1], set()
        for t in active:
            for j in range(kernel_size):
                s = t - j * d
                if s >= 0:
                    ax.plot([s, t], [r - 1, r], color="#08519c", lw=1.2, zorder=1)
                    below.add(s)
        ax.scatter(sorted(active), [r] * len(active), s=40, color="#08519c", zorder=3)
        active = below
    ax.scatter(sorted(active), [0] * len(active), s=40, color="#e6550d", zorder=3)
    field = dilated_receptive_field(kernel_size, dilations)
    ax.set_yticks(range(rows), ["input"] + [f"dilation {d}" for d in dilations])
    ax.set_xlabel("time step")
    ax.set_title(f"causal stack, k={kernel_size}, dilations {list(dilations)}: the last output sees "
                 f"{len(active)} inputs (1 + sum (k-1)d = {field})", fontsize=10)
    return ax


def plot_examples(data: SeriesData, channel_names: Sequence[str] | None = None):
    """One training series per class (a column each), every channel as a line; returns the figure."""
    import matplotlib.pyplot as plt

    x, y = data.train.tensors
    n_classes = len(data.classes)
    fig, axes = plt.subplots(1, n_classes, figsize=(3.2 * n_classes, 2.6), sharey=True, squeeze=False)
    for c, ax in enumerate(axes[0]):
        series = x[int(torch.nonzero(y == c)[0])]
        for i, channel in enumerate(series):
            ax.plot(channel.numpy(), lw=1, label=channel_names[i] if channel_names else f"channel {i}")
        ax.set_title(f"{data.name}: {data.classes[c]}", fontsize=10)
        ax.set_xlabel("time step")
    axes[0, 0].set_ylabel("standardised value")
    if x.shape[1] > 1:
        axes[0, -1].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- exercise checks
def _returns_nothing(fn, case: tuple) -> bool:
    """True if fn(*case) returns None (a body still left as `...`); errors are left to check_function."""
    try:
        return fn(*case) is None
    except Exception:
        return False


def check_receptive_field(fn) -> bool:
    """Exercise: fn(kernel_size, dilations) must return 1 + sum (k - 1) d for stride-1 stacks."""
    if fn is None or fn is Ellipsis:
        return not_done("receptive field", "Replace the ... with your function.")
    cases = [(3, [1]), (3, [1, 2, 4, 8]), (2, [1, 2, 4, 8, 16, 32]), (5, [1, 1, 1]), (3, [1, 2, 4, 1, 2, 4])]
    if _returns_nothing(fn, cases[0]):
        return not_done("receptive field", "Your function returns None: write its body and return a number.")
    return check_function(fn, dilated_receptive_field, cases, "receptive field",
                          hint="Start from 1 and add (kernel_size - 1) * d for every layer's dilation d.")


def check_causal_pad(fn) -> bool:
    """Exercise: fn(x, kernel_size, dilation) must left-pad a (N, C, L) batch with (k-1)d zeros."""
    if fn is None or fn is Ellipsis:
        return not_done("causal padding", "Replace the ... with your function.")
    x = torch.arange(1.0, 7.0).reshape(1, 1, 6)
    cases = [(x, 3, 1), (x, 3, 2), (x, 2, 4), (torch.ones(2, 3, 5), 5, 1)]
    if _returns_nothing(fn, cases[0]):
        return not_done("causal padding", "Your function returns None: return the padded tensor.")
    return check_function(fn, causal_pad, cases, "causal padding",
                          hint="Use F.pad(x, (left, right)) with left = (kernel_size - 1) * dilation and right = 0.")
