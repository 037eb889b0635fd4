"""Optimizers from scratch (each checked against torch.optim), 2-D test surfaces, trajectories and animations.

The from-scratch optimizers use the torch.optim calling convention: build with the parameters,
then per step `zero_grad()`, `loss.backward()`, `step()`. Each one is a few lines in `update()`.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .env import single_thread

__all__ = [
    "single_thread", "ScratchOptimizer", "SGD", "Momentum", "Nesterov", "AdaGrad", "AdaDelta", "RMSProp", "Adam",
    "SCRATCH", "TORCH", "make_optimizer", "side_by_side", "max_param_diff",
    "updates_per_epoch", "hessian_entries", "newton_step", "per_example_gradients", "minibatch_noise",
    "Surface", "SURFACES", "get_surface", "run_trajectory", "race", "plot_surface", "plot_trajectories",
    "animate_trajectories", "lr_schedule", "adam_reference_step", "check_adam_step",
]


# ---------------------------------------------------------------- from-scratch optimizers
class ScratchOptimizer:
    """Base class: keeps the parameters and a state dict per parameter; subclasses write `update`."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float):
        self.params = list(params)
        if not self.params:
            raise ValueError("params is empty: pass model.parameters() or a list of tensors")
        if not isinstance(lr, (int, float)) or lr <= 0:
            raise ValueError(f"lr must be a positive number, got {lr!r}")
        self.lr = float(lr)
        self.state: list[dict] = [{} for _ in self.params]
        self.t = 0  # number of steps taken

    def zero_grad(self) -> None:
        """Forget the gradients of the last step (like torch.optim with set_to_none=True)."""
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """Move every parameter that has a gradient: p <- p - update(p.grad)."""
        self.t += 1
        for p, state in zip(self.params, self.state):
            if p.grad is not None:
                p.sub_(self.update(p.grad, state))

    def update(self, g: torch.Tensor, state: dict) -> torch.Tensor:
        """The amount to subtract from a parameter whose gradient is `g`."""
        raise NotImplementedError


def _check_unit(name: str, value: float, closed_low: bool = True) -> None:
    """Raise if a decay rate is outside [0, 1)."""
    if not (0 <= value < 1 if closed_low else 0 < value < 1):
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")


class SGD(ScratchOptimizer):
    """Plain (stochastic) gradient descent: theta <- theta - lr * g."""

    def update(self, g, state):
        return self.lr * g


class Momentum(ScratchOptimizer):
    """The slides' momentum: v <- gamma*v + lr*g ; theta <- theta - v (torch: SGD(momentum=gamma))."""

    def __init__(self, params, lr: float, momentum: float = 0.9):
        super().__init__(params, lr)
        _check_unit("momentum", momentum)
        self.momentum = momentum

    def update(self, g, state):
        v = state.get("v")
        state["v"] = v = self.lr * g if v is None else self.momentum * v + self.lr * g
        return v


class Nesterov(ScratchOptimizer):
    """Nesterov momentum stored at the look-ahead point: v <- gamma*v + lr*g ; step = lr*g + gamma*v.

    The slides take the gradient at theta - gamma*v. Here (as in torch.optim.SGD(nesterov=True)) the stored
    parameters ARE that look-ahead point, so the ordinary gradient is already the look-ahead gradient.
    """

    def __init__(self, params, lr: float, momentum: float = 0.9):
        super().__init__(params, lr)
        if not 0 < momentum < 1:
            raise ValueError(f"momentum must be in (0, 1) for Nesterov, got {momentum!r}")
        self.momentum = momentum

    def update(self, g, state):
        v = state.get("v")
        state["v"] = v = self.lr * g if v is None else self.momentum * v + self.lr * g
        return self.lr * g + self.momentum * v


class AdaGrad(ScratchOptimizer):
    """AdaGrad: G <- G + g^2 ; theta <- theta - lr*g/(sqrt(G)+eps) (eps_inside=True: lr*g/sqrt(G+eps))."""

    def __init__(self, params, lr: float = 0.01, eps: float = 1e-10, eps_inside: bool = False):
        super().__init__(params, lr)
        self.eps, self.eps_inside = eps, eps_inside

    def update(self, g, state):
        state["G"] = G = state.get("G", torch.zeros_like(g)) + g * g
        denom = (G + self.eps).sqrt() if self.eps_inside else G.sqrt() + self.eps
        return self.lr * g / denom


class AdaDelta(ScratchOptimizer):
    """AdaDelta: step = RMS[dtheta]_{t-1} / RMS[g]_t * g, times lr (lr=1 is the paper's and slides' form)."""

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6):
        super().__init__(params, lr)
        _check_unit("rho", rho)
        self.rho, self.eps = rho, eps

    def update(self, g, state):
        rho = self.rho
        state["Eg2"] = Eg2 = rho * state.get("Eg2", torch.zeros_like(g)) + (1 - rho) * g * g
        Edx2 = state.get("Edx2", torch.zeros_like(g))
        delta = (Edx2 + self.eps).sqrt() / (Eg2 + self.eps).sqrt() * g
        state["Edx2"] = rho * Edx2 + (1 - rho) * delta * delta
        return self.lr * delta


class RMSProp(ScratchOptimizer):
    """RMSProp: E[g^2] <- a*E[g^2] + (1-a)*g^2 ; theta <- theta - lr*g/(sqrt(E[g^2])+eps) (or eps inside)."""

    def __init__(self, params, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8, eps_inside: bool = False):
        super().__init__(params, lr)
        _check_unit("alpha", alpha)
        self.alpha, self.eps, self.eps_inside = alpha, eps, eps_inside

    def update(self, g, state):
        a = self.alpha
        state["Eg2"] = Eg2 = a * state.get("Eg2", torch.zeros_like(g)) + (1 - a) * g * g
        denom = (Eg2 + self.eps).sqrt() if self.eps_inside else Eg2.sqrt() + self.eps
        return self.lr * g / denom


class Adam(ScratchOptimizer):
    """Adam: moving averages m, v of g and g^2, bias-corrected, step = lr * m_hat / (sqrt(v_hat) + eps)."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 bias_correction: bool = True):
        super().__init__(params, lr)
        _check_unit("betas[0]", betas[0])
        _check_unit("betas[1]", betas[1])
        self.betas, self.eps, self.bias_correction = betas, eps, bias_correction

    def update(self, g, state):
        b1, b2 = self.betas
        state["m"] = m = b1 * state.get("m", torch.zeros_like(g)) + (1 - b1) * g
        state["v"] = v = b2 * state.get("v", torch.zeros_like(g)) + (1 - b2) * g * g
        if self.bias_correction:
            m, v = m / (1 - b1 ** self.t), v / (1 - b2 ** self.t)
        return self.lr * m / (v.sqrt() + self.eps)


#: The seven from-scratch optimizers by name, and the torch.optim optimizer each one is checked against.
SCRATCH: dict[str, type[ScratchOptimizer]] = {
    "SGD": SGD, "Momentum": Momentum, "Nesterov": Nesterov, "AdaGrad": AdaGrad,
    "AdaDelta": AdaDelta, "RMSProp": RMSProp, "Adam": Adam,
}
TORCH: dict[str, Callable] = {
    "SGD": lambda p, lr, momentum=0.9: torch.optim.SGD(p, lr=lr),
    "Momentum": lambda p, lr, momentum=0.9: torch.optim.SGD(p, lr=lr, momentum=momentum),
    "Nesterov": lambda p, lr, momentum=0.9: torch.optim.SGD(p, lr=lr, momentum=momentum, nesterov=True),
    "AdaGrad": lambda p, lr, momentum=0.9: torch.optim.Adagrad(p, lr=lr),
    "AdaDelta": lambda p, lr, momentum=0.9: torch.optim.Adadelta(p, lr=lr),
    "RMSProp": lambda p, lr, momentum=0.9: torch.optim.RMSprop(p, lr=lr),
    "Adam": lambda p, lr, momentum=0.9: torch.optim.Adam(p, lr=lr),
}


def make_optimizer(name: str, params, lr: float, momentum: float = 0.9, scratch: bool = True):
    """One of the seven optimizers by name (from scratch, or torch.optim's), with torch's default settings."""
    if name not in SCRATCH:
        raise ValueError(f"name must be one of {list(SCRATCH)}, got {name!r}")
    if not scratch:
        return TORCH[name](params, lr, momentum)
    if name in ("Momentum", "Nesterov"):
        return SCRATCH[name](params, lr, momentum=momentum)
    return SCRATCH[name](params, lr)


# ---------------------------------------------------------------- checking against torch.optim
def _problem(seed: int = 0) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """A small float64 regression net (4 -> 8 -> 1, tanh) and 32 fixed examples."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(32, 4, generator=g, dtype=torch.float64)
    y = torch.sin(x.sum(1, keepdim=True)) + 0.1 * torch.randn(32, 1, generator=g, dtype=torch.float64)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    return model, x, y


def side_by_side(make_scratch: Callable, make_torch: Callable, steps: int = 100, seed: int = 0
                 ) -> tuple[list[torch.Tensor], list[torch.Tensor], float]:
    """Train two identical copies of a small net, one per optimizer, for `steps` full-batch steps.

    make_scratch / make_torch: functions params -> optimizer. Returns (scratch params, torch params,
    final loss of the torch copy).
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    model_a, x, y = _problem(seed)
    model_b, _, _ = _problem(seed)
    opt_a, opt_b = make_scratch(list(model_a.parameters())), make_torch(list(model_b.parameters()))
    with single_thread():
        for _ in range(steps):
            for model, opt in ((model_a, opt_a), (model_b, opt_b)):
                loss = nn.functional.mse_loss(model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
    with torch.no_grad():
        final = nn.functional.mse_loss(model_b(x), y).item()
    return ([p.detach().clone() for p in model_a.parameters()],
            [p.detach().clone() for p in model_b.parameters()], final)


def max_param_diff(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> float:
    """The largest absolute difference between two lists of same-shaped tensors."""
    if len(a) != len(b):
        raise ValueError(f"a and b hold different numbers of tensors ({len(a)} vs {len(b)})")
    for s, t in zip(a, b):
        if s.shape != t.shape:
            raise ValueError(f"shapes differ: {tuple(s.shape)} vs {tuple(t.shape)}")
    return max(float((s - t).abs().max()) for s, t in zip(a, b))


# ---------------------------------------------------------------- arithmetic of GD variants
def updates_per_epoch(n: int, batch_size: int, drop_last: bool = False) -> int:
    """Parameter updates in one epoch of n examples: 1 for batch GD (B = n), n for SGD (B = 1), ceil(n/B) otherwise."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if not isinstance(batch_size, int) or not 1 <= batch_size:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    batch_size = min(batch_size, n)
    return n // batch_size if drop_last else math.ceil(n / batch_size)


def hessian_entries(model_or_count: nn.Module | int) -> tuple[int, int]:
    """(number of parameters P, number of Hessian entries P**2) of a model or a parameter count."""
    if isinstance(model_or_count, nn.Module):
        p = sum(t.numel() for t in model_or_count.parameters())
    elif isinstance(model_or_count, int) and model_or_count > 0:
        p = model_or_count
    else:
        raise ValueError(f"model_or_count must be an nn.Module or a positive int, got {model_or_count!r}")
    return p, p * p


def newton_step(f: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor) -> torch.Tensor:
    """One Newton step theta - H^{-1} g for a function of one vector (solves H d = g, never inverts H)."""
    theta = torch.as_tensor(theta, dtype=torch.float64)
    if theta.ndim != 1:
        raise ValueError(f"theta must be a 1-D vector, got shape {tuple(theta.shape)}")
    g = torch.autograd.functional.jacobian(f, theta)
    H = torch.autograd.functional.hessian(f, theta)
    return theta - torch.linalg.solve(H, g)


def per_example_gradients(model: nn.Module, loss_fn: Callable, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The gradient of the loss of every single example, flattened: shape (N, number of parameters)."""
    from torch.func import functional_call, grad, vmap

    if len(x) != len(y):
        raise ValueError(f"x and y have different lengths ({len(x)} vs {len(y)})")
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss_one(p, xi, yi):
        return loss_fn(functional_call(model, p, (xi.unsqueeze(0),)), yi.unsqueeze(0))

    grads = vmap(grad(loss_one), in_dims=(None, 0, 0))(params, x, y)
    return torch.cat([g.reshape(len(x), -1) for g in grads.values()], dim=1)


def minibatch_noise(per_example: torch.Tensor, batch_sizes: Iterable[int], draws: int = 200, seed: int = 0
                    ) -> dict[int, float]:
    """Mean squared distance between a random mini-batch gradient and the full-batch gradient, per batch size.

    per_example: (N, P) gradients of single examples. Mini-batches are drawn without replacement.
    """
    if per_example.ndim != 2:
        raise ValueError(f"per_example must be (N, P), got shape {tuple(per_example.shape)}")
    if not isinstance(draws, int) or draws < 1:
        raise ValueError(f"draws must be a positive int, got {draws!r}")
    n = len(per_example)
    full = per_example.mean(0)
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for b in batch_sizes:
        if not isinstance(b, int) or not 1 <= b <= n:
            raise ValueError(f"each batch size must be an int between 1 and {n}, got {b!r}")
        pick = torch.zeros(draws, n, dtype=per_example.dtype)  # row d averages the examples of draw d
        for d in range(draws):
            pick[d, torch.randperm(n, generator=gen)[:b]] = 1.0 / b
        batch_grads = pick @ per_example
        out[b] = float(((batch_grads - full) ** 2).sum(1).mean())
    return out


# ---------------------------------------------------------------- 2-D surfaces and trajectories
@dataclass
class Surface:
    """A 2-D loss surface f(x, y) (torch ops), where to start, where the minimum is, and good plot limits."""

    name: str
    f: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    start: tuple[float, float]
    minimum: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    lrs: dict[str, float] = field(default_factory=dict)  # a learning rate per optimizer that works here
    steps: int = 100
    log_levels: bool = False

    def __call__(self, x, y):
        return self.f(x, y)

    def grid(self, n: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """X, Y, Z arrays for contour plots."""
        X, Y = np.meshgrid(np.linspace(*self.xlim, n), np.linspace(*self.ylim, n))
        Z = self.f(torch.from_numpy(X), torch.from_numpy(Y)).numpy()
        return X, Y, Z


def _ravine(x, y):
    return 0.02 * x ** 2 + 2.0 * y ** 2


def _rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


def _saddle(x, y):
    return 0.5 * x ** 2 + 0.25 * y ** 4 - 0.5 * y ** 2


def _plateau(x, y):
    return 1 - torch.exp(-(x ** 2 + 2 * y ** 2) / 2)


SURFACES: dict[str, Surface] = {
    "ravine": Surface("ravine: 0.02x² + 2y²", _ravine, (-9.0, 1.5), (0.0, 0.0), (-10, 10), (-2.5, 2.5),
                      {"SGD": 0.45, "Momentum": 0.05, "Nesterov": 0.05, "AdaGrad": 1.0, "AdaDelta": 10.0,
                       "RMSProp": 0.1, "Adam": 0.3}),
    "rosenbrock": Surface("Rosenbrock: (1-x)² + 100(y-x²)²", _rosenbrock, (-1.5, 2.0), (1.0, 1.0),
                          (-2.0, 2.0), (-1.0, 3.0),
                          {"SGD": 1e-3, "Momentum": 5e-4, "Nesterov": 5e-4, "AdaGrad": 0.5, "AdaDelta": 3.0,
                           "RMSProp": 0.01, "Adam": 0.1}, steps=500, log_levels=True),
    "saddle": Surface("saddle point: 0.5x² + 0.25y⁴ - 0.5y²", _saddle, (-2.5, 1e-3), (0.0, 1.0),
                      (-3.0, 3.0), (-2.0, 2.0),
                      {"SGD": 0.1, "Momentum": 0.01, "Nesterov": 0.01, "AdaGrad": 0.3, "AdaDelta": 10.0,
                       "RMSProp": 0.03, "Adam": 0.1}),
    "plateau": Surface("plateau: 1 - exp(-(x² + 2y²)/2)", _plateau, (-3.2, 1.6), (0.0, 0.0),
                       (-4.0, 4.0), (-3.0, 3.0),
                       {"SGD": 0.5, "Momentum": 0.1, "Nesterov": 0.1, "AdaGrad": 0.3, "AdaDelta": 3.0,
                        "RMSProp": 0.03, "Adam": 0.1}),
}


def get_surface(name: str | Surface) -> Surface:
    """A Surface by name ('ravine', 'rosenbrock', 'saddle', 'plateau'), or the Surface itself."""
    if isinstance(name, Surface):
        return name
    if name not in SURFACES:
        raise ValueError(f"surface must be one of {list(SURFACES)}, got {name!r}")
    return SURFACES[name]


def run_trajectory(surface: str | Surface, make_opt: Callable, steps: int | None = None,
                   start: tuple[float, float] | None = None, bound: float = 1e6) -> np.ndarray:
    """Points visited by an optimizer on a surface: array (steps + 1, 2); stops early if it diverges past `bound`."""
    s = get_surface(surface)
    steps = s.steps if steps is None else steps
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative int, got {steps!r}")
    p = torch.tensor(s.start if start is None else start, dtype=torch.float64, requires_grad=True)
    opt = make_opt([p])
    points = [p.detach().clone()]
    with single_thread():
        for _ in range(steps):
            loss = s.f(p[0], p[1])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if not torch.isfinite(p).all() or p.abs().max() > bound:
                break
            points.append(p.detach().clone())
    return torch.stack(points).numpy()


def race(surface: str | Surface, names: Iterable[str] = tuple(SCRATCH), lr_scale: float = 1.0,
         momentum: float = 0.9, steps: int | None = None, scratch: bool = True) -> dict[str, np.ndarray]:
    """Trajectories of several optimizers on one surface, each with the surface's learning rate times lr_scale."""
    s = get_surface(surface)
    if lr_scale <= 0:
        raise ValueError(f"lr_scale must be positive, got {lr_scale!r}")
    out = {}
    for name in names:
        lr = s.lrs.get(name, 0.01) * lr_scale
        out[name] = run_trajectory(s, lambda p, name=name, lr=lr: make_optimizer(name, p, lr, momentum, scratch),
                                   steps)
    return out


COLORS = {"SGD": "tab:blue", "Momentum": "tab:orange", "Nesterov": "tab:green", "AdaGrad": "tab:red",
          "AdaDelta": "tab:purple", "RMSProp": "tab:brown", "Adam": "tab:pink", "Newton": "black"}


def plot_surface(surface: str | Surface, ax=None, levels: int = 20):
    """Filled contours of a surface with its start (o) and minimum (*) marked; returns the axes."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    s = get_surface(surface)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    X, Y, Z = s.grid()
    style = dict(cmap="viridis", alpha=0.35)  # filled contours: light, and small as PNG
    if s.log_levels:
        ax.contourf(X, Y, Z, levels=np.logspace(-1, 3.5, levels), norm=LogNorm(), extend="both", **style)
    else:
        ax.contourf(X, Y, Z, levels=levels, **style)
    ax.plot(*s.start, "ko", ms=5)
    ax.plot(*s.minimum, "k*", ms=12)
    ax.set(xlim=s.xlim, ylim=s.ylim, xlabel="θ₁", ylabel="θ₂", title=s.name)
    return ax


def plot_trajectories(surface: str | Surface, trajectories: dict[str, np.ndarray], ax=None, legend: bool = True,
                      title: str | None = None):
    """Trajectories (name -> points) drawn over the surface's contours; returns the axes."""
    s = get_surface(surface)
    ax = plot_surface(s, ax)
    for name, pts in trajectories.items():
        ax.plot(pts[:, 0], pts[:, 1], ".-", ms=2, lw=1.2, color=COLORS.get(name), label=name)
        ax.plot(pts[-1, 0], pts[-1, 1], "o", ms=5, mec="white", color=COLORS.get(name))  # where it ended
    if title:
        ax.set_title(title)
    if legend:
        ax.legend(fontsize=7, loc="best")
    return ax


def animate_trajectories(surface: str | Surface, trajectories: dict[str, np.ndarray], frames: int = 30,
                         figsize: tuple[float, float] = (5.0, 3.6), dpi: int = 60, interval: int = 120):
    """An animated PNG (IPython Image) of the trajectories being drawn, `interval` ms per frame.

    A plain picture, not JavaScript: it plays in JupyterLab's windowing mode, on GitHub, in Colab and in slides.
    """
    from matplotlib.figure import Figure

    from .viz import animation

    if not isinstance(frames, int) or frames < 2:
        raise ValueError(f"frames must be an int >= 2, got {frames!r}")
    if not trajectories:
        raise ValueError("trajectories is empty: pass {name: (steps, 2) array}, e.g. race(...)")
    s = get_surface(surface)
    fig = Figure(figsize=figsize, dpi=dpi)
    ax = fig.subplots()
    plot_surface(s, ax)
    lines = {n: ax.plot([], [], ".-", ms=2, lw=1.2, color=COLORS.get(n), label=n)[0] for n in trajectories}
    heads = {n: ax.plot([], [], "o", ms=5, color=COLORS.get(n))[0] for n in trajectories}
    ax.legend(fontsize=6, loc="best")
    longest = max(len(p) for p in trajectories.values())
    ends = np.linspace(1, longest, frames).round().astype(int)
    fig.tight_layout()

    def draw():
        for i in range(frames):
            for n, pts in trajectories.items():
                k = min(ends[i], len(pts))
                lines[n].set_data(pts[:k, 0], pts[:k, 1])
                heads[n].set_data(pts[k - 1:k, 0], pts[k - 1:k, 1])
            ax.set_title(f"{s.name.split(':')[0]}: step {ends[i] - 1}")
            yield fig

    return animation(draw(), duration=interval)


# ---------------------------------------------------------------- learning-rate schedules
def lr_schedule(make_scheduler: Callable, steps: int, lr: float = 0.1, metrics: Sequence[float] | None = None,
                optimizer: str = "sgd") -> list[float]:
    """The learning rate at each of `steps` steps of a scheduler built on a throwaway optimizer.

    make_scheduler(optimizer) -> scheduler. `metrics` (one per step) feed ReduceLROnPlateau.
    Nothing you train is touched, so plotting a schedule never advances the real one.
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if metrics is not None and len(metrics) < steps:
        raise ValueError(f"metrics has {len(metrics)} values but steps={steps}: give one per step")
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr, momentum=0.9) if optimizer == "sgd" else torch.optim.Adam([p], lr=lr)
    sched = make_scheduler(opt)
    lrs = []
    for i in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()  # no gradient, so nothing moves; keeps the scheduler's call order check happy
        if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
            if metrics is None:
                raise ValueError("ReduceLROnPlateau needs metrics=[...] (a validation loss per step)")
            sched.step(metrics[i])
        else:
            sched.step()
    return lrs


# ---------------------------------------------------------------- exercise check
def adam_reference_step(theta: torch.Tensor, grad: torch.Tensor, m: torch.Tensor, v: torch.Tensor, t: int,
                        lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """torch.optim.Adam's step t (t = 1, 2, ...) from state (m, v): returns (new theta, new m, new v)."""
    if not isinstance(t, int) or t < 1:
        raise ValueError(f"t must be an int >= 1 (the number of this step), got {t!r}")
    p = theta.detach().clone().double().requires_grad_(True)
    opt = torch.optim.Adam([p], lr=lr, betas=(beta1, beta2), eps=eps)
    p.grad = grad.detach().clone().double()
    opt.state[p] = {"step": torch.tensor(float(t - 1)), "exp_avg": m.detach().clone().double(),
                    "exp_avg_sq": v.detach().clone().double()}
    opt.step()
    s = opt.state[p]
    return p.detach(), s["exp_avg"], s["exp_avg_sq"]


def check_adam_step(fn: Callable) -> bool:
    """Exercise check: does fn(theta, grad, m, v, t, lr, beta1, beta2, eps) -> (theta, m, v) match torch.optim.Adam?"""
    from .checks import check_function

    g = torch.Generator().manual_seed(1)

    def case(t, lr):
        r = lambda: torch.randn(5, generator=g, dtype=torch.float64)  # noqa: E731
        return (r(), r(), 0.1 * r(), 0.01 * r().abs(), t, lr, 0.9, 0.999, 1e-8)

    cases = [case(1, 1e-3), case(2, 1e-2), case(10, 0.1), case(1000, 1e-3)]
    cases.append((torch.zeros(3, dtype=torch.float64), torch.tensor([0.5, -2.0, 1e-3], dtype=torch.float64),
                  torch.zeros(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64), 1, 0.1, 0.9, 0.999, 1e-8))

    from .checks import is_unsolved, not_done

    what = "your Adam step"
    if fn is None or fn is Ellipsis:
        return not_done(what, "Replace the ... with your function adam_step(theta, grad, m, v, t, ...).")

    def stacked(f):
        def run(*c):
            out = f(*c)
            if is_unsolved(out):
                return None  # check_function reports "not done yet"
            return torch.stack([torch.as_tensor(a, dtype=torch.float64) for a in out])
        return run

    try:
        probe = stacked(fn)(*cases[0])
    except Exception:  # noqa: BLE001 - check_function below reports the student's error
        probe = None
    if probe is not None and torch.equal(probe, torch.stack([torch.as_tensor(a, dtype=torch.float64) for a in cases[0][:3]])):
        return not_done(what, "It returns theta, m and v unchanged: update m and v, correct their bias, then theta.")
    return check_function(stacked(fn), stacked(adam_reference_step), cases, what=what,
                          rtol=1e-7, atol=1e-10,
                          hint="Order: m, v, then m_hat = m/(1-beta1**t), v_hat = v/(1-beta2**t), "
                               "theta - lr*m_hat/(sqrt(v_hat)+eps). Return (theta, m, v) with m, v NOT corrected.")
