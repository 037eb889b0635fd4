"""Backpropagation from scratch: NumPy "bricks" with forward and backward, a finite-difference gradient
check, and a tiny scalar reverse-mode autodiff engine (`Value`, in the style of micrograd).

Every brick keeps its backward right next to its forward, and names its library twin in `torch_forward`
so that its gradients can be checked against `torch.autograd`:

    lin = Linear(3, 2); x = np.random.randn(5, 3)
    y = lin.forward(x); dx = lin.backward(np.ones_like(y))   # also fills lin.grads["W"], lin.grads["b"]
    check_brick(lin, x)   # {'numerical': 1e-10, 'torch': 0.0}

Conventions: a batch is a NumPy array with one row per example (as `X @ W` in the slides' code);
activation bricks work element-wise; loss bricks return one loss per row, and their backward takes
dE/dy (one number per row, default 1) and returns dE/dx.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F


# ---------------------------------------------------------------- finite differences
def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences (f(x+eps) - f(x-eps)) / 2eps of a scalar function f, for every entry of x."""
    x = np.asarray(x, dtype=np.float64)
    if eps <= 0:
        raise ValueError(f"eps must be positive, got {eps!r}")
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)  # views: we perturb x in place and restore it
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        f_plus = float(f(x))
        flat[i] = old - eps
        f_minus = float(f(x))
        flat[i] = old
        gflat[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def relative_error(a, b) -> float:
    """||a - b|| / (||a|| + ||b||): 0 when equal, about 1e-10 for a good float64 gradient check."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def gradcheck(f: Callable[[np.ndarray], float], x: np.ndarray, grad: np.ndarray, eps: float = 1e-6) -> float:
    """Relative error between an analytic gradient `grad` of scalar f at x and the finite-difference one."""
    grad = np.asarray(grad, dtype=np.float64)
    if grad.shape != np.shape(x):
        raise ValueError(f"grad has shape {grad.shape} but x has shape {np.shape(x)}")
    return relative_error(grad, numerical_gradient(f, np.array(x, dtype=np.float64), eps))


# ---------------------------------------------------------------- bricks
class Brick:
    """A node of a network: forward(x) keeps what backward needs; backward(dE/dy) returns dE/dx."""

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    def forward(self, x: np.ndarray) -> np.ndarray:
        """y = brick(x); remembers x."""
        raise NotImplementedError

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """dE/dx from dE/dy (and dE/dparam into self.grads)."""
        raise NotImplementedError

    def torch_forward(self, x: torch.Tensor, **params: torch.Tensor) -> torch.Tensor:
        """The same forward written with torch operations: the library reference for checks."""
        raise NotImplementedError

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Linear(Brick):
    """y = x W^T + b (W has shape (n_out, n_in) as in nn.Linear); dx = dy W, dW = dy^T x, db = sum of dy."""

    def __init__(self, n_in: int, n_out: int, bias: bool = True, seed: int = 0,
                 W: np.ndarray | None = None, b: np.ndarray | None = None) -> None:
        super().__init__()
        if n_in < 1 or n_out < 1:
            raise ValueError(f"n_in and n_out must be positive, got {n_in}, {n_out}")
        rng = np.random.default_rng(seed)
        bound = 1 / math.sqrt(n_in)  # nn.Linear's default range
        self.params["W"] = (np.array(W, dtype=np.float64) if W is not None
                            else rng.uniform(-bound, bound, (n_out, n_in)))
        if self.params["W"].shape != (n_out, n_in):
            raise ValueError(f"W must have shape {(n_out, n_in)}, got {self.params['W'].shape}")
        if bias:
            self.params["b"] = np.array(b, dtype=np.float64).reshape(n_out) if b is not None \
                else rng.uniform(-bound, bound, n_out)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = np.asarray(x, dtype=np.float64)
        y = self.x @ self.params["W"].T
        return y + self.params["b"] if "b" in self.params else y

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        self.grads["W"] = grad_y.T @ self.x          # slide: dE/dW = x dE/dy (transposed: rows are examples)
        if "b" in self.params:
            self.grads["b"] = grad_y.sum(axis=0)     # the bias is added to every row
        return grad_y @ self.params["W"]             # slide: dE/dx = dE/dy W

    def torch_forward(self, x, **params):
        return F.linear(x, params["W"], params.get("b"))

    def __repr__(self) -> str:
        n_out, n_in = self.params["W"].shape
        return f"Linear({n_in}, {n_out})"


class Activation(Brick):
    """An element-wise brick y_s = f(x_s); backward multiplies dE/dy by f'(x_s)."""

    def f(self, x: np.ndarray) -> np.ndarray:
        """The activation."""
        raise NotImplementedError

    def df(self, x: np.ndarray) -> np.ndarray:
        """Its derivative."""
        raise NotImplementedError

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = np.asarray(x, dtype=np.float64)
        return self.f(self.x)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        return grad_y * self.df(self.x)


class Sigmoid(Activation):
    """y = 1 / (1 + e^-x); f'(x) = 1 / ((1 + e^x)(1 + e^-x)) = sigma(x)(1 - sigma(x))."""

    def f(self, x):
        return 0.5 * (1.0 + np.tanh(0.5 * x))  # = 1/(1+e^-x), without overflow for large |x|

    def df(self, x):
        s = self.f(x)
        return s * (1.0 - s)

    def torch_forward(self, x, **params):
        return torch.sigmoid(x)


class Tanh(Activation):
    """y = tanh(x); f'(x) = 1 / cosh^2(x) = 1 - tanh^2(x)."""

    def f(self, x):
        return np.tanh(x)

    def df(self, x):
        return 1.0 - np.tanh(x) ** 2  # = 1/cosh^2, without overflow in cosh for large |x|

    def torch_forward(self, x, **params):
        return torch.tanh(x)


class ReLU(Activation):
    """y = max(0, x); f'(x) = 1{x > 0} (the subgradient 0 is used at x = 0, as in PyTorch)."""

    def f(self, x):
        return np.maximum(0.0, x)

    def df(self, x):
        return (x > 0).astype(np.float64)

    def torch_forward(self, x, **params):
        return F.relu(x)


class LeakyReLU(Activation):
    """y = max(slope * x, x) for 0 < slope < 1; f'(x) = 1 if x > 0 else slope."""

    def __init__(self, slope: float = 0.01) -> None:
        super().__init__()
        if not 0 < slope < 1:
            raise ValueError(f"slope must be between 0 and 1, got {slope!r}")
        self.slope = slope

    def f(self, x):
        return np.where(x > 0, x, self.slope * x)

    def df(self, x):
        return np.where(x > 0, 1.0, self.slope)

    def torch_forward(self, x, **params):
        return F.leaky_relu(x, self.slope)

    def __repr__(self) -> str:
        return f"LeakyReLU({self.slope})"


class Ramp(Activation):
    """y = max(-1, min(1, x)) (the slide's min(-1, max(1, x)) is always -1); f'(x) = 1{-1 < x < 1}."""

    def f(self, x):
        return np.maximum(-1.0, np.minimum(1.0, x))

    def df(self, x):
        return ((x > -1) & (x < 1)).astype(np.float64)

    def torch_forward(self, x, **params):
        return F.hardtanh(x, -1.0, 1.0)


def ramp_as_on_slide(x: np.ndarray) -> np.ndarray:
    """The slide's formula min(-1, max(1, x)), kept to show that it is the constant -1."""
    return np.minimum(-1.0, np.maximum(1.0, np.asarray(x, dtype=np.float64)))


class LossBrick(Brick):
    """A loss brick y = loss(x, target), one value per row; backward(dE/dy = 1) returns dE/dx."""

    def __call__(self, x: np.ndarray, target: np.ndarray) -> np.ndarray:
        return self.forward(x, target)

    def _grad_y(self, grad_y, n: int) -> np.ndarray:
        """dE/dy as an array of n numbers (default: ones, i.e. E = the sum of the row losses)."""
        g = np.ones(n) if grad_y is None else np.asarray(grad_y, dtype=np.float64).reshape(-1)
        if g.shape != (n,):
            raise ValueError(f"grad_y must have one value per row ({n}), got shape {np.shape(grad_y)}")
        return g


def _labels_pm1(c) -> np.ndarray:
    """Targets of the two-class bricks must be -1 or +1."""
    c = np.asarray(c, dtype=np.float64)
    if not np.all(np.isin(c, (-1.0, 1.0))):
        raise ValueError("target c must contain only -1 and +1 (the slides' two-class convention)")
    return c


class SquareLoss(LossBrick):
    """y = 1/2 ||x - d||^2 per row; dE/dx = (x - d) dE/dy."""

    def forward(self, x, target):
        self.x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        self.d = np.asarray(target, dtype=np.float64).reshape(self.x.shape)
        return 0.5 * ((self.x - self.d) ** 2).sum(axis=1)

    def backward(self, grad_y=None):
        return (self.x - self.d) * self._grad_y(grad_y, len(self.x))[:, None]

    def torch_forward(self, x, target, **params):
        return 0.5 * F.mse_loss(x, target.reshape(x.shape), reduction="none").sum(dim=1)


class LogLoss(LossBrick):
    """y = log(1 + e^(-c x)) for c = +-1; dE/dx = -c / (1 + e^(c x)) dE/dy."""

    def forward(self, x, target):
        self.x = np.asarray(x, dtype=np.float64).reshape(-1)
        self.c = _labels_pm1(target).reshape(-1)
        return np.logaddexp(0.0, -self.c * self.x)  # log(1 + e^-cx) without overflow

    def backward(self, grad_y=None):
        # -c / (1 + e^{cx}) = -c * sigmoid(-cx), written without overflow
        return -self.c * 0.5 * (1.0 - np.tanh(0.5 * self.c * self.x)) * self._grad_y(grad_y, len(self.x))

    def torch_forward(self, x, target, **params):
        return F.soft_margin_loss(x, target, reduction="none")  # torch's name for log(1 + e^(-c x))


class HingeLoss(LossBrick):
    """y = max(0, m - c x) for c = +-1; dE/dx = -c 1{c x < m} dE/dy."""

    def __init__(self, margin: float = 1.0) -> None:
        super().__init__()
        self.margin = margin

    def forward(self, x, target):
        self.x = np.asarray(x, dtype=np.float64).reshape(-1)
        self.c = _labels_pm1(target).reshape(-1)
        return np.maximum(0.0, self.margin - self.c * self.x)

    def backward(self, grad_y=None):
        return -self.c * (self.c * self.x < self.margin) * self._grad_y(grad_y, len(self.x))

    def torch_forward(self, x, target, **params):
        return torch.clamp(self.margin - target * x, min=0.0)


class LogSoftmaxLoss(LossBrick):
    """y = log(sum_k e^{x_k}) - x_c for a class c; [dE/dx]_s = (softmax(x)_s - delta_sc) dE/dy (cross-entropy)."""

    def forward(self, x, target):
        self.x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        self.c = np.asarray(target, dtype=np.int64).reshape(-1)
        if self.c.shape != (len(self.x),) or self.c.min() < 0 or self.c.max() >= self.x.shape[1]:
            raise ValueError(f"target must hold one class index in 0..{self.x.shape[1] - 1} per row")
        m = self.x.max(axis=1, keepdims=True)  # subtract the max: same value, no overflow
        lse = (m + np.log(np.exp(self.x - m).sum(axis=1, keepdims=True))).reshape(-1)
        self.p = np.exp(self.x - lse[:, None])  # softmax, kept for backward
        return lse - self.x[np.arange(len(self.x)), self.c]

    def backward(self, grad_y=None):
        g = self.p.copy()
        g[np.arange(len(g)), self.c] -= 1.0
        return g * self._grad_y(grad_y, len(g))[:, None]

    def torch_forward(self, x, target, **params):
        return F.cross_entropy(x, target, reduction="none")


class MaxMarginLoss(LossBrick):
    """y = [max_{k != c}(x_k + m) - x_c]_+ ; [dE/dx]_s = (delta_{s k*} - delta_{sc}) 1{E > 0} dE/dy."""

    def __init__(self, margin: float = 1.0) -> None:
        super().__init__()
        self.margin = margin

    def forward(self, x, target):
        self.x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        self.c = np.asarray(target, dtype=np.int64).reshape(-1)
        rows = np.arange(len(self.x))
        others = self.x.copy()
        others[rows, self.c] = -np.inf
        self.k_star = others.argmax(axis=1)  # the strongest wrong class
        self.y = np.maximum(0.0, others[rows, self.k_star] + self.margin - self.x[rows, self.c])
        return self.y

    def backward(self, grad_y=None):
        rows = np.arange(len(self.x))
        g = np.zeros_like(self.x)
        g[rows, self.k_star] += 1.0
        g[rows, self.c] -= 1.0
        return g * ((self.y > 0) * self._grad_y(grad_y, len(g)))[:, None]

    def torch_forward(self, x, target, **params):
        mask = F.one_hot(target, x.shape[1]).bool()
        best_other = x.masked_fill(mask, float("-inf")).max(dim=1).values
        return torch.clamp(best_other + self.margin - x.gather(1, target[:, None])[:, 0], min=0.0)


class Sequential(Brick):
    """Propagate through B1, ..., BM; back-propagate through BM, ..., B1."""

    def __init__(self, *bricks: Brick) -> None:
        super().__init__()
        if not bricks:
            raise ValueError("Sequential needs at least one brick")
        self.bricks = list(bricks)

    def forward(self, x):
        for brick in self.bricks:
            x = brick.forward(x)
        return x

    def backward(self, grad_y):
        for brick in reversed(self.bricks):
            grad_y = brick.backward(grad_y)
        return grad_y

    def torch_forward(self, x, **params):
        for i, brick in enumerate(self.bricks):
            x = brick.torch_forward(x, **{k.split(".", 1)[1]: v for k, v in params.items()
                                           if k.startswith(f"{i}.")})
        return x

    @property
    def all_params(self) -> dict[str, np.ndarray]:
        """Every brick's parameters, named 'index.name' as in nn.Sequential."""
        return {f"{i}.{k}": v for i, b in enumerate(self.bricks) for k, v in b.params.items()}

    @property
    def all_grads(self) -> dict[str, np.ndarray]:
        """Every brick's gradients after backward, named like all_params."""
        return {f"{i}.{k}": v for i, b in enumerate(self.bricks) for k, v in b.grads.items()}

    def __repr__(self) -> str:
        return "Sequential(" + ", ".join(map(repr, self.bricks)) + ")"


def check_brick(brick: Brick, x: np.ndarray, target=None, seed: int = 0, eps: float = 1e-6) -> dict[str, float]:
    """Check brick.backward on input x (and target, for loss bricks) two ways, with a random dE/dy.

    Returns {'numerical': relative error against finite differences (input and parameter gradients),
    'torch': largest absolute difference against torch.autograd on brick.torch_forward}.
    """
    if not isinstance(brick, Brick):
        from .checks import not_done

        not_done("check_brick", f"Pass a Brick (e.g. B.Linear(3, 2)), got {type(brick).__name__}.")
        return {"numerical": float("nan"), "torch": float("nan")}
    x = np.asarray(x, dtype=np.float64)
    is_loss = isinstance(brick, LossBrick)
    if is_loss and target is None:
        raise ValueError(f"{type(brick).__name__} is a loss brick: pass its target")
    call = (lambda v: brick.forward(v, target)) if is_loss else brick.forward
    params = brick.params if not isinstance(brick, Sequential) else brick.all_params
    y = call(x)
    upstream = np.random.default_rng(seed).normal(size=np.shape(y))  # E = sum(upstream * y)
    dx = brick.backward(upstream)
    grads = dict(brick.grads if not isinstance(brick, Sequential) else brick.all_grads)

    def energy(_: np.ndarray) -> float:
        return float((call(x) * upstream).sum())

    analytic = [dx.ravel()] + [grads[k].ravel() for k in params]
    numeric = [numerical_gradient(energy, x, eps).ravel()]
    for k in params:
        numeric.append(numerical_gradient(energy, params[k], eps).ravel())  # perturbs the parameter in place
    call(x)  # leave the brick's cache as it was
    numerical = relative_error(np.concatenate(analytic), np.concatenate(numeric))

    xt = torch.tensor(x, requires_grad=True)
    pt = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    args = (xt, torch.as_tensor(np.asarray(target))) if is_loss else (xt,)
    out = brick.torch_forward(*args, **pt)
    (out * torch.as_tensor(upstream)).sum().backward()
    reference = [xt.grad.numpy().ravel()] + [pt[k].grad.numpy().ravel() for k in params]
    diff = float(np.max(np.abs(np.concatenate(analytic) - np.concatenate(reference))))
    value_diff = float(np.max(np.abs(y - out.detach().numpy())))
    return {"numerical": numerical, "torch": max(diff, value_diff)}


# ---------------------------------------------------------------- exercise checks
def check_backward(fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
                   torch_fn: Callable[[torch.Tensor], torch.Tensor], what: str = "your backward") -> bool:
    """Does fn(x, grad_y) -> dE/dx agree with torch.autograd on the element-wise torch_fn? Prints feedback."""
    from .checks import check_function

    rng = np.random.default_rng(1)
    cases = [(np.array([-3.0, -0.5, 0.5, 3.0]), np.ones(4)),
             (rng.normal(size=(5, 3)) * 3, rng.normal(size=(5, 3))),
             (np.array([[-20.0, 20.0]]), np.array([[2.0, -1.0]])),
             (np.array([-800.0, 800.0]), np.ones(2))]  # exp(800) overflows: the backward must not

    def reference(x, grad_y):
        xt = torch.tensor(x, requires_grad=True)
        torch_fn(xt).backward(torch.tensor(grad_y))
        return xt.grad.numpy()

    return check_function(fn, reference, cases, what, rtol=1e-6, atol=1e-9,
                          hint="Multiply grad_y by the derivative f'(x), element by element.")


def height_params(seed: int = 0) -> dict[str, np.ndarray]:
    """The slides' initialisation of the 2-2-1 network (np.random.uniform after np.random.seed(seed))."""
    state = np.random.get_state()
    np.random.seed(seed)
    p = {"W1": np.random.uniform(size=(2, 2)), "b1": np.random.uniform(size=(1, 2)),
         "W2": np.random.uniform(size=(2, 1)), "b2": np.random.uniform(size=(1, 1))}
    np.random.set_state(state)  # leave the global generator as it was
    return p


def torch_height_step(params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray,
                      lr: float) -> dict[str, np.ndarray]:
    """One gradient step of the 2-2-1 ReLU network on loss sum((A2 - y)^2), computed by torch.autograd."""
    p = {k: torch.tensor(np.asarray(v, dtype=np.float64), requires_grad=True) for k, v in params.items()}
    Xt, yt = torch.as_tensor(np.asarray(X, dtype=np.float64)), torch.as_tensor(np.asarray(y, dtype=np.float64))
    A2 = torch.relu(Xt @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
    ((A2 - yt) ** 2).sum().backward()
    with torch.no_grad():
        return {k: (v - lr * v.grad).numpy() for k, v in p.items()}


def check_train_step(fn: Callable, what: str = "your training step") -> bool:
    """Does fn(params, X, y, lr) -> new params agree with a torch.autograd step? Prints feedback."""
    from .checks import check_function

    rng = np.random.default_rng(2)
    order = ("W1", "b1", "W2", "b2")
    cases = []
    for seed in (0, 1):
        X, y = rng.normal(size=(10, 2)), rng.normal(size=(10, 1))
        cases.append((height_params(seed), X, y, 0.01))

    if fn is None or fn is Ellipsis:
        from .checks import not_done

        return not_done(what, "Replace the ... with your function train_step(params, X, y, lr).")

    def flat(step):
        def run(params, X, y, lr):
            new = step({k: v.copy() for k, v in params.items()}, X.copy(), y.copy(), lr)
            if new is None or new is Ellipsis:
                return new  # unsolved: check_function says "not done yet"
            if not isinstance(new, dict) or set(new) != set(order):
                raise ValueError(f"return a dict with keys {order}, got {type(new).__name__}")
            return np.concatenate([np.ravel(new[k]) for k in order])
        return run

    return check_function(flat(fn), flat(torch_height_step), cases, what, rtol=1e-6, atol=1e-9,
                          hint="Forward, then dA2 = 2 (A2 - y), back through W2, ReLU and W1, then p -= lr * grad.")


# ---------------------------------------------------------------- a tiny autodiff engine
class Value:
    """A scalar that remembers how it was computed, so that `.backward()` can fill `.grad` of everything upstream.

    Each operation computes its result and defines, right below, `_backward`: how to pass the result's
    gradient to its inputs (the local derivative times the incoming gradient, accumulated with +=).
    """

    def __init__(self, data: float, _children: tuple = (), _op: str = "", label: str = "") -> None:
        self.data = float(data)
        self.grad = 0.0
        self._backward: Callable[[], None] = lambda: None
        self._prev = tuple(_children)
        self._op = _op
        self.label = label

    @staticmethod
    def _wrap(other) -> "Value":
        return other if isinstance(other, Value) else Value(other)

    def __add__(self, other) -> "Value":
        other = self._wrap(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad            # d(a+b)/da = 1
            other.grad += out.grad           # d(a+b)/db = 1
        out._backward = _backward
        return out

    def __mul__(self, other) -> "Value":
        other = self._wrap(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad   # d(ab)/da = b
            other.grad += self.data * out.grad   # d(ab)/db = a
        out._backward = _backward
        return out

    def __pow__(self, k: float) -> "Value":
        if not isinstance(k, (int, float)):
            raise TypeError(f"only constant exponents are supported, got {type(k).__name__}")
        out = Value(self.data ** k, (self,), f"**{k}")

        def _backward():
            self.grad += k * self.data ** (k - 1) * out.grad   # d(a^k)/da = k a^(k-1)
        out._backward = _backward
        return out

    def exp(self) -> "Value":
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad   # d(e^a)/da = e^a
        out._backward = _backward
        return out

    def log(self) -> "Value":
        if self.data <= 0:
            raise ValueError(f"log of a non-positive number ({self.data})")
        out = Value(math.log(self.data), (self,), "log")

        def _backward():
            self.grad += out.grad / self.data   # d(log a)/da = 1/a
        out._backward = _backward
        return out

    def tanh(self) -> "Value":
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t ** 2) * out.grad   # 1 - tanh^2
        out._backward = _backward
        return out

    def sigmoid(self) -> "Value":
        s = 0.5 * (1 + math.tanh(0.5 * self.data))
        out = Value(s, (self,), "sigmoid")

        def _backward():
            self.grad += s * (1 - s) * out.grad   # sigma (1 - sigma)
        out._backward = _backward
        return out

    def relu(self) -> "Value":
        out = Value(max(0.0, self.data), (self,), "relu")

        def _backward():
            self.grad += (self.data > 0) * out.grad   # subgradient 0 at 0
        out._backward = _backward
        return out

    def backward(self) -> None:
        """Set this value's grad to 1 and apply the chain rule to every node, from this one back to the leaves."""
        order = graph_nodes(self)  # topological order: a node comes after everything it was computed from
        for v in order:
            v.grad = 0.0
        self.grad = 1.0
        for v in reversed(order):
            v._backward()

    # the rest are built from the operations above
    def __neg__(self) -> "Value":
        return self * -1

    def __sub__(self, other) -> "Value":
        return self + (-self._wrap(other))

    def __truediv__(self, other) -> "Value":
        return self * self._wrap(other) ** -1

    def __radd__(self, other) -> "Value":
        return self + other

    def __rmul__(self, other) -> "Value":
        return self * other

    def __rsub__(self, other) -> "Value":
        return self._wrap(other) - self

    def __rtruediv__(self, other) -> "Value":
        return self._wrap(other) / self

    def __repr__(self) -> str:
        name = f"{self.label}=" if self.label else ""
        return f"Value({name}{self.data:.4f}, grad={self.grad:.4f})"


def graph_nodes(root: Value) -> list[Value]:
    """Every Value that `root` was computed from (root included), leaves first."""
    if not isinstance(root, Value):
        raise TypeError(f"root must be a Value, got {type(root).__name__}")
    order, seen = [], set()

    def visit(v):  # depth first: visit everything v was computed from, then v itself
        if id(v) not in seen:
            seen.add(id(v))
            for child in v._prev:
                visit(child)
            order.append(v)
    visit(root)
    return order


def plot_graph(root: Value, ax=None, title: str = "Computation graph"):
    """Draw the graph of `root` left (inputs) to right (output): each box shows op, value and grad."""
    import matplotlib.pyplot as plt

    nodes = graph_nodes(root)
    level: dict[int, int] = {}
    for v in nodes:  # leaves first, so children already have a level
        level[id(v)] = 1 + max((level[id(c)] for c in v._prev), default=-1)
    columns: dict[int, list[Value]] = {}
    for v in nodes:
        columns.setdefault(level[id(v)], []).append(v)
    pos = {}
    for lv, vs in columns.items():
        for i, v in enumerate(vs):
            pos[id(v)] = (lv, (len(vs) - 1) / 2 - i)
    if ax is None:
        depth, height = len(columns), max(len(vs) for vs in columns.values())
        _, ax = plt.subplots(figsize=(1.9 * depth + 1, 0.8 * height + 1.2))
    for v in nodes:
        x1, y1 = pos[id(v)]
        for c in v._prev:
            x0, y0 = pos[id(c)]
            ax.annotate("", xy=(x1 - 0.33, y1), xytext=(x0 + 0.33, y0),
                        arrowprops=dict(arrowstyle="->", color="0.5", lw=1))
        name = v.label or (v._op if v._op else "const")
        op = f" [{v._op}]" if v._op and v.label else ""
        ax.text(x1, y1, f"{name}{op}\nvalue {v.data:.4g}\ngrad {v.grad:.4g}", ha="center", va="center",
                fontsize=8, bbox=dict(boxstyle="round", fc="#fff5d6" if not v._prev else "#dceefc", ec="0.4"))
    ax.set_xlim(-0.6, len(columns) - 0.4)
    ys = [p[1] for p in pos.values()]
    ax.set_ylim(min(ys) - 0.7, max(ys) + 0.7)
    ax.set_xticks(range(len(columns)))
    ax.set_xlabel("depth in the graph (inputs on the left, output on the right)")
    ax.set_yticks([])
    ax.set_title(title)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    return ax
