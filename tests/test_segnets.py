"""Segmentation networks: output shapes on odd sizes, ASPP against torchvision, dilation, Mask R-CNN."""
import pytest
import torch
from torch import nn

from course_utils import conv, segnets


@pytest.mark.parametrize("name", ["fcn32s", "fcn8s", "unet", "deeplab_scratch"])
@pytest.mark.parametrize("size", [(33, 47), (64, 64), (101, 75)])
def test_output_shape_equals_input_shape_on_odd_sizes(name, size):
    torch.manual_seed(0)
    model = segnets.build(name, 4).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, *size))
    assert out.shape == (2, 4, *size)


def test_deeplab_decoder_shape_and_bad_input():
    model = segnets.DeepLabV3(3, pretrained=False, decoder=True).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 57, 70)).shape == (1, 3, 57, 70)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        model(torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="num_classes"):
        segnets.UNet(1)
    with pytest.raises(ValueError, match="variant"):
        segnets.FCN(3, variant="4s")


def test_aspp_matches_torchvision_with_the_same_weights():
    from torchvision.models.segmentation.deeplabv3 import ASPP as TorchvisionASPP

    torch.manual_seed(0)
    theirs = TorchvisionASPP(32, [6, 12, 18], out_channels=16).eval()
    ours = segnets.ASPP(32, 16, (6, 12, 18)).eval()
    ours.load_state_dict(theirs.state_dict())                   # same names, same shapes
    x = torch.randn(2, 32, 9, 11)
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs(x), atol=1e-5)
    assert ours(x).shape == (2, 16, 9, 11)


def test_aspp_has_batchnorm_after_every_dilated_conv_and_image_pooling():
    aspp = segnets.ASPP(8, 4, (2, 4))
    dilations = [m.dilation[0] for m in aspp.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert dilations == [2, 4]
    for branch in aspp.convs:
        kinds = [type(m) for m in branch]
        assert nn.BatchNorm2d in kinds
    assert isinstance(aspp.convs[-1][0], nn.AdaptiveAvgPool2d)
    with pytest.raises(ValueError, match="rates"):
        segnets.ASPP(8, 4, (0, 2))


def test_image_pooling_branch_sees_the_whole_image():
    aspp = segnets.ASPP(2, 2, (1,)).eval()
    x = torch.zeros(1, 2, 8, 8)
    y = x.clone()
    y[..., 0, 0] = 5.0                                          # change one far corner pixel
    with torch.no_grad():
        pooled_x, pooled_y = aspp.convs[-1](x), aspp.convs[-1](y)
    assert not torch.allclose(pooled_x, pooled_y)


def test_dilation_gives_output_stride_16_and_a_wider_receptive_field():
    feats32 = segnets.mobilenet_v2_features(pretrained=False)
    feats16 = segnets.dilate_mobilenet_v2(segnets.mobilenet_v2_features(pretrained=False), 16)
    feats8 = segnets.dilate_mobilenet_v2(segnets.mobilenet_v2_features(pretrained=False), 8)
    x = torch.rand(1, 3, 128, 128)
    with torch.no_grad():
        assert feats32.eval()(x).shape[-1] == 4
        assert feats16.eval()(x).shape[-1] == 8
        assert feats8.eval()(x).shape[-1] == 16
    assert conv.receptive_fields(feats16)[-1] >= conv.receptive_fields(feats32)[-1]
    with pytest.raises(ValueError, match="output_stride"):
        segnets.dilate_mobilenet_v2(feats32, 4)


def test_bilinear_upsampler_reproduces_bilinear_interpolation_inside():
    up = segnets.upsampler(1, 2)
    x = torch.arange(16.0).view(1, 1, 4, 4)
    with torch.no_grad():
        y = up(x)
    ref = nn.functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    assert y.shape == (1, 1, 8, 8)
    assert torch.allclose(y[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1], atol=1e-5)   # borders see the zero padding


def test_valid_tap_fraction():
    assert segnets.valid_tap_fraction(100, 1) > 0.95
    assert segnets.valid_tap_fraction(8, 18) == pytest.approx(1 / 9)   # the 3x3 kernel became a 1x1


def test_mask_rcnn_mobilenet_trains_one_step_and_predicts_masks():
    torch.manual_seed(0)
    model = segnets.mask_rcnn_mobilenet(3, pretrained=False, image_size=64, freeze_backbone=True)
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.backbone.modules())
    masks = torch.zeros(1, 64, 64, dtype=torch.uint8)
    masks[0, 10:30, 12:40] = 1
    target = {"boxes": torch.tensor([[12.0, 10.0, 40.0, 30.0]]), "labels": torch.tensor([1]), "masks": masks}
    model.train()
    losses = model([torch.rand(3, 64, 64)], [target])
    assert {"loss_mask", "loss_classifier", "loss_box_reg"} <= set(losses)
    sum(losses.values()).backward()
    model.eval()
    with torch.no_grad():
        out = model([torch.rand(3, 64, 64)])[0]
    assert out["masks"].shape[1:] == (1, 64, 64)


def test_cached_head_equals_the_full_forward():
    torch.manual_seed(0)
    model = segnets.DeepLabV3(3, pretrained=False, decoder=True).eval()
    images = torch.rand(3, 3, 64, 64)
    low, mid = segnets.cache_features(model, images, 14, batch_size=2)
    assert low.shape == (3, 24, 16, 16) and mid.shape == (3, 96, 4, 4)
    head = segnets.CachedHead(model, 14, (64, 64)).eval()
    with torch.no_grad():
        assert torch.allclose(head((low, mid)), model(images), atol=1e-5)
    assert not model.training                                      # cache_features restores the mode it found
    with pytest.raises(ValueError, match="start >= 4"):
        segnets.CachedHead(model, 2, (64, 64))


def test_frozen_parameters():
    model = segnets.DeepLabV3(3, pretrained=False)
    assert segnets.frozen_parameters(model, 0) == []
    assert len(segnets.frozen_parameters(model, 7)) == len(list(model.backbone[:7].parameters()))
    with pytest.raises(ValueError, match="DeepLabV3"):
        segnets.frozen_parameters(segnets.UNet(3), 2)


def test_input_scale_enlarges_inside_and_returns_logits_at_the_input_size():
    torch.manual_seed(0)
    model = segnets.DeepLabV3(3, pretrained=False, decoder=True, input_scale=2).eval()
    images = torch.rand(2, 3, 48, 64)
    low, mid = segnets.cache_features(model, images, 11)
    assert low.shape == (2, 24, 24, 32) and mid.shape == (2, 64, 6, 8)  # strides 4 and 16 of the 2x image
    with torch.no_grad():
        out = model(images)
        assert out.shape == (2, 3, 48, 64)
        assert torch.allclose(segnets.CachedHead(model, 11, (48, 64))((low, mid)), out, atol=1e-5)
    for bad in (0, 10, "2"):
        with pytest.raises(ValueError, match="input_scale"):
            segnets.DeepLabV3(3, pretrained=False, input_scale=bad)


def test_multiscale_averages_probabilities_over_scales_and_restores_the_model():
    torch.manual_seed(0)
    model = segnets.DeepLabV3(3, pretrained=False, decoder=True, input_scale=2).eval()
    x = torch.rand(2, 3, 37, 45)
    with torch.no_grad():
        one = segnets.MultiScale(model, [2])(x)
        assert torch.allclose(one, model(x).softmax(1), atol=1e-6)
        probs = {}
        for s in (1, 2):
            model.input_scale = float(s)
            probs[s] = model(x).softmax(1)
        model.input_scale = 2.0
        both = segnets.MultiScale(model, (1, 2))(x)
    assert both.shape == (2, 3, 37, 45)
    assert torch.allclose(both, (probs[1] + probs[2]) / 2, atol=1e-6)
    assert (both - one).abs().max() > 1e-6               # the second scale changes the answer
    assert model.input_scale == 2.0
    for bad in ([], [0.1], ["2"]):
        with pytest.raises(ValueError, match="scales"):
            segnets.MultiScale(model, bad)
    with pytest.raises(ValueError, match="DeepLabV3"):
        segnets.MultiScale(segnets.build("fcn8s", 3), [1])
