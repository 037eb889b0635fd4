"""Saliency, Grad-CAM, occlusion and FGSM from scratch, each against captum or a case with a known answer."""
import pytest
import torch
import torch.nn.functional as F
from captum.attr import LayerGradCam, Occlusion, Saliency
from matplotlib.figure import Figure
from torch import nn

from course_utils import attribution as A


@pytest.fixture
def cnn():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2, padding=1),
                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4)).eval()


@pytest.fixture
def x():
    return torch.rand(3, 3, 20, 18, generator=torch.Generator().manual_seed(1))


def test_saliency_matches_captum(cnn, x):
    target = torch.tensor([0, 2, 3])
    ours = A.saliency(cnn, x, target)
    theirs = Saliency(cnn).attribute(x.clone().requires_grad_(True), target=target)
    assert torch.allclose(ours, theirs, atol=1e-7)
    assert torch.equal(A.saliency_map(ours), ours.amax(dim=1))


def test_saliency_of_a_linear_model_is_its_weight_row():
    lin = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 5))
    grad = A.saliency(lin, torch.rand(2, 3, 4, 4), 3, absolute=False)
    assert torch.allclose(grad[1], lin[1].weight[3].view(3, 4, 4))


def test_grad_cam_matches_captum(cnn, x):
    target = torch.tensor([1, 1, 3])
    for relu in (True, False):
        ours = A.grad_cam(cnn, cnn[3], x, target, relu=relu)
        theirs = LayerGradCam(cnn, cnn[3]).attribute(x, target=target, relu_attributions=relu)[:, 0]
        assert ours.shape == (3, 10, 9)
        assert torch.allclose(ours, theirs, atol=1e-6)


def test_grad_cam_before_global_pooling_is_the_class_activation_map(cnn, x):
    # score = w . mean(A): d score / d A_c = w_c / (h w), so Grad-CAM = sum_c w_c A_c / (h w) (CAM, Zhou et al.)
    acts = cnn[:4](x)
    cam = torch.einsum("c,nchw->nhw", cnn[6].weight[2], acts) / (10 * 9)
    assert torch.allclose(A.grad_cam(cnn, cnn[3], x, 2, relu=False), cam, atol=1e-6)


def test_occlusion_matches_captum_also_when_the_windows_do_not_fit_evenly(cnn, x):
    target = torch.tensor([0, 1, 2])
    for window, stride in [(6, 3), (7, 4), (20, 5)]:
        if window > x.shape[-1]:
            continue
        ours = A.occlusion(cnn, x, target, window=window, stride=stride, baseline=0.5, batch_size=7)
        theirs = Occlusion(cnn).attribute(x, target=target, sliding_window_shapes=(3, window, window),
                                          strides=(3, stride, stride), baselines=0.5)
        assert torch.allclose(ours, theirs[:, 0], atol=1e-6), (window, stride)


def test_occlusion_of_a_model_that_sums_one_corner():
    def corner_sum(x):  # score of class 0 = sum of the top-left 4x4 pixels
        return x[:, :, :4, :4].sum(dim=(1, 2, 3)).unsqueeze(1).repeat(1, 2)

    x = torch.ones(1, 3, 8, 8)
    heat = A.occlusion(corner_sum, x, 0, window=4, stride=4, baseline=0.0)
    assert torch.allclose(heat[0, :4, :4], torch.full((4, 4), 48.0))  # greying the corner removes 3*16 ones
    assert heat[0, 4:].abs().max() == 0 and heat[0, :, 4:].abs().max() == 0
    with pytest.raises(ValueError, match="stride"):
        A.occlusion(corner_sum, x, 0, window=4, stride=5)
    with pytest.raises(ValueError, match="window"):
        A.occlusion(corner_sum, x, 0, window=9, stride=1)


def test_fgsm_moves_every_free_pixel_by_eps_and_raises_the_loss(cnn, x):
    y = torch.tensor([0, 1, 2])
    eps = 0.03
    adv = A.fgsm(cnn, x, y, eps)
    free = (adv > 0) & (adv < 1)
    assert torch.allclose((adv - x).abs()[free], torch.full_like(adv[free], eps), atol=1e-6)
    assert adv.min() >= 0 and adv.max() <= 1
    assert F.cross_entropy(cnn(adv), y) > F.cross_entropy(cnn(x), y)
    assert torch.equal(A.fgsm(cnn, x, y, 0.0), x)
    with torch.no_grad():  # the attacks build their own graph even here
        assert torch.equal(A.fgsm(cnn, x, y, eps), adv)
        assert A.saliency(cnn, x, y).shape == x.shape and A.grad_cam(cnn, cnn[3], x, y).shape == (3, 10, 9)
    with pytest.raises(ValueError, match="eps"):
        A.fgsm(cnn, x, y, -0.1)
    with pytest.raises(ValueError, match="target"):
        A.fgsm(cnn, x, torch.tensor([0, 1]), 0.1)


def test_accuracy_under_attack_starts_at_the_clean_accuracy():
    torch.manual_seed(0)
    linear = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 4))
    x = torch.rand(40, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    y = linear(x).argmax(1)  # labels the model gets right: clean accuracy 1
    accs = A.accuracy_under_attack(linear, x, y, [0.0, 0.05, 0.5], batch_size=16)
    assert accs[0] == 1.0 and accs[2] <= accs[1] <= 1.0 and accs[2] < 1.0


def test_check_fgsm_step_reports_without_raising(cnn, x, capsys):
    y = torch.tensor([0, 1, 2])
    assert A.check_fgsm_step(lambda m, x, y, eps: A.fgsm(m, x, y, eps), cnn, x, y)
    assert not A.check_fgsm_step(lambda m, x, y, eps: None, cnn, x, y)
    assert "not done yet" in capsys.readouterr().out
    assert not A.check_fgsm_step(lambda m, x, y, eps: (x - eps * torch.sign(x)).clamp(0, 1), cnn, x, y)
    assert not A.check_fgsm_step(lambda m, x, y, eps: 1 / 0, cnn, x, y)
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_attribution_pictures_are_figures(x):
    images = [im.permute(1, 2, 0).numpy() for im in x]
    maps = torch.rand(3, 20, 18)
    assert isinstance(A.plot_attributions(images, {"saliency": maps, "Grad-CAM": maps}, ["a", "b", "c"]), Figure)
    assert isinstance(A.plot_class_cams(images[0], maps[:2], ["cat", "dog"]), Figure)
    assert A.upsample(torch.rand(2, 5, 5), (20, 18)).shape == (2, 20, 18)


def test_grad_cam_explorer_falls_back_to_one_figure_outside_a_kernel(x, capsys):
    images = {"a": x[0].permute(1, 2, 0).numpy(), "b": x[1].permute(1, 2, 0).numpy()}
    cams = {"a": torch.rand(3, 20, 18), "b": torch.rand(3, 20, 18)}
    labels = {"a": ["p", "q", "r"], "b": ["s", "t", "u"]}
    assert A.grad_cam_explorer(images, cams, labels) is None
    assert "Widgets cannot render here" in capsys.readouterr().out
