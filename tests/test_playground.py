"""course_utils.playground: the tiny MLP trainer, its plots, and the widget (fallback and reactive paths)."""
import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from course_utils import playground as P  # noqa: E402
from course_utils import widgets  # noqa: E402
from course_utils.toydata import make_2d  # noqa: E402


def test_make_mlp_shapes_and_errors():
    m = P.make_mlp((3, 2), "sigmoid")
    assert [type(l).__name__ for l in m] == ["Linear", "Sigmoid", "Linear", "Sigmoid", "Linear"]
    assert m(torch.zeros(5, 2)).shape == (5, 1)
    assert torch.equal(P.make_mlp((3,), seed=1)[0].weight, P.make_mlp((3,), seed=1)[0].weight)
    with pytest.raises(ValueError, match="activation"):
        P.make_mlp((3,), "softsign")
    with pytest.raises(ValueError, match="hidden"):
        P.make_mlp((0,))


def test_raw_features_and_standardisation():
    X, _ = make_2d("gaussian", n=200)
    raw = P.raw_features(X)
    assert np.allclose(raw, X * [1, 10] + [3, -5], atol=1e-5)
    f = P.Features.fit(X, normalize=True)
    Z = f(X).numpy()
    assert np.allclose(Z.mean(0), 0, atol=1e-5) and np.allclose(Z.std(0), 1, atol=1e-4)
    assert np.allclose(P.Features.fit(X, normalize=False)(X).numpy(), raw)
    with pytest.raises(ValueError, match="shape"):
        P.raw_features(np.zeros((3, 3)))


def test_train_mlp_learns_and_normalisation_matters():
    X, y = make_2d("rings", n=300)
    good = P.train_mlp(X, y, (4,), "tanh", lr=0.3, batch_size=16, steps=500, normalize=True)
    raw = P.train_mlp(X, y, (4,), "tanh", lr=0.3, batch_size=16, steps=500, normalize=False)
    assert good.accuracy > 0.95 and good.losses[-1] < good.losses[0]
    assert raw.accuracy < 0.9 and len(good.losses) == 500
    assert torch.get_num_threads() >= 1


def test_train_mlp_callback_and_errors():
    X, y = make_2d("gaussian", n=100)
    seen = []
    P.train_mlp(X, y, steps=10, callback=lambda r, s: seen.append(s), every=4)
    assert seen == [4, 8, 10]
    for kw, msg in [({"lr": 0}, "lr"), ({"batch_size": 0}, "batch_size"), ({"steps": 0}, "steps")]:
        with pytest.raises(ValueError, match=msg):
            P.train_mlp(X, y, **kw)


def test_predict_proba_and_grid():
    X, y = make_2d("gaussian", n=100)
    res = P.train_mlp(X, y, steps=100, lr=0.3)
    p = P.predict_proba(res, X)
    assert p.shape == (100,) and np.all((p >= 0) & (p <= 1))
    assert ((p > 0.5) == y).mean() == pytest.approx(res.accuracy)
    xx, yy = P.grid(X, resolution=7)
    assert xx.shape == (7, 7) and xx.min() < X[:, 0].min() and yy.max() > X[:, 1].max()


@pytest.mark.parametrize("normalize", [True, False])
def test_hidden_lines_are_where_the_hidden_preactivation_is_zero(normalize):
    X, y = make_2d("rings", n=100)
    res = P.train_mlp(X, y, (3,), "sigmoid", steps=20, normalize=normalize)
    lines = P.hidden_lines(res)
    with torch.no_grad():
        pre = res.model[0](res.features(X)).numpy()
    mine = np.stack([X @ w + b for w, b in lines], axis=1)
    assert len(lines) == 3 and np.allclose(pre, mine, atol=1e-4)


def test_plot_decision_and_lines():
    X, y = make_2d("xor", n=80)
    fig, ax = plt.subplots()
    P.plot_decision(ax, lambda pts: np.full(len(pts), 0.3), X, y, title="t", resolution=10)
    P.plot_lines(ax, [(np.array([1.0, 0.0]), 0.0), (np.array([0.0, 1.0]), 0.2)])
    assert ax.get_title() == "t" and len(ax.lines) == 2
    assert ax.get_xlabel() == "x₁"
    plt.close(fig)


def test_run_draws_two_panels_and_rejects_unknown_data():
    fig, res = P.run("gaussian", hidden=2, steps=30, n=80)
    assert len(fig.axes) == 2 and "step 30" in fig.axes[0].get_title()
    assert len(fig.axes[1].lines) == 1 and res.model[0].out_features == 2
    plt.close(fig)
    with pytest.raises(ValueError, match="dataset"):
        P.run("moons")


def test_playground_falls_back_to_a_static_figure(capsys):
    assert P.playground(steps=50) is None  # no kernel here: the static fallback
    assert "Widgets cannot render here" in capsys.readouterr().out
    plt.close("all")


def test_playground_widget_retrains_on_change(monkeypatch):
    calls = []

    def fake_frames(*a, **kw):
        calls.append(a)
        from matplotlib.figure import Figure

        for _ in range(2):
            yield Figure(figsize=(1, 1))

    monkeypatch.setattr(widgets, "widgets_available", lambda: True)
    monkeypatch.setattr(P, "run_frames", fake_frames)
    monkeypatch.setattr("IPython.display.display", lambda *a, **kw: None)
    box = P.playground(steps=50)
    assert box is not None and bytes(box.children[-2].value).startswith(b"\x89PNG")
    assert calls and calls[-1][0] == "rings"
    controls = {w.description: w for row in box.children[:-2] for w in row.children}
    controls["data set"].value = "xor"
    assert box.wait_redrawn(10) and calls[-1][0] == "xor"
    controls["hidden layers"].value = 2
    assert box.wait_redrawn(10) and calls[-1][1] == (4, 4)


def test_run_frames_draws_while_training_on_plain_figures():
    from matplotlib.figure import Figure

    titles = [fig.axes[0].get_title() for fig in P.run_frames("xor", hidden=3, steps=40, n=60, frames=4)]
    assert [t.split(",")[0] for t in titles] == ["xor: step 10", "xor: step 20", "xor: step 30", "xor: step 40"]
    fig = next(P.run_frames("xor", steps=10, n=60))
    assert isinstance(fig, Figure) and fig.canvas.manager is None  # not registered with pyplot
    assert fig.axes[0].get_xlabel() == "x₁"  # no mathtext (its parser is not thread-safe)
    with pytest.raises(ValueError, match="lr"):
        next(P.run_frames("xor", lr=0))
