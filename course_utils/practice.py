"""Training practice (NB05): initialisation probes, small models, augmentation pictures, remedies.

    stats = activation_stats(deep_mlp(20, 256, "relu", init="he"), torch.randn(512, 256))
    result = run_remedy("dropout", lambda: small_cnn(dropout=0.5), train_loader, val_loader, epochs=20)
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from .history import History
from .env import seed_everything
from .train import evaluate, fit

__all__ = [
    "INIT_SCHEMES", "init_weights", "deep_mlp", "activation_stats", "NORMS", "small_cnn",
    "pca_color_augment", "augmentation_gallery", "gradient_noise_std", "add_gradient_noise",
    "RemedyResult", "summarize", "run_remedy", "RECIPES", "make_recipe",
]

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
INIT_SCHEMES = ("default", "zeros", "constant", "normal", "uniform",
                "xavier_uniform", "xavier_normal", "he_normal", "he_uniform")


# ---------------------------------------------------------------- initialisation
def init_weights(model: nn.Module, scheme: str, scale: float = 0.01) -> nn.Module:
    """Re-initialise every Linear/Conv weight with `scheme` (biases to zero); `scale` is the std, bound or value."""
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"scheme must be one of {INIT_SCHEMES}, got {scheme!r}")
    for m in model.modules():
        if not isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)) or scheme == "default":
            continue
        w = m.weight
        with torch.no_grad():
            if scheme == "zeros":
                nn.init.zeros_(w)
            elif scheme == "constant":
                nn.init.constant_(w, scale)
            elif scheme == "normal":
                nn.init.normal_(w, 0.0, scale)
            elif scheme == "uniform":
                nn.init.uniform_(w, -scale, scale)
            elif scheme == "xavier_uniform":
                nn.init.xavier_uniform_(w)
            elif scheme == "xavier_normal":
                nn.init.xavier_normal_(w)
            elif scheme == "he_normal":
                nn.init.kaiming_normal_(w, nonlinearity="relu")
            else:
                nn.init.kaiming_uniform_(w, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


def deep_mlp(depth: int, width: int, activation: str = "relu", init: str = "default",
             scale: float = 0.01) -> nn.Sequential:
    """`depth` blocks of Linear(width, width) + activation, initialised with `init` (see init_weights)."""
    if not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be a positive int, got {depth!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), ACTIVATIONS[activation]()]
    return init_weights(nn.Sequential(*layers), init, scale)


@torch.no_grad()
def activation_stats(model: nn.Module, x: torch.Tensor,
                     layer_types: tuple = (nn.ReLU, nn.Tanh, nn.Sigmoid)) -> dict[str, list]:
    """Mean and std of the output of every layer of `layer_types` for input `x` (forward hooks, eval mode)."""
    names, means, stds = [], [], []

    def hook(name):
        def record(_module, _inp, out):
            names.append(name)
            means.append(out.float().mean().item())
            stds.append(out.float().std().item())
        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in model.named_modules() if isinstance(m, layer_types)]
    if not handles:
        raise ValueError(f"model has no layer of the types {[t.__name__ for t in layer_types]}: pass layer_types=...")
    was_training = model.training
    try:
        model.eval()
        model(x)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return {"layer": names, "mean": means, "std": stds}


# ---------------------------------------------------------------- a small CNN with a choice of normalisation
NORMS = (None, "batch", "layer", "instance", "group")


def _norm(kind: str | None, channels: int, size: int) -> nn.Module:
    """The normalisation layer `kind` for `channels` feature maps of `size` x `size` pixels."""
    if kind is None:
        return nn.Identity()
    return {"batch": lambda: nn.BatchNorm2d(channels),
            "layer": lambda: nn.LayerNorm([channels, size, size]),
            "instance": lambda: nn.InstanceNorm2d(channels, affine=True),
            "group": lambda: nn.GroupNorm(4, channels)}[kind]()


def small_cnn(norm: str | None = None, dropout: float = 0.0, width: int = 8, classes: int = 10) -> nn.Sequential:
    """Two conv blocks (conv, norm, ReLU, 2x2 max-pool) and two linear layers, for 1x28x28 images."""
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    w = width
    return nn.Sequential(
        nn.Conv2d(1, w, 3, padding=1), _norm(norm, w, 28), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(w, 2 * w, 3, padding=1), _norm(norm, 2 * w, 14), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(2 * w * 7 * 7, 64), nn.ReLU(), nn.Dropout(dropout), nn.Linear(64, classes))


# ---------------------------------------------------------------- augmentation
def pca_color_augment(image: torch.Tensor, std: float = 0.1, generator: torch.Generator | None = None
                      ) -> torch.Tensor:
    """AlexNet's "changing RGB intensities": add sum_i alpha_i * lambda_i * p_i (PCA of the RGB pixels)."""
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"image must be an RGB tensor shaped (3, H, W), got shape {tuple(image.shape)}")
    pixels = image.reshape(3, -1).T.double()
    eigvals, eigvecs = torch.linalg.eigh(torch.cov(pixels.T))
    alpha = torch.randn(3, generator=generator, dtype=torch.float64) * std
    shift = eigvecs @ (alpha * eigvals.clamp(min=0))
    return (image + shift.to(image.dtype)[:, None, None]).clamp(0, 1)


def augmentation_gallery(image: torch.Tensor, transforms: dict[str, Callable], n: int = 4, seed: int = 0,
                         title: str | None = None, size: float = 1.6):
    """One row per transform: the original, then `n` random draws of it (each `size` inches wide); returns the figure."""
    import matplotlib.pyplot as plt

    from .viz import _to_hwc

    if not transforms:
        raise ValueError("transforms is empty: pass a dict name -> callable(image) -> image")
    torch.manual_seed(seed)
    aspect = image.shape[-2] / image.shape[-1]
    fig, axes = plt.subplots(len(transforms), n + 1, squeeze=False,
                             figsize=(size * (n + 1), (size * aspect + 0.35) * len(transforms) + 0.4))
    for row, (name, tf) in zip(axes, transforms.items()):
        row[0].imshow(_to_hwc(image), cmap="gray")
        row[0].set_title("original", fontsize=9)
        for ax in row[1:]:
            ax.imshow(_to_hwc(tf(image)), cmap="gray")
        row[1].set_title(name, fontsize=9, loc="left")
        for ax in row:
            ax.axis("off")
    fig.suptitle(title or "Random augmentations: each row applies one transform", fontsize=11)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- gradient noise
def gradient_noise_std(t: int | torch.Tensor, eta: float = 0.01, gamma: float = 0.55):
    """sigma_t = sqrt(eta / (1 + t)^gamma), the std of the noise added to the gradients at step t."""
    if eta < 0:
        raise ValueError(f"eta must be >= 0, got {eta}")
    return (eta / (1 + t) ** gamma) ** 0.5


def add_gradient_noise(optimizer: torch.optim.Optimizer, eta: float = 0.01, gamma: float = 0.55,
                       generator: torch.Generator | None = None):
    """Before every optimizer.step(), add N(0, sigma_t^2) to each gradient (Neelakantan et al. 2015).

    Returns the hook handle (call .remove() to switch the noise off); the step count is in handle.state["t"].
    """
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    state = {"t": 0}

    def hook(opt, _args, _kwargs):
        sigma = gradient_noise_std(state["t"], eta, gamma)
        for group in opt.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    noise = torch.randn(p.grad.shape, generator=generator, device="cpu", dtype=p.grad.dtype)
                    p.grad.add_(noise.to(p.grad.device), alpha=sigma)
        state["t"] += 1

    handle = optimizer.register_step_pre_hook(hook)
    handle.state = state
    return handle


# ---------------------------------------------------------------- one remedy, one number
@dataclass
class RemedyResult:
    """What one training run reached: accuracies of the final model, epochs run, time, and the history."""

    name: str
    val_accuracy: float
    train_accuracy: float
    test_accuracy: float | None
    epochs: int
    best_epoch: int | None
    seconds: float
    history: History = field(repr=False)
    model: nn.Module = field(repr=False)

    def row(self) -> dict:
        """The numbers as one table row (for a pandas DataFrame)."""
        return {"remedy": self.name, "val_accuracy": self.val_accuracy, "train_accuracy": self.train_accuracy,
                "test_accuracy": self.test_accuracy, "epochs": self.epochs,
                "lowest_val_loss_epoch": self.best_epoch, "seconds": round(self.seconds, 1)}


def summarize(name: str, model: nn.Module, history: History, val_loader, test_loader=None,
              seconds: float = 0.0) -> RemedyResult:
    """Evaluate the model as it is now (e.g. best weights restored) and pack a RemedyResult."""
    val = evaluate(model, val_loader)["accuracy"]
    test = evaluate(model, test_loader)["accuracy"] if test_loader is not None else None
    return RemedyResult(name, val, history["train_accuracy"][-1], test, len(history),
                        history.best_epoch(), seconds, history, model)


def run_remedy(name: str, build: Callable[[], nn.Module], train_loader, val_loader, *, epochs: int,
               lr: float = 0.05, momentum: float = 0.9, weight_decay: float = 0.0,
               scheduler: Callable | None = None, gradient_noise: tuple[float, float] | None = None,
               early_stopping: int | None = None, test_loader=None, seed: int = 0, device="cpu",
               quiet: bool = True, **fit_kwargs) -> RemedyResult:
    """Seed, build a fresh model, train it with SGD + momentum through fit(), and return its RemedyResult.

    scheduler: a function optimizer -> scheduler (e.g. lambda o: ReduceLROnPlateau(o, factor=0.5)).
    gradient_noise: (eta, gamma) for add_gradient_noise. Other keyword arguments go to fit() (e.g. monitor=...).
    """
    seed_everything(seed)
    model = build()
    if not isinstance(model, nn.Module):
        raise TypeError(f"build must return an nn.Module, got {type(model).__name__}")
    model = model.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    if gradient_noise is not None:
        add_gradient_noise(opt, *gradient_noise, generator=torch.Generator().manual_seed(seed))
    sched = scheduler(opt) if scheduler is not None else None
    quiet_kw = {"live_plot": False, "progress": False, "verbose": False} if quiet else {}
    t0 = time.perf_counter()
    history = fit(model, train_loader, val_loader, epochs=epochs, optimizer=opt, scheduler=sched,
                  early_stopping=early_stopping, **{**quiet_kw, **fit_kwargs})
    return summarize(name, model, history, val_loader, test_loader, time.perf_counter() - t0)


# ---------------------------------------------------------------- the seeds' training recipes
#: S4-L3's recipes. ResNet's weight decay: the slide says 1e-5, He et al. (2015) used 1e-4 (used here).
RECIPES: dict[str, dict] = {
    "alexnet": {"lr": 1e-2, "momentum": 0.9, "weight_decay": 5e-4, "batch_size": 128, "dropout": 0.5,
                "plateau_factor": 0.1},
    "resnet": {"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4, "batch_size": 256, "dropout": 0.0,
               "plateau_factor": 0.1},
}


def make_recipe(name: str, model: nn.Module, patience: int = 5):
    """(optimizer, scheduler) of a RECIPES entry: SGD + momentum, learning rate / 10 on a plateau."""
    if name not in RECIPES:
        raise ValueError(f"name must be one of {sorted(RECIPES)}, got {name!r}")
    r = RECIPES[name]
    opt = torch.optim.SGD(model.parameters(), lr=r["lr"], momentum=r["momentum"], weight_decay=r["weight_decay"])
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=r["plateau_factor"], patience=patience)
    return opt, sched

