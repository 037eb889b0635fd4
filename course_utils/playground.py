"""A small MLP playground in the spirit of the TensorFlow Playground (playground.tensorflow.org).

Pick a 2-D data set (rings, xor, gaussian, spiral), the hidden layers, the activation, the learning rate,
the batch size and whether the inputs are standardised; it trains a tiny MLP with SGD on the CPU and draws
the decision surface and the loss curve:

    from course_utils.playground import run, playground
    run("rings", hidden=(3,), activation="sigmoid")   # one figure
    playground()                                       # the same with widgets (JupyterLab / Colab)
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from .env import single_thread
from .toydata import make_2d

DATASETS = ("rings", "xor", "gaussian", "spiral")
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.01), "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
    "linear": nn.Identity,
}
#: With normalisation off the network sees the features in mismatched units, like age and weight in the
#: height table: x1 + 3 and 10 * x2 - 5 instead of two features centred on 0 with a spread of about 1.
RAW_SCALE = np.array([1.0, 10.0], dtype=np.float32)
RAW_SHIFT = np.array([3.0, -5.0], dtype=np.float32)


def make_mlp(hidden: Sequence[int] = (4,), activation: str = "tanh", n_in: int = 2, n_out: int = 1,
             seed: int = 0) -> nn.Sequential:
    """Linear -> activation for each hidden layer, then a Linear output (logits)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    hidden = tuple(hidden)
    if any(not isinstance(h, (int, np.integer)) or h < 1 for h in hidden):
        raise ValueError(f"hidden must be a sequence of positive ints, got {hidden!r}")
    torch.manual_seed(seed)
    layers, width = [], n_in
    for h in hidden:
        layers += [nn.Linear(width, int(h)), ACTIVATIONS[activation]()]
        width = int(h)
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


@dataclass
class Features:
    """How the plotted points (x1, x2) become the network's inputs: raw units, then optional standardisation."""

    normalize: bool
    mean: np.ndarray = field(default_factory=lambda: np.zeros(2, np.float32))
    std: np.ndarray = field(default_factory=lambda: np.ones(2, np.float32))

    @classmethod
    def fit(cls, X: np.ndarray, normalize: bool) -> "Features":
        """Learn the mean and standard deviation of the raw features of X (used when normalize=True)."""
        raw = raw_features(X)
        return cls(normalize, raw.mean(axis=0), raw.std(axis=0) + 1e-8) if normalize else cls(False)

    def __call__(self, X: np.ndarray) -> torch.Tensor:
        raw = raw_features(X)
        return torch.as_tensor((raw - self.mean) / self.std if self.normalize else raw, dtype=torch.float32)


def raw_features(X: np.ndarray) -> np.ndarray:
    """The features in mismatched units (x1 + 3, 10 x2 - 5) that the network sees when normalisation is off."""
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (n, 2), got {X.shape}")
    return X * RAW_SCALE + RAW_SHIFT


@dataclass
class Result:
    """What `train_mlp` returns: the model, the feature map, and the full-data loss after each step."""

    model: nn.Sequential
    features: Features
    losses: list[float]
    accuracy: float


def train_mlp(X: np.ndarray, y: np.ndarray, hidden: Sequence[int] = (4,), activation: str = "tanh",
              lr: float = 0.1, batch_size: int = 32, steps: int = 300, normalize: bool = True, seed: int = 0,
              callback: Callable[[Result, int], None] | None = None, every: int = 50) -> Result:
    """Train an MLP with plain SGD on the binary cross-entropy; `callback(result, step)` every `every` steps."""
    _check_training(lr, batch_size, steps)
    with single_thread():  # a net this small trains several times faster on one thread
        return _train(X, y, hidden, activation, lr, batch_size, steps, normalize, seed, callback, every)


def _check_training(lr: float, batch_size: int, steps: int) -> None:
    """Clear errors for a learning rate, batch size or step count that cannot train."""
    if lr <= 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")


def _train(X, y, hidden, activation, lr, batch_size, steps, normalize, seed, callback, every) -> Result:
    """The SGD loop of train_mlp."""
    result = None
    for result, step in train_steps(X, y, hidden, activation, lr, batch_size, steps, normalize, seed,
                                    every if callback is not None else steps):
        if callback is not None:
            callback(result, step)
    return result


def train_steps(X: np.ndarray, y: np.ndarray, hidden: Sequence[int], activation: str, lr: float, batch_size: int,
                steps: int, normalize: bool, seed: int, every: int) -> Iterator[tuple[Result, int]]:
    """Plain SGD on the binary cross-entropy, yielding (result so far, step) every `every` steps and at the end."""
    feats = Features.fit(X, normalize)
    Xt, yt = feats(X), torch.as_tensor(np.asarray(y), dtype=torch.float32).reshape(-1, 1)
    model = make_mlp(hidden, activation, seed=seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss()
    gen = torch.Generator().manual_seed(seed)
    n, batch_size = len(Xt), min(int(batch_size), len(Xt))
    result = Result(model, feats, [], 0.0)
    order, start = torch.randperm(n, generator=gen), 0
    for step in range(1, steps + 1):
        if start + batch_size > n:  # a new epoch: reshuffle
            order, start = torch.randperm(n, generator=gen), 0
        idx = order[start:start + batch_size]
        start += batch_size
        loss = loss_fn(model(Xt[idx]), yt[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            logits = model(Xt)
            result.losses.append(float(loss_fn(logits, yt)))
        if step % every == 0 or step == steps:
            result.accuracy = float(((logits > 0).float() == yt).float().mean())
            yield result, step


@torch.no_grad()
def predict_proba(result: Result, X: np.ndarray) -> np.ndarray:
    """P(class 1) of the trained model at the points X (in plotted coordinates)."""
    return torch.sigmoid(result.model(result.features(X))).numpy().reshape(-1)


def grid(X: np.ndarray, resolution: int = 80, pad: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """A resolution x resolution mesh (xx, yy) covering the points X with a margin."""
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    return np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))


def plot_decision(ax, predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, y: np.ndarray,
                  title: str = "Decision surface", resolution: int = 80) -> None:
    """Colour the plane by predict(points) = P(class 1) and scatter the data on top."""
    xx, yy = grid(X, resolution)
    p = predict(np.c_[xx.ravel(), yy.ravel()].astype(np.float32)).reshape(xx.shape)
    ax.contourf(xx, yy, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.55)
    ax.contour(xx, yy, p, levels=[0.5], colors="k", linewidths=1.2)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu_r", s=8, edgecolors="k", linewidths=0.2)
    ax.set_xlim(xx.min(), xx.max())
    ax.set_ylim(yy.min(), yy.max())
    ax.set_aspect("equal")
    ax.set_xlabel("x₁")  # plain text, not mathtext: its parser is not thread-safe (widget thread)
    ax.set_ylabel("x₂")
    ax.set_title(title, fontsize=10)


def hidden_lines(result: Result) -> list[tuple[np.ndarray, float]]:
    """The first hidden layer's lines w . x + b = 0 in plotted coordinates, as (w, b) pairs."""
    first = result.model[0]
    W, b = first.weight.detach().numpy().astype(np.float64), first.bias.detach().numpy().astype(np.float64)
    f = result.features  # input = ((x * scale + shift) - mean) / std, so fold it into w and b
    mean, std = (f.mean, f.std) if f.normalize else (np.zeros(2), np.ones(2))
    a, c = RAW_SCALE / std, (RAW_SHIFT - mean) / std
    return [(W[k] * a, float(W[k] @ c + b[k])) for k in range(len(W))]


def plot_lines(ax, lines: list[tuple[np.ndarray, float]], colors: Sequence[str] = ("C2", "C1", "C4", "C5")) -> None:
    """Draw lines w . x + b = 0 over the current axes limits, labelled 'unit k'."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    for k, (w, b) in enumerate(lines):
        color = colors[k % len(colors)]
        if abs(w[1]) > abs(w[0]):
            xs = np.array([x0, x1])
            ax.plot(xs, -(w[0] * xs + b) / w[1], color=color, lw=2, label=f"unit {k + 1}")
        else:
            ys = np.array([y0, y1])
            ax.plot(-(w[1] * ys + b) / w[0], ys, color=color, lw=2, label=f"unit {k + 1}")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)


def _draw(fig, axes, X, y, result: Result, step: int, name: str, resolution: int = 60) -> None:
    """Redraw the decision surface and the loss curve of a run in progress."""
    for ax in axes:
        ax.clear()
    plot_decision(axes[0], lambda P: predict_proba(result, P), X, y,
                  title=f"{name}: step {step}, train accuracy {result.accuracy:.2f}", resolution=resolution)
    axes[1].plot(np.arange(1, len(result.losses) + 1), result.losses, color="C0")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("SGD step")
    axes[1].set_ylabel("cross-entropy on all points")
    axes[1].set_title("Loss curve", fontsize=10)
    axes[1].grid(alpha=0.3)
    fig.tight_layout()


def _check_dataset(dataset: str) -> None:
    """A clear error for an unknown data set name."""
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")


def _figure() -> tuple[Figure, list]:
    """The [decision surface | loss curve] figure (a plain Figure: no pyplot state, safe in widget callbacks)."""
    fig = Figure(figsize=(9, 3.8))
    return fig, list(fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.2]}))


def run_frames(dataset: str = "rings", hidden: Sequence[int] | int = (4,), activation: str = "tanh",
               lr: float = 0.3, batch_size: int = 16, normalize: bool = True, steps: int = 500, noise: float = 0.1,
               n: int = 300, seed: int = 0, frames: int = 3, resolution: int = 40) -> Iterator[Figure]:
    """Train on `dataset`, yielding the [decision surface | loss curve] figure `frames` times (the last at the end).

    The surface is evaluated on a resolution x resolution grid (40: a redraw costs about 0.2 s on a laptop CPU).
    """
    _check_dataset(dataset)
    hidden = (hidden,) if isinstance(hidden, (int, np.integer)) else tuple(hidden)
    X, y = make_2d(dataset, n=n, noise=noise, seed=seed)
    fig, axes = _figure()
    _check_training(lr, batch_size, steps)
    with single_thread():  # a net this small trains several times faster on one thread
        for result, step in train_steps(X, y, hidden, activation, lr, batch_size, steps, normalize, seed,
                                        max(1, steps // max(1, frames))):
            _draw(fig, axes, X, y, result, step, dataset, resolution)
            yield fig


def run(dataset: str = "rings", hidden: Sequence[int] | int = (4,), activation: str = "tanh", lr: float = 0.3,
        batch_size: int = 16, normalize: bool = True, steps: int = 500, noise: float = 0.1, n: int = 300,
        seed: int = 0) -> tuple[Figure, Result]:
    """Train on `dataset` and draw [decision surface | loss curve]; returns (figure, Result)."""
    _check_dataset(dataset)
    hidden = (hidden,) if isinstance(hidden, (int, np.integer)) else tuple(hidden)
    X, y = make_2d(dataset, n=n, noise=noise, seed=seed)
    fig, axes = _figure()
    result = train_mlp(X, y, hidden, activation, lr, batch_size, steps, normalize, seed)
    _draw(fig, axes, X, y, result, steps, dataset)
    return fig, result


def playground(dataset: str = "rings", hidden: int = 4, layers: int = 1, activation: str = "tanh",
               lr: float = 0.3, batch_size: int = 16, normalize: bool = True, steps: int = 500):
    """The widget: every change retrains a small MLP from scratch and redraws it a few times while it trains.

    Sliders update when released (continuous_update=False) so that the CPU trains once per change.
    Where widgets cannot render, it draws the starting values once (see course_utils.widgets).
    """
    import ipywidgets as W

    from .widgets import interactive

    style = {"description_width": "initial"}
    controls = {
        "dataset": W.Dropdown(options=list(DATASETS), value=dataset, description="data set"),
        "hidden": W.IntSlider(value=hidden, min=1, max=8, description="hidden units", continuous_update=False,
                              style=style),
        "layers": W.IntSlider(value=layers, min=1, max=3, description="hidden layers", continuous_update=False,
                              style=style),
        "activation": W.Dropdown(options=list(ACTIVATIONS), value=activation, description="activation"),
        "lr": W.FloatLogSlider(value=lr, base=10, min=-3, max=1, step=0.25, description="learning rate",
                               continuous_update=False, style=style, readout_format=".3g"),
        "batch_size": W.Dropdown(options=[1, 4, 16, 32, 64, 300], value=batch_size, description="batch size",
                                 style=style),
        "normalize": W.Checkbox(value=normalize, description="standardise inputs"),
        "steps": W.IntSlider(value=steps, min=50, max=1000, step=50, description="SGD steps",
                             continuous_update=False, style=style),
    }

    def update(dataset, hidden, layers, activation, lr, batch_size, normalize, steps) -> Iterator[Figure]:
        return run_frames(dataset, (hidden,) * layers, activation, lr, batch_size, normalize, steps)

    return interactive(update, controls, columns=4)
