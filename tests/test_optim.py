"""course_utils.optim: every from-scratch optimizer equals torch.optim; surfaces, trajectories, schedules, checks."""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from course_utils import optim as O  # noqa: E402

LRS = {"SGD": 0.1, "Momentum": 0.05, "Nesterov": 0.05, "AdaGrad": 0.1, "AdaDelta": 1.0, "RMSProp": 0.01,
       "Adam": 0.01}


@pytest.mark.parametrize("name", list(O.SCRATCH))
def test_each_scratch_optimizer_matches_torch(name):
    lr = LRS[name]
    a, b, loss = O.side_by_side(lambda p: O.make_optimizer(name, p, lr),
                                lambda p: O.make_optimizer(name, p, lr, scratch=False), steps=100)
    assert O.max_param_diff(a, b) < 1e-12
    assert math.isfinite(loss)


def test_wrong_settings_do_not_match_torch():
    # eps inside the root (the S2/S4 slides) is a different optimizer than torch's RMSprop
    a, b, _ = O.side_by_side(lambda p: O.RMSProp(p, lr=0.01, eps=1e-2, eps_inside=True),
                             lambda p: torch.optim.RMSprop(p, lr=0.01, eps=1e-2))
    assert O.max_param_diff(a, b) > 1e-6
    a, b, _ = O.side_by_side(lambda p: O.Adam(p, lr=0.01, bias_correction=False),
                             lambda p: torch.optim.Adam(p, lr=0.01))
    assert O.max_param_diff(a, b) > 1e-4
    a, b, _ = O.side_by_side(lambda p: O.AdaGrad(p, lr=0.1, eps=1e-2, eps_inside=True),
                             lambda p: torch.optim.Adagrad(p, lr=0.1, eps=1e-2))
    assert O.max_param_diff(a, b) > 1e-6


def test_scratch_optimizer_base_and_errors():
    p = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="params is empty"):
        O.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="lr must be a positive"):
        O.SGD([p], lr=0)
    with pytest.raises(ValueError, match="momentum"):
        O.Momentum([p], lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match="momentum"):
        O.Nesterov([p], lr=0.1, momentum=0.0)
    with pytest.raises(ValueError, match="rho"):
        O.AdaDelta([p], rho=1.5)
    with pytest.raises(ValueError, match="alpha"):
        O.RMSProp([p], alpha=-0.1)
    with pytest.raises(ValueError, match="betas"):
        O.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(NotImplementedError):
        p.grad = torch.ones(2)
        O.ScratchOptimizer([p], lr=0.1).step()
    opt = O.SGD([p], lr=0.5)
    p.grad = torch.tensor([1.0, -2.0])
    opt.step()
    assert torch.equal(p.detach(), torch.tensor([-0.5, 1.0])) and opt.t == 1
    opt.zero_grad()
    assert p.grad is None
    opt.step()  # no gradient: nothing moves
    assert torch.equal(p.detach(), torch.tensor([-0.5, 1.0]))


def test_single_thread_restores_thread_count():
    before = torch.get_num_threads()
    with O.single_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_momentum_is_the_slides_formula():
    p = torch.zeros(1, requires_grad=True)
    opt = O.Momentum([p], lr=0.1, momentum=0.9)
    for _ in range(2):
        p.grad = torch.ones(1)
        opt.step()
    # v1 = 0.1, v2 = 0.9 * 0.1 + 0.1 = 0.19 ; theta = -(0.1 + 0.19)
    assert p.item() == pytest.approx(-0.29)


def test_adam_first_step_is_lr_whatever_the_gradient():
    for g in (1e-4, 0.5, 1e3):
        p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        opt = O.Adam([p], lr=0.01)
        p.grad = torch.tensor([g], dtype=torch.float64)
        opt.step()
        assert -p.item() == pytest.approx(0.01, rel=1e-4)


def test_make_optimizer():
    p = [torch.zeros(1, requires_grad=True)]
    assert isinstance(O.make_optimizer("Adam", p, 0.1), O.Adam)
    assert isinstance(O.make_optimizer("Adam", p, 0.1, scratch=False), torch.optim.Adam)
    assert O.make_optimizer("Momentum", p, 0.1, momentum=0.5).momentum == 0.5
    assert O.make_optimizer("Nesterov", p, 0.1, scratch=False).param_groups[0]["nesterov"]
    with pytest.raises(ValueError, match="name must be one of"):
        O.make_optimizer("LBFGS", p, 0.1)


def test_side_by_side_and_max_param_diff_errors():
    with pytest.raises(ValueError, match="steps"):
        O.side_by_side(lambda p: O.SGD(p, 0.1), lambda p: torch.optim.SGD(p, 0.1), steps=0)
    with pytest.raises(ValueError, match="different numbers"):
        O.max_param_diff([torch.zeros(1)], [])
    with pytest.raises(ValueError, match="shapes differ"):
        O.max_param_diff([torch.zeros(1)], [torch.zeros(2)])
    assert O.max_param_diff([torch.zeros(2)], [torch.tensor([0.0, -3.0])]) == 3.0


def test_updates_per_epoch():
    assert O.updates_per_epoch(50_000, 64) == 782
    assert O.updates_per_epoch(50_000, 64, drop_last=True) == 781
    assert O.updates_per_epoch(50_000, 50_000) == 1
    assert O.updates_per_epoch(50_000, 1) == 50_000
    assert O.updates_per_epoch(10, 64) == 1
    with pytest.raises(ValueError, match="n must be"):
        O.updates_per_epoch(0, 64)
    with pytest.raises(ValueError, match="batch_size"):
        O.updates_per_epoch(10, 0)


def test_hessian_entries():
    model = nn.Linear(3, 2)  # 8 parameters
    assert O.hessian_entries(model) == (8, 64)
    assert O.hessian_entries(25_557_032)[1] == 25_557_032 ** 2
    with pytest.raises(ValueError, match="model_or_count"):
        O.hessian_entries(-1)


def test_newton_step_solves_a_quadratic_in_one_step():
    A = torch.tensor([[3.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    b = torch.tensor([1.0, -1.0], dtype=torch.float64)
    f = lambda t: 0.5 * t @ A @ t - b @ t  # noqa: E731
    theta = O.newton_step(f, torch.tensor([5.0, -7.0]))
    assert torch.allclose(theta, torch.linalg.solve(A, b), atol=1e-12)
    with pytest.raises(ValueError, match="1-D"):
        O.newton_step(f, torch.zeros(2, 2))


def test_per_example_gradients_match_a_loop():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    x, y = torch.randn(5, 3), torch.tensor([0, 1, 1, 0, 1])
    loss_fn = nn.CrossEntropyLoss()
    G = O.per_example_gradients(model, loss_fn, x, y)
    assert G.shape == (5, sum(p.numel() for p in model.parameters()))
    for i in range(5):
        model.zero_grad()
        loss_fn(model(x[i:i + 1]), y[i:i + 1]).backward()
        assert torch.allclose(G[i], torch.cat([p.grad.flatten() for p in model.parameters()]), atol=1e-6)
    with pytest.raises(ValueError, match="different lengths"):
        O.per_example_gradients(model, loss_fn, x, y[:3])


def test_minibatch_noise_falls_like_one_over_b():
    g = torch.randn(400, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    noise = O.minibatch_noise(g, [1, 4, 16, 400], draws=300)
    sigma2 = ((g - g.mean(0)) ** 2).sum(1).mean().item()
    for b in (1, 4, 16):
        theory = sigma2 / b * (400 - b) / (400 - 1)
        assert noise[b] == pytest.approx(theory, rel=0.25)
    assert noise[400] == pytest.approx(0.0, abs=1e-20)  # the whole data set: no noise
    with pytest.raises(ValueError, match="between 1 and 400"):
        O.minibatch_noise(g, [0])
    with pytest.raises(ValueError, match=r"\(N, P\)"):
        O.minibatch_noise(g[0], [1])


def test_surfaces_have_their_minimum_where_stated():
    for name, s in O.SURFACES.items():
        X, Y, Z = s.grid(101)
        assert Z.shape == (101, 101) and np.isfinite(Z).all()
        fmin = s(torch.tensor(s.minimum[0], dtype=torch.float64), torch.tensor(s.minimum[1], dtype=torch.float64))
        assert float(fmin) <= Z.min() + 1e-9, name
        assert set(s.lrs) == set(O.SCRATCH), name
    assert O.get_surface("ravine") is O.SURFACES["ravine"]
    assert O.get_surface(O.SURFACES["saddle"]) is O.SURFACES["saddle"]
    with pytest.raises(ValueError, match="surface must be one of"):
        O.get_surface("beale")


def test_run_trajectory_and_divergence():
    pts = O.run_trajectory("ravine", lambda p: O.SGD(p, 0.45), steps=300)
    assert pts.shape == (301, 2) and np.abs(pts[-1]).max() < 0.1
    assert tuple(pts[0]) == O.SURFACES["ravine"].start
    diverged = O.run_trajectory("ravine", lambda p: O.SGD(p, 0.6), steps=500, bound=1e3)
    assert len(diverged) < 501  # stopped early: lr above 2 / 4 (the largest curvature) diverges
    with pytest.raises(ValueError, match="steps"):
        O.run_trajectory("ravine", lambda p: O.SGD(p, 0.1), steps=-1)


def test_race_reaches_the_minimum_with_adaptive_methods():
    out = O.race("plateau", ["SGD", "Adam"])
    s = O.SURFACES["plateau"]
    f = lambda pts: float(s(torch.tensor(pts[-1, 0]), torch.tensor(pts[-1, 1])))  # noqa: E731
    assert f(out["Adam"]) < 1e-3 < 0.9 < f(out["SGD"])  # SGD crawls on the plateau, Adam does not
    scratch, lib = O.race("ravine", ["Nesterov"], steps=50), O.race("ravine", ["Nesterov"], steps=50, scratch=False)
    assert np.allclose(scratch["Nesterov"], lib["Nesterov"], atol=1e-12)
    with pytest.raises(ValueError, match="lr_scale"):
        O.race("ravine", lr_scale=0)


def test_plots_and_animation():
    ax = O.plot_surface("rosenbrock")
    assert ax.get_title().startswith("Rosenbrock") and ax.get_xlabel()
    trajs = O.race("saddle", ["SGD", "Adam"], steps=20)
    ax = O.plot_trajectories("saddle", trajs, title="two")
    assert ax.get_title() == "two" and len(ax.get_legend().get_texts()) == 2
    anim = O.animate_trajectories("saddle", trajs, frames=3)  # an animated PNG, 3 frames
    from PIL import Image as PILImage
    import io

    with PILImage.open(io.BytesIO(anim.data)) as im:
        assert im.is_animated and im.n_frames == 3
    with pytest.raises(ValueError, match="frames"):
        O.animate_trajectories("saddle", trajs, frames=1)
    plt.close("all")


def test_lr_schedule_uses_a_throwaway_optimizer():
    lrs = O.lr_schedule(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5), 7, lr=0.1)
    assert lrs == pytest.approx([0.1] * 3 + [0.05] * 3 + [0.025])
    plateau = O.lr_schedule(lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, factor=0.5, patience=0),
                            4, lr=0.1, metrics=[1.0, 1.0, 1.0, 1.0])
    assert plateau == pytest.approx([0.1, 0.1, 0.05, 0.025])
    with pytest.raises(ValueError, match="needs metrics"):
        O.lr_schedule(lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o), 3)
    with pytest.raises(ValueError, match="one per step"):
        O.lr_schedule(lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o), 3, metrics=[1.0])
    with pytest.raises(ValueError, match="steps"):
        O.lr_schedule(lambda o: torch.optim.lr_scheduler.StepLR(o, 1), 0)


def _my_adam(theta, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad ** 2
    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    return theta - lr * m_hat / (v_hat.sqrt() + eps), m, v


def test_adam_reference_step_and_check(capsys):
    theta, m, v = O.adam_reference_step(torch.zeros(1), torch.tensor([0.5]), torch.zeros(1), torch.zeros(1), 1,
                                        lr=1.0)
    assert m.item() == pytest.approx(0.05) and v.item() == pytest.approx(0.00025)
    assert theta.item() == pytest.approx(-0.99999998, abs=1e-9)
    with pytest.raises(ValueError, match="t must be"):
        O.adam_reference_step(torch.zeros(1), torch.ones(1), torch.zeros(1), torch.zeros(1), 0)
    assert O.check_adam_step(_my_adam) is True
    assert "✅" in capsys.readouterr().out

    def no_correction(theta, grad, m, v, t, lr, beta1, beta2, eps):
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad ** 2
        return theta - lr * m / (v.sqrt() + eps), m, v

    assert O.check_adam_step(no_correction) is False

    def todo(*args):
        raise NotImplementedError

    assert O.check_adam_step(todo) is False
    assert "NotImplementedError" in capsys.readouterr().out
