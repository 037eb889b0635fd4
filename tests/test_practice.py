"""course_utils.practice: initialisation probes, the small CNN, augmentation, gradient noise, remedies."""
import math

import matplotlib
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from course_utils.data import TensorLoader
from course_utils.practice import (
    INIT_SCHEMES, RECIPES, RemedyResult, activation_stats, add_gradient_noise, augmentation_gallery, deep_mlp,
    gradient_noise_std, init_weights, make_recipe, pca_color_augment, run_remedy, small_cnn, summarize,
)
from course_utils.train import fit

matplotlib.use("Agg")


@pytest.mark.parametrize("scheme", INIT_SCHEMES)
def test_init_weights_every_scheme_runs_and_zeroes_biases(scheme):
    torch.manual_seed(0)
    net = init_weights(nn.Sequential(nn.Linear(64, 32), nn.Conv2d(3, 4, 3)), scheme, scale=0.3)
    if scheme != "default":
        assert all(torch.all(m.bias == 0) for m in net if hasattr(m, "bias"))


def test_init_weights_values():
    torch.manual_seed(0)
    lin = nn.Linear(400, 100)
    assert torch.all(init_weights(lin, "zeros").weight == 0)
    assert torch.all(init_weights(lin, "constant", 0.5).weight == 0.5)
    assert init_weights(lin, "uniform", 0.2).weight.abs().max() <= 0.2
    assert init_weights(lin, "he_normal").weight.std().item() == pytest.approx(math.sqrt(2 / 400), rel=0.05)
    assert init_weights(lin, "xavier_normal").weight.std().item() == pytest.approx(math.sqrt(2 / 500), rel=0.05)
    with pytest.raises(ValueError, match="scheme"):
        init_weights(lin, "glorot")


def test_deep_mlp_shape_and_errors():
    net = deep_mlp(3, 16, "tanh", init="xavier_uniform")
    assert len(net) == 6 and isinstance(net[1], nn.Tanh)
    assert net(torch.randn(5, 16)).shape == (5, 16)
    with pytest.raises(ValueError, match="depth"):
        deep_mlp(0, 16)
    with pytest.raises(ValueError, match="activation"):
        deep_mlp(2, 16, "gelu")


def test_activation_stats_he_keeps_relu_scale_and_small_init_vanishes():
    torch.manual_seed(0)
    x = torch.randn(512, 256)
    he = activation_stats(deep_mlp(10, 256, "relu", init="he_normal"), x)
    small = activation_stats(deep_mlp(10, 256, "relu", init="normal", scale=0.01), x)
    assert len(he["std"]) == 10 and he["layer"][0] == "1"
    assert 0.3 < he["std"][-1] < 3.0
    assert small["std"][-1] < 1e-6
    model = nn.Sequential(nn.Linear(4, 4))
    with pytest.raises(ValueError, match="layer_types"):
        activation_stats(model, torch.randn(2, 4))
    assert model.training  # the mode is restored


@pytest.mark.parametrize("norm", [None, "batch", "layer", "instance", "group"])
def test_small_cnn_shapes(norm):
    net = small_cnn(norm, dropout=0.5)
    assert net(torch.randn(4, 1, 28, 28)).shape == (4, 10)


def test_small_cnn_errors():
    with pytest.raises(ValueError, match="norm"):
        small_cnn("weight")
    with pytest.raises(ValueError, match="dropout"):
        small_cnn(dropout=1.0)


def test_pca_color_augment_shifts_each_channel_by_a_constant():
    g = torch.Generator().manual_seed(0)
    img = torch.rand(3, 16, 16, generator=g) * 0.5 + 0.25  # away from the clamp at 0 and 1
    out = pca_color_augment(img, std=0.1, generator=g)
    shift = (out - img).reshape(3, -1)
    assert out.shape == img.shape
    assert torch.allclose(shift, shift[:, :1].expand_as(shift), atol=1e-6)
    assert shift.abs().max() > 0
    with pytest.raises(ValueError, match="RGB"):
        pca_color_augment(torch.rand(1, 8, 8))


def test_augmentation_gallery_draws_rows_and_columns():
    fig = augmentation_gallery(torch.rand(3, 8, 8), {"flip": lambda x: x.flip(2), "same": lambda x: x}, n=3)
    assert len(fig.axes) == 2 * 4
    with pytest.raises(ValueError, match="transforms"):
        augmentation_gallery(torch.rand(3, 8, 8), {})


def test_gradient_noise_std_formula():
    assert gradient_noise_std(0, 0.01, 0.55) == pytest.approx(0.1)
    assert gradient_noise_std(99, 1.0, 0.5) == pytest.approx(100 ** -0.25)
    with pytest.raises(ValueError, match="eta"):
        gradient_noise_std(0, -1.0)


def test_add_gradient_noise_has_the_stated_std_and_counts_steps():
    p = nn.Parameter(torch.zeros(200_000))
    opt = torch.optim.SGD([p], lr=1.0)
    handle = add_gradient_noise(opt, eta=0.04, gamma=0.55, generator=torch.Generator().manual_seed(0))
    for t in range(3):
        p.grad = torch.zeros_like(p)
        before = p.detach().clone()
        opt.step()
        step_std = (p.detach() - before).std().item()  # lr = 1: the update is the noise
        assert step_std == pytest.approx(gradient_noise_std(t, 0.04, 0.55), rel=0.01)
    assert handle.state["t"] == 3
    handle.remove()
    p.grad = torch.zeros_like(p)
    before = p.detach().clone()
    opt.step()
    assert torch.equal(p.detach(), before)
    with pytest.raises(TypeError, match="optimizer"):
        add_gradient_noise("sgd")


def _loaders():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(192, 1, 28, 28, generator=g)
    y = (x.mean(dim=(1, 2, 3)) > 0).long()
    return (TensorLoader(TensorDataset(x[:128], y[:128]), 32),
            TensorLoader(TensorDataset(x[128:], y[128:]), 64, shuffle=False))


def test_run_remedy_is_reproducible_and_returns_a_row():
    train, val = _loaders()
    a = run_remedy("base", lambda: small_cnn(classes=2), train, val, epochs=2, test_loader=val)
    b = run_remedy("base", lambda: small_cnn(classes=2), train, val, epochs=2)
    assert isinstance(a, RemedyResult) and a.epochs == 2 and 0 <= a.val_accuracy <= 1
    assert a.val_accuracy == b.val_accuracy and a.test_accuracy == a.val_accuracy and b.test_accuracy is None
    row = a.row()
    assert row["remedy"] == "base" and set(row) >= {"val_accuracy", "train_accuracy", "epochs"}


def test_run_remedy_options_reach_fit():
    train, val = _loaders()
    stepped = run_remedy("step", lambda: small_cnn(classes=2), train, val, epochs=3, lr=0.5,
                         scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, 1, gamma=0.5))
    assert stepped.history["lr"] == [0.5, 0.25, 0.125]  # the rate each epoch ran with
    noisy = run_remedy("noise", lambda: small_cnn(classes=2), train, val, epochs=1, gradient_noise=(0.01, 0.55))
    clean = run_remedy("clean", lambda: small_cnn(classes=2), train, val, epochs=1)
    assert noisy.history["train_loss"] != clean.history["train_loss"]
    stopped = run_remedy("es", lambda: small_cnn(classes=2), train, val, epochs=30, lr=0.0, early_stopping=2,
                         monitor="val_accuracy")
    assert stopped.epochs == 3
    with pytest.raises(TypeError, match="nn.Module"):
        run_remedy("bad", lambda: "not a model", train, val, epochs=1)


def test_summarize_evaluates_the_model_as_it_is():
    train, val = _loaders()
    torch.manual_seed(0)
    model = small_cnn(classes=2)
    h = fit(model, train, val, epochs=1, live_plot=False, progress=False, verbose=False)
    r = summarize("x", model, h, val, seconds=1.5)
    assert r.val_accuracy == pytest.approx(h["val_accuracy"][-1]) and r.seconds == 1.5


def test_recipes_and_make_recipe():
    assert RECIPES["resnet"]["weight_decay"] == 1e-4 and RECIPES["alexnet"]["weight_decay"] == 5e-4
    opt, sched = make_recipe("alexnet", nn.Linear(3, 2))
    assert opt.param_groups[0]["lr"] == 1e-2 and opt.param_groups[0]["momentum"] == 0.9
    assert isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau) and sched.factor == 0.1
    with pytest.raises(ValueError, match="name"):
        make_recipe("vgg", nn.Linear(3, 2))
