"""Hooks, photos, filter grids, gradient ascent and embeddings (course_utils.visualise)."""
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn
from torchvision.transforms import Normalize

from course_utils import visualise as V


@pytest.fixture
def net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(inplace=True),
                         nn.Conv2d(4, 6, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(6, 5)).eval()


def test_capture_records_outputs_and_inputs_and_removes_its_hooks(net):
    x = torch.rand(2, 3, 12, 12)
    with V.capture({"conv": net[0], "head": net[7]}) as seen, \
            V.capture({"head_in": net[7]}, inputs=True) as seen_in:
        out = net(x)
    assert torch.allclose(seen["conv"], net[0](x))
    assert torch.equal(seen["head"], out)
    assert seen_in["head_in"].shape == (2, 6)
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())


def test_capture_keeps_a_copy_that_a_later_inplace_relu_cannot_change(net):
    x = torch.randn(2, 3, 12, 12)
    with V.capture([net[1]]) as seen:  # BatchNorm, followed by ReLU(inplace=True)
        net(x)
    bn = net[1](net[0](x))
    assert torch.allclose(seen["0"], bn) and (seen["0"] < 0).any()


def test_capture_without_detach_keeps_the_graph(net):
    x = torch.rand(1, 3, 12, 12, requires_grad=True)
    with V.capture([net[3]], detach=False) as seen:
        net(x)
    seen["0"].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_capture_explains_bad_layers(net):
    with pytest.raises(ValueError, match="empty"):
        with V.capture({}):
            pass
    with pytest.raises(TypeError, match="nn.Module"):
        with V.capture({"x": "features.3"}):
            pass


def test_activations_match_running_the_layers_by_hand(net):
    x = torch.rand(1, 3, 10, 10)
    acts = V.activations(net, x, {"after relu": net[2], "second conv": net[3]})
    assert torch.allclose(acts["second conv"], net[:4](x))
    assert acts["after relu"].min() >= 0


def test_pixel_model_normalises_like_torchvision(net):
    x = torch.rand(2, 3, 12, 12)
    wrapped = V.pixel_model(net)
    expected = net(Normalize(V.IMAGENET_MEAN, V.IMAGENET_STD)(x))
    assert torch.allclose(wrapped(x), expected, atol=1e-6)
    assert not any(p.requires_grad for p in wrapped.parameters())
    with pytest.raises(TypeError):
        V.pixel_model("mobilenet")


def test_photos_become_square_inputs_and_back():
    image = V.photo("chelsea")
    assert image.ndim == 3 and image.shape[2] == 3 and 0 <= image.min() and image.max() <= 1
    x = V.to_input(image, 64)
    assert x.shape == (1, 3, 64, 64) and x.is_contiguous()
    assert V.to_image(x).shape == (64, 64, 3)
    with pytest.raises(ValueError, match="name must be one of"):
        V.photo("no such photo")
    with pytest.raises(ValueError, match="RGB"):
        V.to_input(np.zeros((5, 5)))


def test_filter_grid_puts_zero_at_grey_and_scales_each_filter():
    w = torch.zeros(3, 3, 2, 2)
    w[0, 0, 0, 0] = 5.0       # filter 0: one strong positive weight
    w[1, 1, 1, 1] = -0.01     # filter 1: one tiny negative weight, scaled to the same range
    grid = V.filter_grid(w, ncols=3, pad=1)
    assert grid.shape == (1 + 2 + 1, 1 + 3 * 3, 3)
    assert grid[1, 1, 0] == pytest.approx(1.0) and grid[2, 5, 1] == pytest.approx(0.0)
    assert grid[1, 2, 0] == pytest.approx(0.5)  # a zero weight is grey
    assert V.filter_grid(torch.randn(8, 1, 3, 3)).shape[2] == 3  # grey-scale filters too
    with pytest.raises(ValueError, match="conv weight"):
        V.filter_grid(torch.randn(3, 3))


def test_filter_smoothness_tells_smooth_filters_from_noise():
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(32, 3, 5, 5, generator=g)
    ramp = torch.linspace(-1, 1, 5).view(1, 1, 1, 5) * torch.randn(32, 3, 1, 1, generator=g)
    assert abs(V.filter_smoothness(noise)) < 0.15
    assert V.filter_smoothness(ramp + 0.05 * noise) > 0.5


def test_drawings_are_figures(net):
    acts = V.activations(net, torch.rand(1, 3, 12, 12), {"conv": net[0]})
    assert isinstance(V.plot_filters({"a": net[0].weight, "b": net[3].weight}), Figure)
    assert isinstance(V.plot_feature_maps(acts["conv"], n=3, title="conv", image=np.zeros((12, 12, 3))), Figure)
    strongest = acts["conv"][0].abs().mean((1, 2)).argsort(descending=True)[:2].tolist()
    assert V.strongest_channels(acts["conv"], 2) == strongest
    assert isinstance(V.plot_depths({"conv": acts["conv"], "again": acts["conv"]}, np.zeros((12, 12, 3)), n=2),
                      Figure)
    assert isinstance(V.plot_images([torch.rand(1, 3, 8, 8), np.zeros((8, 8, 3))], ["a", "b"]), Figure)


def test_ascend_raises_its_objective_and_stays_a_valid_image():
    def redness(x):
        return x[:, 0].mean(dim=(1, 2)) - x[:, 1:].mean(dim=(1, 2, 3))

    start = torch.full((2, 3, 16, 16), 0.5)
    end = V.ascend(redness, start, steps=20, lr=0.05, jitter=2)
    assert (redness(end) > redness(start) + 0.5).all()
    assert end.min() >= 0 and end.max() <= 1 and torch.equal(start, torch.full_like(start, 0.5))
    with pytest.raises(ValueError, match="one score per image"):
        V.ascend(lambda x: x.sum(), start, steps=1)


def test_class_and_channel_visualisations_and_deep_dream_have_the_right_shapes(net):
    px = V.pixel_model(net)
    classes = V.class_visualisation(px, [0, 3], sizes=(8, 12), steps=3)
    assert classes.shape == (2, 3, 12, 12)
    assert px(classes)[torch.arange(2), torch.tensor([0, 3])].mean() > px(torch.full((2, 3, 12, 12), 0.5))[
        torch.arange(2), torch.tensor([0, 3])].mean()
    assert V.channel_visualisation(px, net[3], [1, 2, 5], sizes=(10,), steps=2).shape == (3, 3, 10, 10)
    dream = V.deep_dream(px, net[3], torch.rand(1, 3, 40, 36), octaves=2, steps=2)
    assert dream.shape == (1, 3, 40, 36)


def test_penultimate_features_embeddings_and_neighbour_accuracy(net):
    images = torch.rand(30, 1, 28, 28)
    feats = V.penultimate_features(V.pixel_model(net), net[7], images, batch_size=8, size=16)
    assert feats.shape == (30, 6)
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(60) % 3
    separated = torch.randn(60, 5, generator=g) * 0.1 + 5 * torch.nn.functional.one_hot(labels, 5)
    assert V.embed_2d(separated, "pca").shape == (60, 2) and V.embed_2d(separated, "tsne").shape == (60, 2)
    assert V.nearest_neighbour_accuracy(separated, labels) == 1.0
    assert V.nearest_neighbour_accuracy(torch.randn(60, 5, generator=g), labels) < 0.8
    with pytest.raises(ValueError, match="method"):
        V.embed_2d(separated, "umap")


def test_embedding_data_is_real_and_balanced():
    images, labels, classes, source = V.embedding_data(n_per_class=5)
    assert images.shape == (50, 1, 28, 28) and len(classes) == 10 and "MNIST" in source
    assert torch.equal(torch.bincount(labels), torch.full((10,), 5))
    with pytest.raises(ValueError, match="n_per_class"):
        V.embedding_data(0)
    xy = np.random.default_rng(0).normal(size=(50, 2))
    assert isinstance(V.plot_embedding({"pixels": xy}, labels, classes, images, n_images=4), Figure)


def test_slides_cnn_is_notebook_01s_network():
    model = V.slides_cnn()
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert sum(p.numel() for p in V.slides_cnn(3, 32).parameters()) == 315_722  # the slides' count


def test_feature_map_explorer_falls_back_to_one_figure_outside_a_kernel(net, capsys):
    acts = V.activations(net, torch.rand(1, 3, 12, 12), {"conv": net[0], "second": net[3]})
    assert V.feature_map_explorer(acts, image=np.zeros((12, 12, 3)), n=3) is None
    assert "Widgets cannot render here" in capsys.readouterr().out
