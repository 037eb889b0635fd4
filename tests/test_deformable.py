"""course_utils.deformable: equivalences of torchvision's deformable convolution, our naive version, helpers."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import DeformConv2d, deform_conv2d

from course_utils import deformable as dc


@pytest.fixture
def xw():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 9, 8, generator=g, dtype=torch.float64)
    w = torch.randn(5, 4, 3, 3, generator=g, dtype=torch.float64)
    b = torch.randn(5, generator=g, dtype=torch.float64)
    return x, w, b


def test_zero_offsets_equal_conv2d(xw):
    x, w, b = xw
    for stride, padding, dilation in [(1, 1, 1), (2, 0, 1), (1, 2, 2)]:
        plain = F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation)
        offset = torch.zeros(2, 18, *plain.shape[2:], dtype=x.dtype)
        out = deform_conv2d(x, offset, w, b, stride=stride, padding=padding, dilation=dilation)
        assert torch.allclose(out, plain, atol=1e-10)


def test_deformconv2d_module_with_zero_offsets_equals_conv2d_module():
    torch.manual_seed(0)
    plain = nn.Conv2d(3, 6, 3, padding=1)
    deform = DeformConv2d(3, 6, 3, padding=1)
    deform.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 10, 10)
    assert torch.allclose(deform(x, torch.zeros(2, 18, 10, 10)), plain(x), atol=1e-5)


def test_constant_half_pixel_offset_equals_bilinear_half_pixel_shift(xw):
    x, w, b = xw
    offset = dc.constant_offset(2, 3, (9, 8), dy=0.0, dx=0.5).to(x.dtype)
    assert offset.shape == (2, 18, 9, 8) and torch.all(offset[:, 0::2] == 0) and torch.all(offset[:, 1::2] == 0.5)
    out = deform_conv2d(x, offset, w, b, padding=1)
    shifted = dc.half_pixel_shift(F.pad(x, (1, 1, 1, 1)))  # sample between columns j and j+1 of the padded input
    assert torch.allclose(out, F.conv2d(shifted, w, b), atol=1e-10)
    # the same through grid_sample: columns j + 0.5 in align_corners=True coordinates
    h, wd = x.shape[2:]
    ys, xs = torch.meshgrid(torch.arange(h, dtype=x.dtype), torch.arange(wd, dtype=x.dtype) + 0.5, indexing="ij")
    grid = torch.stack([2 * xs / (wd - 1) - 1, 2 * ys / (h - 1) - 1], -1)[None].expand(2, -1, -1, -1)
    sampled = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    assert torch.allclose(sampled, dc.half_pixel_shift(x), atol=1e-10)


def test_a_vertical_half_pixel_offset_shifts_rows(xw):
    x, w, b = xw
    out = deform_conv2d(x, dc.constant_offset(2, 3, (9, 8), dy=0.5, dx=0.0).to(x.dtype), w, b, padding=1)
    shifted = dc.half_pixel_shift(F.pad(x, (1, 1, 1, 1)).transpose(2, 3)).transpose(2, 3)
    assert torch.allclose(out, F.conv2d(shifted, w, b), atol=1e-10)


@pytest.mark.parametrize("stride,padding,dilation,groups", [(1, 1, 1, 1), (2, 0, 1, 2), (1, 2, 2, 4), (2, 1, 2, 1)])
def test_naive_deformable_conv_matches_torchvision(xw, stride, padding, dilation, groups):
    x, w, b = xw
    g = torch.Generator().manual_seed(stride + 10 * groups)
    ho = (9 + 2 * padding - dilation * 2 - 1) // stride + 1
    wo = (8 + 2 * padding - dilation * 2 - 1) // stride + 1
    offset = 2 * torch.randn(2, 2 * groups * 9, ho, wo, generator=g, dtype=x.dtype)  # many land outside
    mask = torch.rand(2, groups * 9, ho, wo, generator=g, dtype=x.dtype)
    for m in (None, mask):
        theirs = deform_conv2d(x, offset, w, b, stride=stride, padding=padding, dilation=dilation, mask=m)
        ours = dc.deform_conv2d_naive(x, offset, w, b, stride, padding, dilation, mask=m)
        assert torch.allclose(ours, theirs, atol=1e-10)


def test_mask_zero_removes_a_tap_and_all_zero_leaves_the_bias(xw):
    x, w, b = xw
    offset = torch.zeros(2, 18, 9, 8, dtype=x.dtype)
    mask = torch.ones(2, 9, 9, 8, dtype=x.dtype)
    mask[:, 4] = 0  # the centre tap (row 1, column 1 of the 3x3 kernel)
    w_without_centre = w.clone()
    w_without_centre[:, :, 1, 1] = 0
    out = deform_conv2d(x, offset, w, b, padding=1, mask=mask)
    assert torch.allclose(out, F.conv2d(x, w_without_centre, b, padding=1), atol=1e-10)
    silent = deform_conv2d(x, offset, w, b, padding=1, mask=torch.zeros_like(mask))
    assert torch.allclose(silent, b[None, :, None, None].expand_as(silent))
    ones = deform_conv2d(x, offset, w, b, padding=1, mask=torch.ones_like(mask))
    assert torch.allclose(ones, F.conv2d(x, w, b, padding=1), atol=1e-10)


def test_bilinear_matches_grid_sample_and_the_object_example():
    g = torch.Generator().manual_seed(3)
    img = torch.rand(2, 3, 6, 7, generator=g, dtype=torch.float64)
    y = torch.rand(2, 20, generator=g, dtype=torch.float64) * 8 - 1.5  # some outside the image
    x = torch.rand(2, 20, generator=g, dtype=torch.float64) * 9 - 1.5
    grid = torch.stack([2 * x / 6 - 1, 2 * y / 5 - 1], -1)[:, None]  # (N, 1, P, 2), align_corners=True
    ref = F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=True)[:, :, 0]
    assert torch.allclose(dc.bilinear(img, y, x), ref, atol=1e-12)
    grid8 = dc.object_grid()
    assert float(dc.bilinear(grid8, torch.tensor([[3.5]]), torch.tensor([[3.5]]))) == 1.0
    assert float(F.avg_pool2d(grid8, 2).max()) == 0.25  # stride-2 cells each catch a quarter of the object


def test_offset_count_has_two_numbers_per_tap():
    assert dc.offset_count(256, 64, 64, 3) == 2 * 256 * 64 * 64 * 9
    assert dc.offset_count(256, 64, 64, 3, per_channel=False) == 2 * 64 * 64 * 9
    with pytest.raises(ValueError, match="channels"):
        dc.offset_count(0, 4, 4, 3)


def test_deform_block_starts_as_a_plain_conv_and_learns_offsets():
    torch.manual_seed(0)
    block = dc.DeformBlock(3, 4)
    plain = nn.Conv2d(3, 4, 3, padding=1)
    plain.weight.data.copy_(block.conv.weight.data)
    plain.bias.data.copy_(block.conv.bias.data)
    x = torch.randn(2, 3, 8, 8)
    assert torch.allclose(block(x), plain(x), atol=1e-5)
    block(x).square().sum().backward()
    assert block.offset.weight.grad.abs().sum() > 0  # the offsets receive gradients
    modulated = dc.DeformBlock(3, 4, modulated=True)
    assert modulated.offset.out_channels == 27 and modulated(x).shape == (2, 4, 8, 8)


def test_digit_nets_and_warps():
    for deformable in (0, 1, 2):
        model = dc.digit_net(deformable)
        assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
        assert sum(isinstance(m, dc.DeformBlock) for m in model.modules()) == deformable
    with pytest.raises(ValueError, match="deformable"):
        dc.digit_net(3)
    img = torch.zeros(4, 1, 28, 28)
    img[..., 10:18, 12:16] = 1
    same = dc.warp_digits(img, max_angle=0, scale=(1, 1), elastic=0)
    assert torch.allclose(same, img, atol=1e-5)
    warped = dc.warp_digits(img, generator=torch.Generator().manual_seed(0))
    assert warped.shape == img.shape and not torch.allclose(warped, img, atol=1e-2)


def test_sampling_points_map_offsets_to_pixels():
    offset = torch.zeros(18, 5, 5)
    offset[0::2] = 0.5  # every tap half a pixel down
    regular, deformed = dc.sampling_points(offset, 2, 2, stride=1, scale=2.0)
    assert regular.shape == deformed.shape == (9, 2)
    assert regular[4].tolist() == [4.5, 4.5]  # centre tap of layer pixel (2, 2) = input pixels 4..5
    assert (deformed - regular)[:, 0].tolist() == [1.0] * 9 and (deformed - regular)[:, 1].tolist() == [0.0] * 9
