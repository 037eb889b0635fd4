"""course_utils.sequences: causal padding, dilated receptive fields, time-series data and models."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils import sequences as sq
from course_utils.conv import conv_output_size


def test_causal_pad_adds_zeros_on_the_left_only():
    x = torch.arange(1.0, 6.0).reshape(1, 1, 5)
    out = sq.causal_pad(x, kernel_size=3, dilation=2)
    assert out.shape == (1, 1, 9)
    assert torch.equal(out[0, 0, :4], torch.zeros(4)) and torch.equal(out[0, 0, 4:], x[0, 0])


def test_causal_pad_rejects_wrong_shapes():
    with pytest.raises(ValueError, match="N, C, L"):
        sq.causal_pad(torch.zeros(5), 3)
    with pytest.raises(ValueError, match="dilation"):
        sq.causal_pad(torch.zeros(1, 1, 5), 3, dilation=0)


@pytest.mark.parametrize("k,d", [(2, 1), (3, 1), (3, 4), (5, 2)])
def test_causal_conv_keeps_length_and_never_looks_ahead(k, d):
    torch.manual_seed(0)
    conv = sq.CausalConv1d(2, 3, k, dilation=d)
    x = torch.randn(1, 2, 40)
    y = conv(x)
    assert y.shape == (1, 3, 40)
    x2 = x.clone()
    x2[..., 25:] = torch.randn(1, 2, 15)  # change the future from t = 25 on
    assert torch.allclose(conv(x2)[..., :25], y[..., :25])
    assert not torch.allclose(conv(x2)[..., 25], y[..., 25])


def test_causal_conv_equals_conv1d_with_symmetric_padding_shifted():
    """A causal conv is an ordinary conv with (k-1)d padding on both sides, keeping only the first L outputs."""
    torch.manual_seed(1)
    conv = sq.CausalConv1d(1, 1, 3, dilation=2)
    x = torch.randn(1, 1, 20)
    ordinary = F.conv1d(x, conv.weight, conv.bias, padding=4, dilation=2)[..., :20]
    assert torch.allclose(conv(x), ordinary, atol=1e-6)


@pytest.mark.parametrize("k,dilations", [(2, [1, 2, 4, 8]), (3, [1, 2, 4, 8]), (3, [1]), (5, [1, 3, 9]),
                                         (2, [1, 1, 1, 1, 1])])
def test_receptive_field_formula(k, dilations):
    assert sq.dilated_receptive_field(k, dilations) == 1 + sum((k - 1) * d for d in dilations)


def test_receptive_field_per_layer_kernels_and_errors():
    assert sq.dilated_receptive_field([3, 5], [1, 2]) == 1 + 2 + 8
    with pytest.raises(ValueError, match="empty"):
        sq.dilated_receptive_field(3, [])
    with pytest.raises(ValueError, match="one per layer"):
        sq.dilated_receptive_field([3, 3], [1, 2, 4])


@pytest.mark.parametrize("k,dilations", [(2, [1, 2, 4, 8]), (3, [1, 2, 4]), (3, [2, 2])])
def test_measured_dependence_of_a_tcn_is_its_receptive_field_and_causal(k, dilations):
    torch.manual_seed(0)
    model = sq.tcn(1, 1, width=8, kernel_size=k, dilations=dilations)
    field = model.receptive_field
    assert field == 1 + sum((k - 1) * d for d in dilations)
    at = 60
    seen = sq.input_dependence(model, length=100, at=at)
    assert seen.max() == at                               # nothing from the future
    assert seen.min() == at - field + 1                   # exactly as far back as the formula says
    reachable = {0}                                       # lags reachable through one tap per layer
    for d in dilations:
        reachable = {r + j * d for r in reachable for j in range(k)}
    assert set((at - seen).tolist()) == reachable         # [2, 2] leaves holes: odd lags are never seen


def test_impulse_reaches_exactly_the_receptive_field():
    """A linear causal stack with all weights 1: an impulse at step s moves outputs s .. s + field - 1 only."""
    layers = nn.Sequential(*[sq.CausalConv1d(1, 1, 2, dilation=d, bias=False) for d in (1, 2, 4)])
    for layer in layers:
        nn.init.ones_(layer.weight)
    x = torch.zeros(1, 1, 30)
    x[..., 10] = 1.0
    moved = torch.nonzero(layers(x)[0, 0]).flatten()
    assert moved.min() == 10 and moved.max() == 10 + sq.dilated_receptive_field(2, [1, 2, 4]) - 1


def test_input_dependence_needs_a_length_preserving_model():
    with pytest.raises(ValueError, match="keep the length"):
        sq.input_dependence(nn.Conv1d(1, 1, 3), length=20)


@pytest.mark.parametrize("length,k,s,p,d", [(100, 8, 1, 0, 1), (100, 3, 2, 1, 1), (37, 5, 3, 2, 2), (64, 7, 4, 3, 1)])
def test_conv_output_size_matches_conv1d(length, k, s, p, d):
    out = nn.Conv1d(1, 1, k, stride=s, padding=p, dilation=d)(torch.zeros(1, 1, length))
    assert out.shape[-1] == conv_output_size(length, k, s, p, d)


@pytest.mark.parametrize("make", [lambda: sq.fcn(6, 4), lambda: sq.resnet1d(6, 4, widths=(8, 8, 8)),
                                  lambda: sq.mlp(6 * 50, 4)])
def test_classifiers_map_series_to_class_scores(make):
    model = make().eval()
    assert model(torch.zeros(3, 6, 50)).shape == (3, 4)


def test_fcn_keeps_the_length_until_pooling():
    model = sq.fcn(1, 2)
    x = torch.zeros(1, 1, 33)
    for layer in model[:-3]:
        x = layer(x)
    assert x.shape[-1] == 33


def test_make_windows_pairs_each_window_with_the_next_value():
    series = np.arange(10.0)
    x, y = sq.make_windows(series, lookback=3, horizon=1)
    assert x.shape == (7, 1, 3) and y.shape == (7,)
    assert x[0, 0].tolist() == [0, 1, 2] and y[0] == 3 and y[-1] == 9
    x2, y2 = sq.make_windows(series, lookback=3, horizon=2)
    assert y2[0] == 4 and len(y2) == 6
    with pytest.raises(ValueError, match="longer"):
        sq.make_windows(np.arange(3.0), lookback=3)


def test_linear_forecast_recovers_an_autoregression():
    rng = np.random.default_rng(0)
    s = np.zeros(400)
    for t in range(2, 400):
        s[t] = 0.6 * s[t - 1] - 0.3 * s[t - 2] + rng.normal()
    x, y = sq.make_windows(s, lookback=2)
    pred = sq.linear_forecast(x[:300], y[:300], x[300:])
    noise_only = sq.rmse(pred, y[300:].numpy())
    assert 0.8 < noise_only < 1.2  # the one-step error of the true model is the noise (std 1)
    assert sq.rmse([1, 2], [1, 4]) == pytest.approx(np.sqrt(2))


def test_rocket_features_match_sktime():
    pytest.importorskip("numba")
    from sktime.transformations.rocket import Rocket

    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 3, 40))
    rocket = Rocket(num_kernels=50, random_state=0).fit(x)
    theirs = rocket.transform(x).to_numpy()
    normalised = (x - x.mean(-1, keepdims=True)) / (x.std(-1, keepdims=True) + 1e-8)
    ours = sq.rocket_features(normalised, rocket.kernels)
    assert ours.shape == theirs.shape == (5, 100)
    assert np.allclose(ours, theirs, atol=1e-4)


def test_load_ucr_offline_official_split():
    data = sq.load_ucr("BasicMotions")
    x, y = data.train.tensors
    assert x.shape == (40, 6, 100) and len(data.test) == 40
    assert data.classes == sorted(data.classes, key=lambda c: (len(c), c)) and len(data.classes) == 4
    assert abs(float(x.mean())) < 1e-4  # standardised with the train statistics
    xn, yn = data.numpy("test")
    assert xn.shape == (40, 6, 100) and set(yn) <= set(range(4))


def test_load_sunspots_is_real_and_yearly():
    years, values = sq.load_sunspots()
    assert years[0] == 1700 and np.all(np.diff(years) == 1) and len(years) == len(values) > 300
    assert values.min() >= 0


def test_checks_accept_the_reference_and_report_unfinished_work(capsys):
    assert sq.check_receptive_field(sq.dilated_receptive_field)
    assert sq.check_causal_pad(sq.causal_pad)
    assert not sq.check_receptive_field(...)
    assert not sq.check_receptive_field(lambda k, d: None)
    assert "returns None" in capsys.readouterr().out
    assert not sq.check_causal_pad(lambda x, k, d=1: None)
    assert not sq.check_receptive_field(lambda k, d: 1 + (k - 1) * len(d))
    assert not sq.check_causal_pad(lambda x, k, d=1: F.pad(x, ((k - 1) * d // 2, (k - 1) * d // 2)))
    assert "not yet" in capsys.readouterr().out


def test_drawings_have_titles():
    import matplotlib

    matplotlib.use("Agg")
    ax = sq.draw_conv1d(np.arange(12.0), 3, stride=2, dilation=2)
    assert "12 steps -> 4 outputs" in ax.get_title()
    ax = sq.draw_dilated_stack(2, [1, 2, 4])
    assert "sees 8 inputs" in ax.get_title()
