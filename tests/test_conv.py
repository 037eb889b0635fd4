"""course_utils.conv: every NumPy implementation agrees with PyTorch, and the slides' numbers come out."""
import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image as PILImage  # noqa: E402
from torch import nn  # noqa: E402

from course_utils import conv  # noqa: E402

RNG = np.random.default_rng(0)
SHARPEN = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
SEED_IMAGE = np.array([[0, 0, 0, 0, 0, 0], [0, 105, 102, 100, 97, 96], [0, 103, 99, 103, 101, 102],
                       [0, 101, 98, 104, 102, 100], [0, 99, 101, 106, 104, 99], [0, 104, 104, 104, 100, 98]])
UNPOOL_INPUT = np.array([[1.5, 1.7, 1.4, 1.3], [2.0, 2.1, 1.8, 1.6], [2.3, 1.9, 1.5, 1.4], [2.2, 2.1, 1.6, 1.7]])


def t(a):
    return torch.as_tensor(np.asarray(a, dtype=np.float64))


def test_conv_output_size_matches_real_layers():
    for _ in range(100):
        size, k, s, p, d = (int(RNG.integers(5, 20)), int(RNG.integers(1, 6)), int(RNG.integers(1, 4)),
                            int(RNG.integers(0, 3)), int(RNG.integers(1, 3)))
        if d * (k - 1) + 1 > size + 2 * p:
            continue
        layer = nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d)
        assert layer(torch.zeros(1, 1, size, size)).shape[-1] == conv.conv_output_size(size, k, s, p, d)


def test_conv_output_size_slide_examples_and_errors():
    assert conv.conv_output_size(10, 3, 2, exact=True) == 4.5 and conv.conv_output_size(10, 3, 2) == 4
    assert conv.conv_output_size(32, 5) == 28
    assert conv.conv_output_size(227, 11, 4) == 55
    assert conv.conv_output_size(224, 11, 4, exact=True) == 54.25
    assert conv.conv_output_size(9, 3, padding="same") == 9 and conv.conv_output_size(9, 3, padding="valid") == 7
    with pytest.raises(ValueError, match="stride=1"):
        conv.conv_output_size(9, 3, 2, padding="same")
    with pytest.raises(ValueError, match="kernel_size"):
        conv.conv_output_size(4, 5)
    with pytest.raises(ValueError, match="stride"):
        conv.conv_output_size(4, 3, 0)


def test_conv_transpose_output_size():
    for size, k, s, p, d, op in [(2, 3, 1, 0, 1, 0), (4, 3, 2, 1, 1, 1), (5, 4, 2, 1, 2, 0), (3, 2, 3, 0, 1, 2)]:
        layer = nn.ConvTranspose2d(1, 1, k, s, p, op, dilation=d)
        assert layer(torch.zeros(1, 1, size, size)).shape[-1] == conv.conv_transpose_output_size(size, k, s, p, d, op)
    assert conv.conv_transpose_output_size(2, 3) == 4
    with pytest.raises(ValueError, match="output_padding"):
        conv.conv_transpose_output_size(2, 3, 1, 0, 1, 1)


def test_same_padding():
    assert conv.same_padding(3) == 1 and conv.same_padding(3, 2) == 2 and conv.same_padding(5) == 2
    with pytest.raises(ValueError, match="even"):
        conv.same_padding(4)


def test_conv_params():
    assert conv.conv_params(3, 96, 11) == 34_944
    assert conv.conv_params(3, 96, 11, bias=False) == 34_848
    layer = nn.Conv2d(4, 8, (3, 5), groups=2)
    assert conv.conv_params(4, 8, (3, 5), groups=2) == sum(p.numel() for p in layer.parameters())
    with pytest.raises(ValueError, match="groups"):
        conv.conv_params(3, 8, 3, groups=2)


def test_pad2d():
    x = np.ones((2, 3, 4))
    y = conv.pad2d(x, 1)
    assert y.shape == (2, 5, 6) and y.sum() == x.sum() and y[:, 0].sum() == 0
    assert conv.pad2d(x, (0, 2)).shape == (2, 3, 8)


def test_conv2d_naive_slide_examples():
    out = conv.conv2d_naive(SEED_IMAGE, SHARPEN)
    assert out[0, 0] == 320
    assert out.tolist() == [[320, 206, 198, 188], [210, 89, 111, 101], [205, 85, 111, 101], [189, 98, 117, 113]]
    binary = np.array([[0, 1, 1, 1, 0, 0, 0], [0, 0, 1, 1, 1, 0, 0], [0, 0, 0, 1, 1, 1, 0], [0, 0, 0, 1, 1, 0, 0],
                       [0, 0, 1, 1, 0, 0, 0], [0, 1, 1, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0]])
    k = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]])
    assert conv.conv2d_naive(binary, k).tolist() == [[1, 4, 3, 4, 1], [1, 2, 4, 3, 3], [1, 2, 3, 4, 1],
                                                     [1, 3, 3, 1, 1], [3, 3, 1, 1, 0]]


@pytest.mark.parametrize("s,p,d", [(1, 0, 1), (2, 1, 1), (1, 2, 2), (3, 1, 2)])
def test_conv2d_naive_matches_torch(s, p, d):
    x, w, b = RNG.normal(size=(3, 9, 8)), RNG.normal(size=(4, 3, 3, 2)), RNG.normal(size=4)
    ref = F.conv2d(t(x)[None], t(w), t(b), s, p, d)[0].numpy()
    np.testing.assert_allclose(conv.conv2d_naive(x, w, b, s, p, d), ref, atol=1e-10)
    with pytest.raises(ValueError, match="channels"):
        conv.conv2d_naive(x, w[:, :2])


@pytest.mark.parametrize("s,p,d,g", [(1, 0, 1, 1), (2, 1, 1, 2), (1, 2, 2, 4), (2, 0, 2, 1)])
def test_conv2d_vectorised_matches_torch(s, p, d, g):
    x, w, b = RNG.normal(size=(2, 4, 10, 9)), RNG.normal(size=(8, 4 // g, 3, 3)), RNG.normal(size=8)
    ref = F.conv2d(t(x), t(w), t(b), s, p, d, g).numpy()
    np.testing.assert_allclose(conv.conv2d(x, w, b, s, p, d, g), ref, atol=1e-10)
    np.testing.assert_allclose(conv.conv2d(x[0], w, b, s, p, d, g), ref[0], atol=1e-10)
    with pytest.raises(ValueError, match="groups"):
        conv.conv2d(x, RNG.normal(size=(8, 3, 3, 3)), groups=g)


def test_conv2d_2d_input_agrees_with_naive():
    x = RNG.normal(size=(12, 11))
    np.testing.assert_allclose(conv.conv2d(x, SHARPEN, stride=2, padding=1),
                               conv.conv2d_naive(x, SHARPEN, stride=2, padding=1), atol=1e-10)


@pytest.mark.parametrize("shape,s,p,d", [((4, 4), 1, 0, 1), ((7, 6), 2, 1, 1), ((6, 6), 1, 1, 2)])
def test_conv_matrix_and_its_transpose(shape, s, p, d):
    k = np.arange(1.0, 10.0).reshape(3, 3)
    c = conv.conv_matrix(k, shape, s, p, d)
    x = RNG.normal(size=shape)
    y = F.conv2d(t(x)[None, None], t(k)[None, None], None, s, p, d)
    np.testing.assert_allclose(c @ x.ravel(), y.numpy().ravel(), atol=1e-10)
    z = RNG.normal(size=y.shape[-2:])
    out_pad = shape[0] - conv.conv_transpose_output_size(y.shape[-2], 3, s, p, d)
    back = F.conv_transpose2d(t(z)[None, None], t(k)[None, None], None, s, p, (out_pad, shape[1] -
                              conv.conv_transpose_output_size(y.shape[-1], 3, s, p, d)), 1, d)
    np.testing.assert_allclose(c.T @ z.ravel(), back.numpy().ravel(), atol=1e-10)


def test_conv_matrix_1d_is_banded():
    c = conv.conv_matrix(np.array([1.0, 2.0, 3.0]), 6, padding=1)
    assert c.shape == (6, 6) and np.count_nonzero(c) == 16
    assert conv.conv_matrix(np.array([1.0, 2.0, 3.0]), 6, stride=2, padding=1).shape == (3, 6)
    with pytest.raises(ValueError, match="input_shape"):
        conv.conv_matrix(np.ones((3, 3)), 6)


@pytest.mark.parametrize("s,p,op,d", [(1, 0, 0, 1), (2, 1, 1, 1), (2, 0, 0, 2), (3, 1, 2, 1)])
def test_conv_transpose2d_matches_torch(s, p, op, d):
    x, w, b = RNG.normal(size=(2, 4, 3)), RNG.normal(size=(2, 3, 3, 3)), RNG.normal(size=3)
    ref = F.conv_transpose2d(t(x)[None], t(w), t(b), s, p, op, 1, d)[0].numpy()
    np.testing.assert_allclose(conv.conv_transpose2d(x, w, b, s, p, op, d), ref, atol=1e-10)
    y, k = RNG.normal(size=(2, 2)), RNG.normal(size=(3, 3))
    np.testing.assert_allclose(conv.conv_transpose2d(y, k), conv.conv_matrix(k, (4, 4)).T.dot(y.ravel()).reshape(4, 4))


def test_pool2d_slide_example_and_torch():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert conv.pool2d(x, 2, mode="max")[0, 0] == 4 and conv.pool2d(x, 2, mode="avg")[0, 0] == 2.5
    assert conv.pool2d(x, 2, mode="min")[0, 0] == 1
    y = RNG.normal(size=(2, 3, 9, 8))
    for k, s in [(2, 2), (3, 2)]:
        np.testing.assert_allclose(conv.pool2d(y, k, s), F.max_pool2d(t(y), k, s).numpy())
        np.testing.assert_allclose(conv.pool2d(y, k, s, "avg"), F.avg_pool2d(t(y), k, s).numpy())
        np.testing.assert_allclose(conv.pool2d(y, k, s, "min"), -F.max_pool2d(-t(y), k, s).numpy())
    with pytest.raises(ValueError, match="mode"):
        conv.pool2d(y, mode="median")


def test_global_avg_pool2d():
    x = RNG.normal(size=(2, 3, 5, 4))
    np.testing.assert_allclose(conv.global_avg_pool2d(x), F.adaptive_avg_pool2d(t(x), 1).numpy()[..., 0, 0])
    assert conv.global_avg_pool2d(np.array([[1, 2], [3, 4]])) == 2.5


def test_max_pool_indices_and_unpool_slide_example():
    values, idx = conv.max_pool2d_with_indices(UNPOOL_INPUT)
    assert values.tolist() == [[2.1, 1.8], [2.3, 1.7]] and idx.tolist() == [[5, 6], [8, 15]]
    expected = [[0, 0, 0, 0], [0, 2.1, 1.8, 0], [2.3, 0, 0, 0], [0, 0, 0, 1.7]]
    assert conv.max_unpool2d(values, idx, (4, 4)).tolist() == expected


@pytest.mark.parametrize("k,s", [(2, 2), (3, 2), (3, 1)])
def test_max_pool_and_unpool_match_torch(k, s):
    x = RNG.normal(size=(2, 3, 9, 8))
    tv, ti = F.max_pool2d(t(x), k, s, return_indices=True)
    v, i = conv.max_pool2d_with_indices(x, k, s)
    np.testing.assert_allclose(v, tv.numpy())
    np.testing.assert_array_equal(i, ti.numpy())
    if k == s:
        np.testing.assert_allclose(conv.max_unpool2d(v, i, (9, 8)), F.max_unpool2d(tv, ti, k, s, output_size=(9, 8)))
    with pytest.raises(ValueError, match="indices"):
        conv.max_unpool2d(v, i + 100, (9, 8))


def test_layer_geometry_and_receptive_fields():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 4, 3, dilation=2))
    assert [row[1:] for row in conv.layer_geometry(model)] == [(3, 1, 1), (2, 2, 1), (3, 1, 2)]
    assert conv.receptive_fields(model) == [3, 4, 12]
    assert conv.receptive_fields([(3, 1)] * 3) == [3, 5, 7]
    assert conv.receptive_fields([(3, 1, 1), (3, 1, 2), (3, 1, 4)]) == [3, 7, 15]
    with pytest.raises(TypeError):
        conv.layer_geometry([(3, 1)])
    with pytest.raises(ValueError, match="layer 0"):
        conv.receptive_fields([(3,)])


def test_receptive_field_matches_gradient_support():
    model = nn.Sequential(nn.Conv2d(1, 1, 3), nn.AvgPool2d(2), nn.Conv2d(1, 1, 3, dilation=2))
    for p in model.parameters():
        nn.init.constant_(p, 1.0)
    x = torch.zeros(1, 1, 40, 40, requires_grad=True)
    out = model(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows = x.grad[0, 0].abs().sum(1).nonzero()
    assert int(rows.max() - rows.min() + 1) == conv.receptive_fields(model)[-1]


def test_separable_multiplications_slide_example_and_hooks():
    m = conv.separable_multiplications(3, 128, 3, 5)
    assert (m["standard"], m["depthwise"], m["pointwise"], m["separable"]) == (86_400, 675, 9_600, 10_275)
    assert conv.count_conv_multiplications(nn.Conv2d(3, 128, 3), (1, 3, 7, 7)) == 86_400
    separable = nn.Sequential(nn.Conv2d(3, 3, 3, groups=3), nn.Conv2d(3, 128, 1))
    assert conv.count_conv_multiplications(separable, (1, 3, 7, 7)) == 10_275
    with pytest.raises(ValueError, match="no Conv"):
        conv.count_conv_multiplications(nn.Linear(3, 3), (1, 3))


def test_plot_weight_matrix():
    ax = conv.plot_weight_matrix(conv.conv_matrix(np.array([1.0, 2.0, 3.0]), 6, padding=1))
    assert "16 non-zero" in ax.get_title()
    plt.close("all")
    with pytest.raises(ValueError, match="2-D"):
        conv.plot_weight_matrix(np.ones(3))


def test_draw_conv_gallery_animation():
    fig = conv.draw_conv(5, 3, 2, 1, 1, step=4)
    assert "output 3x3" in fig.axes[1].get_title() and "(1, 1)" in fig.axes[1].get_title()
    fig = conv.draw_conv(3, 3, 2, 0, 1, transposed=True)
    assert "output 7x7" in fig.axes[1].get_title()
    fig = conv.draw_conv(3, 7)  # invalid: drawn as a message, no exception
    assert "Not a valid setting" in fig.axes[0].texts[0].get_text()
    fig = conv.conv_gallery([{"size": 5}, {"size": 4, "stride": 2}])
    assert len(fig.axes) == 4
    assert conv.draw_conv(5, 3).canvas.manager is None  # draw_conv alone: a plain Figure (widget-safe)
    anim = conv.conv_animation(4, 3, interval=300)  # 2x2 output positions: 4 frames, as an animated PNG
    with PILImage.open(io.BytesIO(anim.data)) as im:
        assert im.format == "PNG" and im.is_animated and im.n_frames == 4 and im.info["duration"] == 300
        frames = []
        for i in range(im.n_frames):
            im.seek(i)
            frames.append(np.asarray(im.convert("RGB")))
    assert all(not np.array_equal(frames[0], f) for f in frames[1:])  # the kernel moves
    plt.close("all")
    with pytest.raises(ValueError):
        conv.conv_gallery([])


def test_conv_explorer_falls_back_outside_a_kernel(capsys):
    assert conv.conv_explorer() is None
    assert "Widgets cannot render here" in capsys.readouterr().out
    plt.close("all")


def test_measured_receptive_field_matches_formula():
    import torch
    from torch import nn

    torch.manual_seed(0)
    stack = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Conv2d(2, 2, 3, stride=2), nn.Conv2d(2, 1, 3, dilation=2))
    assert conv.measured_receptive_field(stack, size=32) == (conv.receptive_fields(stack)[-1],) * 2 == (13, 13)
    dead = nn.Conv2d(1, 1, 3)
    nn.init.zeros_(dead.weight)
    with pytest.raises(ValueError, match="does not depend"):
        conv.measured_receptive_field(dead)
