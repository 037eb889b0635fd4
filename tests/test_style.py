"""Gram matrices, the Gatys losses, total variation and the style-transfer loop."""
import pytest
import torch
from torch import nn
from torchmetrics.functional.image import total_variation as tm_total_variation

from course_utils import style as S
from course_utils.visualise import pixel_model


def _gram_by_loops(f):
    n, c, h, w = f.shape
    g = torch.zeros(n, c, c)
    for b in range(n):
        for i in range(c):
            for j in range(c):
                g[b, i, j] = sum(f[b, i].flatten()[k] * f[b, j].flatten()[k] for k in range(h * w)) / (h * w)
    return g


def test_gram_matrix_matches_its_definition_and_is_symmetric():
    f = torch.randn(2, 4, 3, 5, generator=torch.Generator().manual_seed(0))
    g = S.gram_matrix(f)
    assert g.shape == (2, 4, 4)
    assert torch.allclose(g, _gram_by_loops(f), atol=1e-5)
    assert torch.allclose(g, g.transpose(1, 2))
    assert (torch.linalg.eigvalsh(g) > -1e-5).all()  # positive semi-definite
    with pytest.raises(ValueError, match="N, C, H, W"):
        S.gram_matrix(torch.randn(4, 15))


def test_gram_matrix_ignores_where_things_are():
    f = torch.randn(1, 3, 4, 4)
    shuffled = f.flatten(2)[:, :, torch.randperm(16)].view(1, 3, 4, 4)
    assert torch.allclose(S.gram_matrix(f), S.gram_matrix(shuffled), atol=1e-6)


def test_style_layer_loss_is_gatys_equation_4():
    g = torch.Generator().manual_seed(1)
    f, a = torch.randn(1, 6, 5, 4, generator=g), torch.randn(1, 6, 5, 4, generator=g)
    n_l, m_l = 6, 20
    big_g = f.flatten(2) @ f.flatten(2).transpose(1, 2)  # unnormalised, as in the paper
    big_a = a.flatten(2) @ a.flatten(2).transpose(1, 2)
    expected = ((big_g - big_a) ** 2).sum() / (4 * n_l ** 2 * m_l ** 2)
    assert torch.allclose(S.style_layer_loss(f, S.gram_matrix(a)), expected)
    with pytest.raises(ValueError, match="target_gram"):
        S.style_layer_loss(f, torch.zeros(1, 5, 5))


def test_content_loss_is_half_the_squared_error():
    p = torch.randn(1, 3, 4, 4)
    assert S.content_loss(p, p) == 0
    assert torch.allclose(S.content_loss(p + 2, p), torch.tensor(0.5 * 4 * 48))
    with pytest.raises(ValueError, match="match"):
        S.content_loss(p, p[:, :2])


def test_total_variation_matches_torchmetrics():
    x = torch.rand(2, 3, 7, 9)
    assert torch.allclose(S.total_variation(x), tm_total_variation(x, reduction="sum"))
    assert S.total_variation(torch.full((1, 3, 5, 5), 0.3)) == 0


@pytest.fixture
def tiny_style_net():
    torch.manual_seed(0)
    body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2, padding=1),
                         nn.ReLU())
    return S.StyleNet(pixel_model(body), {"c": body[3]}, {"s1": body[1], "s2": body[3]}, "tiny")


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_style_transfer_lowers_the_loss_and_returns_an_image(tiny_style_net, optimizer):
    g = torch.Generator().manual_seed(0)
    content, style = torch.rand(1, 3, 16, 16, generator=g), torch.rand(1, 3, 16, 16, generator=g)
    image, history = S.style_transfer(tiny_style_net, content, style, style_weight=1e3, steps=15,
                                      optimizer=optimizer, progress=False)
    assert image.shape == content.shape and image.min() >= 0 and image.max() <= 1
    assert 1 < len(history) <= 15 and min(history) < history[0]
    with pytest.raises(ValueError, match="optimizer"):
        S.style_transfer(tiny_style_net, content, style, optimizer="sgd")


def test_style_network_cuts_mobilenet_after_its_last_used_layer():
    sn = S.style_network("mobilenet_v2", pretrained=False)
    modules = set(map(id, sn.net.modules()))
    assert all(id(m) in modules for m in [*sn.content.values(), *sn.style.values()])
    assert len(sn.net[1]) == max(S.STYLE_LAYERS["mobilenet_v2"]["style"]) + 1
    with pytest.raises(ValueError, match="arch"):
        S.style_network("resnet")


def test_check_gram_matrix_reports_without_raising(capsys):
    assert S.check_gram_matrix(S.gram_matrix)
    assert not S.check_gram_matrix(lambda f: None)
    assert "not done yet" in capsys.readouterr().out
    assert not S.check_gram_matrix(lambda f: f.flatten(2) @ f.flatten(2).transpose(1, 2))
    assert "H * W" in capsys.readouterr().out
    assert not S.check_gram_matrix(lambda f: f.flatten(2).transpose(1, 2) @ f.flatten(2))
    assert not S.check_gram_matrix(lambda f: 1 / 0)


def test_loss_plot_and_style_weight_explorer(capsys):
    from matplotlib.figure import Figure

    assert isinstance(S.plot_losses({"a": [3.0, 2.0, 1.0], "b": [3.0, 2.5]}), Figure)
    results = {w: torch.rand(1, 3, 8, 8) for w in (1e5, 1e6, 1e7)}
    assert S.style_weight_explorer(results, torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)) is None
    assert "Widgets cannot render here" in capsys.readouterr().out
