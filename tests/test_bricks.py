"""course_utils.bricks: every brick's backward against finite differences and torch.autograd, the checks, Value."""
import math

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")

from course_utils import bricks as B  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.normal(size=(5, 3)) * 2


def test_numerical_gradient_of_a_known_function():
    x = np.array([1.0, -2.0, 3.0])
    g = B.numerical_gradient(lambda v: float((v ** 3).sum()), x)
    assert np.allclose(g, 3 * x ** 2, rtol=1e-6)
    assert np.array_equal(x, [1.0, -2.0, 3.0])  # x is restored
    with pytest.raises(ValueError, match="eps"):
        B.numerical_gradient(lambda v: 0.0, x, eps=0)


def test_relative_error():
    assert B.relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert B.relative_error([0.0], [0.0]) == 0.0
    assert B.relative_error([1.0], [-1.0]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="shape"):
        B.relative_error([1.0], [1.0, 2.0])


def test_gradcheck_passes_and_fails():
    x = np.array([0.3, -1.2])
    f = lambda v: float(np.sin(v).sum())  # noqa: E731
    assert B.gradcheck(f, x, np.cos(x)) < 1e-8
    assert B.gradcheck(f, x, np.cos(x) + 0.1) > 1e-3
    with pytest.raises(ValueError, match="shape"):
        B.gradcheck(f, x, np.zeros(3))


@pytest.mark.parametrize("brick", [B.Linear(3, 4), B.Linear(3, 2, bias=False), B.Sigmoid(), B.Tanh(), B.ReLU(),
                                   B.LeakyReLU(0.1), B.Ramp(),
                                   B.Sequential(B.Linear(3, 4, seed=1), B.Tanh(), B.Linear(4, 2, seed=2))],
                         ids=repr)
def test_brick_backward_matches_finite_differences_and_torch(brick):
    res = B.check_brick(brick, X)
    assert res["numerical"] < 1e-7 and res["torch"] < 1e-12


LOSS_CASES = [
    (B.SquareLoss(), X, RNG.normal(size=(5, 3))),
    (B.LogLoss(), X[:, 0], np.array([1.0, -1, 1, -1, 1])),
    (B.HingeLoss(), X[:, 0] * 0.3 + 0.05, np.array([1.0, -1, 1, -1, 1])),
    (B.HingeLoss(margin=0.5), X[:, 1], np.array([-1.0, -1, 1, 1, 1])),
    (B.LogSoftmaxLoss(), X, np.array([0, 2, 1, 2, 0])),
    (B.MaxMarginLoss(), X, np.array([0, 2, 1, 2, 0])),
]


@pytest.mark.parametrize("brick,x,target", LOSS_CASES, ids=lambda v: repr(v) if isinstance(v, B.Brick) else "")
def test_loss_brick_backward(brick, x, target):
    res = B.check_brick(brick, x, target)
    assert res["numerical"] < 1e-7 and res["torch"] < 1e-12


def test_loss_bricks_values_from_the_slides_table():
    x, c = np.array([0.0, 2.0]), np.array([1.0, -1.0])
    assert np.allclose(B.LogLoss()(x, c), np.log(1 + np.exp(-c * x)))
    assert np.allclose(B.HingeLoss()(x, c), [1.0, 3.0])
    assert np.allclose(B.SquareLoss()(np.array([[3.0, 1.0]]), np.array([[1.0, 1.0]])), [2.0])
    z = np.array([[1.0, 2.0, 3.0]])
    assert np.allclose(B.LogSoftmaxLoss()(z, np.array([0])), np.log(np.exp(z).sum()) - 1.0)
    assert np.allclose(B.MaxMarginLoss()(z, np.array([2])), [0.0])          # 2 + 1 - 3 = 0
    assert np.allclose(B.MaxMarginLoss()(z, np.array([0])), [3.0])          # 3 + 1 - 1
    mm = B.MaxMarginLoss()
    mm(z, np.array([2]))
    assert np.allclose(mm.backward(), 0.0)  # no gradient when E = 0


def test_loss_brick_errors():
    with pytest.raises(ValueError, match="-1 and \\+1"):
        B.LogLoss()(np.zeros(2), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="class index"):
        B.LogSoftmaxLoss()(np.zeros((2, 3)), np.array([0, 3]))
    loss = B.SquareLoss()
    loss(np.zeros((2, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="grad_y"):
        loss.backward(np.ones(3))
    with pytest.raises(ValueError, match="target"):
        B.check_brick(B.LogLoss(), np.zeros(2))


def test_activation_values_and_ramp_erratum():
    x = np.array([-10.0, -0.5, 0.0, 0.5, 10.0])
    assert np.allclose(B.Sigmoid()(x), 1 / (1 + np.exp(-x)))
    s = B.Sigmoid()
    s(np.array([-10.0, 0.0, 10.0]))
    assert np.allclose(s.backward(np.ones(3)), [4.5396e-5, 0.25, 4.5396e-5], rtol=1e-4)
    assert np.allclose(B.Ramp()(x), [-1, -0.5, 0, 0.5, 1])
    assert np.all(B.ramp_as_on_slide(x) == -1)
    r = B.ReLU()
    r(x)
    assert np.array_equal(r.backward(np.ones(5)), [0, 0, 0, 1, 1])  # subgradient 0 at 0
    lk = B.LeakyReLU()
    lk(x)
    assert np.allclose(lk.backward(np.ones(5)), [0.01, 0.01, 0.01, 1, 1])
    with pytest.raises(ValueError, match="slope"):
        B.LeakyReLU(1.5)


def test_linear_shapes_and_errors():
    lin = B.Linear(3, 2, W=np.ones((2, 3)), b=[1.0, -1.0])
    assert np.allclose(lin(np.ones((4, 3))), [[4, 2]] * 4)
    assert repr(lin) == "Linear(3, 2)"
    with pytest.raises(ValueError, match="shape"):
        B.Linear(3, 2, W=np.ones((3, 2)))
    with pytest.raises(ValueError, match="positive"):
        B.Linear(0, 2)


def test_sequential_names_params_like_torch_and_errors():
    seq = B.Sequential(B.Linear(2, 3), B.ReLU(), B.Linear(3, 1))
    assert sorted(seq.all_params) == ["0.W", "0.b", "2.W", "2.b"]
    seq(np.ones((4, 2)))
    seq.backward(np.ones((4, 1)))
    assert sorted(seq.all_grads) == sorted(seq.all_params)
    with pytest.raises(ValueError, match="at least one"):
        B.Sequential()


def test_check_brick_detects_a_wrong_backward():
    class Wrong(B.Tanh):
        def df(self, x):
            return 1 - np.tanh(x)  # forgot the square

    res = B.check_brick(Wrong(), X)
    assert res["numerical"] > 1e-2 and res["torch"] > 1e-2


def test_check_backward_reports(capsys):
    good = lambda x, g: g * 0.5 * (1 + np.tanh(0.5 * x))  # noqa: E731  softplus' = sigmoid
    assert B.check_backward(good, torch.nn.functional.softplus, "softplus")
    assert not B.check_backward(lambda x, g: g, torch.nn.functional.softplus, "softplus")
    with np.errstate(over="ignore", invalid="ignore"):  # the naive form overflows at x = 800 and must fail
        assert not B.check_backward(lambda x, g: g * np.exp(x) / (1 + np.exp(x)), torch.nn.functional.softplus)
    out = capsys.readouterr().out
    assert "✅" in out and "❌" in out


def test_height_params_are_the_slides_init_and_leave_the_global_rng_alone():
    np.random.seed(0)
    expected = np.random.uniform(size=(2, 2))
    np.random.seed(5)
    before = np.random.get_state()[1].copy()
    p = B.height_params(0)
    assert np.array_equal(p["W1"], expected)
    assert np.array_equal(np.random.get_state()[1], before)
    assert {k: v.shape for k, v in p.items()} == {"W1": (2, 2), "b1": (1, 2), "W2": (2, 1), "b2": (1, 1)}


def _numpy_step(p, X, y, lr):
    Z1 = X @ p["W1"] + p["b1"]
    A1 = np.maximum(0, Z1)
    A2 = A1 @ p["W2"] + p["b2"]
    dZ2 = 2 * (A2 - y)
    dW2, db2 = A1.T @ dZ2, dZ2.sum(0, keepdims=True)
    dZ1 = dZ2 @ p["W2"].T * (Z1 > 0)
    dW1, db1 = X.T @ dZ1, dZ1.sum(0, keepdims=True)
    return {"W1": p["W1"] - lr * dW1, "b1": p["b1"] - lr * db1, "W2": p["W2"] - lr * dW2, "b2": p["b2"] - lr * db2}


def test_torch_height_step_equals_the_slides_backward():
    X, y = RNG.normal(size=(10, 2)), RNG.normal(size=(10, 1))
    p = B.height_params(0)
    new = B.torch_height_step(p, X, y, 0.01)
    ref = _numpy_step(p, X, y, 0.01)
    for k in ref:
        assert np.allclose(new[k], ref[k], rtol=0, atol=1e-12)


def test_check_train_step(capsys):
    assert B.check_train_step(_numpy_step)
    assert not B.check_train_step(lambda p, X, y, lr: p)                       # no update
    assert not B.check_train_step(lambda p, X, y, lr: None)                    # unsolved: body still ...
    assert not B.check_train_step(lambda p, X, y, lr: [p])                     # wrong return type
    out = capsys.readouterr().out
    assert out.count("✅") == 1 and out.count("❌") == 2 and out.count("not done yet") == 1


def test_value_matches_torch():
    a, b = B.Value(-1.5, label="a"), B.Value(0.7, label="b")
    out = ((a * b + a ** 2).tanh() + (b / a).sigmoid() + (b.exp() + 1).log() - a.relu() + 3 / b - (2 - a)) * -2
    out.backward()
    at, bt = torch.tensor(-1.5, dtype=torch.float64, requires_grad=True), \
        torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    ot = (torch.tanh(at * bt + at ** 2) + torch.sigmoid(bt / at) + torch.log(torch.exp(bt) + 1) - torch.relu(at)
          + 3 / bt - (2 - at)) * -2
    ot.backward()
    assert math.isclose(out.data, ot.item(), rel_tol=1e-12)
    assert math.isclose(a.grad, at.grad.item(), rel_tol=1e-12)
    assert math.isclose(b.grad, bt.grad.item(), rel_tol=1e-12)


def test_value_reused_node_accumulates_and_backward_is_repeatable():
    x = B.Value(3.0)
    y = x * x + x  # x is used three times
    y.backward()
    assert x.grad == 7.0
    y.backward()
    assert x.grad == 7.0  # grads are reset, not doubled
    with pytest.raises(ValueError, match="non-positive"):
        B.Value(0.0).log()
    with pytest.raises(TypeError, match="constant"):
        x ** B.Value(2.0)
    assert "grad=" in repr(x)


def test_graph_nodes_and_plot_graph():
    a, b = B.Value(2.0, label="a"), B.Value(-3.0, label="b")
    c = a * b
    c.label = "c"
    d = c + a
    nodes = B.graph_nodes(d)
    assert nodes[-1] is d and len(nodes) == 4 and {a, b} <= set(nodes)
    d.backward()
    ax = B.plot_graph(d)
    assert ax.get_title() == "Computation graph" and sum("value" in t.get_text() for t in ax.texts) == 4
    with pytest.raises(TypeError, match="Value"):
        B.graph_nodes(3.0)
