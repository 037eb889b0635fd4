"""Deformable convolution (notebook 12): sub-pixel sampling, offsets, masks, and a small task where it helps.

    bilinear(image, y, x)                   sample (N, C, H, W) images at fractional positions (zeros outside)
    deform_conv2d_naive(...)                deformable convolution v1/v2 from scratch, to check torchvision's
    constant_offset(...), half_pixel_shift(...)   the (0, 0.5) offset and the bilinear shift it equals
    offset_count(...)                       how many offset numbers a layer needs (2 per tap: dy and dx)
    DeformBlock, digit_net(deformable)      a DeformConv2d whose offsets a zero-initialised conv predicts
    warp_digits(images)                     random rotations, scalings and elastic warps of digits
    sampling_points(...), draw_object_grid(...)   pictures of where a kernel reads
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .conv import _pair, _positive_int, conv_output_size

__all__ = ["bilinear", "deform_conv2d_naive", "constant_offset", "half_pixel_shift", "offset_count",
           "object_grid", "DeformBlock", "digit_net", "warp_digits", "sampling_points", "draw_object_grid",
           "draw_sampling_points"]


# ---------------------------------------------------------------- sampling between pixels
def bilinear(image: torch.Tensor, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of image (N, C, H, W) at rows y and columns x (each (N, ...)): returns (N, C, ...).

    A value between pixels is the average of its four neighbours, weighted by closeness. Neighbours outside the
    image count as zeros (as in torchvision's deform_conv2d), so a position one pixel or more outside gives 0.
    """
    if image.ndim != 4:
        raise ValueError(f"image must be (N, C, H, W), got shape {tuple(image.shape)}")
    n, c, h, w = image.shape
    y, x = torch.as_tensor(y, dtype=image.dtype), torch.as_tensor(x, dtype=image.dtype)
    shape = y.shape
    y, x = y.reshape(n, -1), x.reshape(n, -1)
    y0, x0 = torch.floor(y), torch.floor(x)
    flat = image.reshape(n, c, h * w)
    out = torch.zeros(n, c, y.shape[1], dtype=image.dtype)
    for dy in (0, 1):
        for dx in (0, 1):
            yy, xx = y0 + dy, x0 + dx
            weight = (1 - (y - yy).abs()) * (1 - (x - xx).abs())              # (N, P)
            inside = (yy >= 0) & (yy <= h - 1) & (xx >= 0) & (xx <= w - 1)
            index = (yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1)).long()
            values = flat.gather(2, index[:, None, :].expand(n, c, -1))      # (N, C, P)
            out += values * (weight * inside)[:, None, :]
    return out.reshape(n, c, *shape[1:])


def deform_conv2d_naive(x: torch.Tensor, offset: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                        stride=1, padding=0, dilation=1, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Deformable convolution from scratch, with torchvision.ops.deform_conv2d's arguments and layout.

    Output (i, j) reads tap (u, v) of the kernel at row  i*stride - padding + u*dilation + dy  and column
    j*stride - padding + v*dilation + dx, by bilinear sampling. offset: (N, 2*G*kh*kw, H_out, W_out), ordered
    (dy, dx) for tap 0, (dy, dx) for tap 1, ... within each of the G offset groups (groups of input channels).
    mask (DCNv2): (N, G*kh*kw, H_out, W_out), multiplies each sampled value.
    """
    (sh, sw), (dh, dw) = _pair(stride, "stride"), _pair(dilation, "dilation")
    ph, pw = _pair(padding, "padding", minimum=0)
    n, c, h, w = x.shape
    c_out, c_per_group, kh, kw = weight.shape
    if c_per_group != c:
        raise ValueError(f"weight expects {c_per_group} input channels but x has {c} (groups are not supported here)")
    ho, wo = conv_output_size(h, kh, sh, ph, dh), conv_output_size(w, kw, sw, pw, dw)
    k = kh * kw
    if offset.shape[0] != n or offset.shape[1] % (2 * k) or tuple(offset.shape[2:]) != (ho, wo):
        raise ValueError(f"offset must be (N, 2*G*{k}, {ho}, {wo}) for this input and kernel, got {tuple(offset.shape)}")
    g = offset.shape[1] // (2 * k)
    if c % g:
        raise ValueError(f"{g} offset groups must divide the {c} input channels")
    off = offset.reshape(n, g, k, 2, ho, wo)
    u, v = torch.meshgrid(torch.arange(kh), torch.arange(kw), indexing="ij")
    rows = (torch.arange(ho) * sh - ph)[None, :, None] + (u.reshape(k) * dh)[:, None, None]  # (K, Ho, 1)
    cols = (torch.arange(wo) * sw - pw)[None, None, :] + (v.reshape(k) * dw)[:, None, None]  # (K, 1, Wo)
    sampled = []
    for grp in range(g):  # each group of channels has its own offsets
        chans = x[:, grp * (c // g):(grp + 1) * (c // g)]
        y_at = rows[None].to(x.dtype) + off[:, grp, :, 0]  # (N, K, Ho, Wo)
        x_at = cols[None].to(x.dtype) + off[:, grp, :, 1]
        values = bilinear(chans, y_at, x_at)                 # (N, C/G, K, Ho, Wo)
        if mask is not None:
            values = values * mask.reshape(n, g, k, ho, wo)[:, grp, None]
        sampled.append(values)
    columns = torch.cat(sampled, 1)                          # (N, C, K, Ho, Wo)
    out = torch.einsum("nckhw,ock->nohw", columns, weight.reshape(c_out, c, k))
    return out if bias is None else out + bias[None, :, None, None]


def constant_offset(n: int, kernel_size, out_size, dy: float, dx: float, groups: int = 1) -> torch.Tensor:
    """The same (dy, dx) shift for every tap and output position: shape (n, 2*groups*kh*kw, H_out, W_out)."""
    kh, kw = _pair(kernel_size, "kernel_size")
    ho, wo = _pair(out_size, "out_size")
    one = torch.tensor([float(dy), float(dx)]).repeat(groups * kh * kw)  # dy, dx, dy, dx, ...
    return one[None, :, None, None].expand(n, -1, ho, wo).contiguous()


def half_pixel_shift(x: torch.Tensor) -> torch.Tensor:
    """Bilinear sampling half a pixel to the right: out[..., j] = (x[..., j] + x[..., j+1]) / 2, zero past the edge."""
    right = F.pad(x[..., 1:], (0, 1))
    return 0.5 * (x + right)


def offset_count(channels: int, height: int, width: int, kernel_size: int, per_channel: bool = True) -> int:
    """Offset numbers of one deformable layer: 2 (dy and dx) x kernel taps x positions (x channels if per channel).

    The slides say C*H*W*k^2; every offset has two components, so it is 2*C*H*W*k^2 (torchvision's default
    offset_groups=1 shares one set over all channels: 2*H*W*k^2).
    """
    c, h, w = (_positive_int(v, name) for v, name in ((channels, "channels"), (height, "height"), (width, "width")))
    k = _positive_int(kernel_size, "kernel_size")
    return 2 * (c if per_channel else 1) * h * w * k * k


# ---------------------------------------------------------------- the slides' 8x8 grid
def object_grid(size: int = 8, object_size: int = 2, top: int = 3, left: int = 3) -> torch.Tensor:
    """A (1, 1, size, size) image of zeros with an object_size x object_size square of ones at (top, left)."""
    if top + object_size > size or left + object_size > size:
        raise ValueError(f"the object at ({top}, {left}) of size {object_size} does not fit in {size}x{size}")
    img = torch.zeros(1, 1, size, size)
    img[..., top:top + object_size, left:left + object_size] = 1.0
    return img


def draw_object_grid(image: torch.Tensor, sample_points=None, stride: int = 2, ax=None, title: str = ""):
    """The grid as pixels, the stride's coarse cells as thick lines, and optional (row, col) sampling points."""
    import matplotlib.pyplot as plt

    img = image[0, 0].numpy()
    ax = ax or plt.subplots(figsize=(3.2, 3.2))[1]
    ax.imshow(img, cmap="Blues", vmin=0, vmax=1.2)
    size = img.shape[0]
    for t in np.arange(-0.5, size, 1):
        ax.axhline(t, color="0.75", lw=0.5)
        ax.axvline(t, color="0.75", lw=0.5)
    for t in np.arange(-0.5, size, stride):
        ax.axhline(t, color="k", lw=1.5)
        ax.axvline(t, color="k", lw=1.5)
    if sample_points is not None:
        pts = np.asarray(sample_points, dtype=float).reshape(-1, 2)
        ax.scatter(pts[:, 1], pts[:, 0], color="#e6550d", s=40, zorder=3)
    ax.set_xticks(range(size))
    ax.set_yticks(range(size))
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    ax.set_title(title, fontsize=9)
    return ax


# ---------------------------------------------------------------- a network with learned offsets
class DeformBlock(nn.Module):
    """A 3x3 DeformConv2d whose offsets (and, with modulated=True, DCNv2 masks) a plain conv predicts from x.

    The offset conv starts at zero, so before training the block is exactly a plain 3x3 convolution.
    """

    def __init__(self, in_channels: int, out_channels: int, modulated: bool = False):
        super().__init__()
        from torchvision.ops import DeformConv2d

        self.modulated = modulated
        self.conv = DeformConv2d(in_channels, out_channels, 3, padding=1)
        self.offset = nn.Conv2d(in_channels, (3 if modulated else 2) * 9, 3, padding=1)
        nn.init.zeros_(self.offset.weight)
        nn.init.zeros_(self.offset.bias)
        self.last_offset: torch.Tensor | None = None  # kept for drawing

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.offset(x)
        offset, mask = (out[:, :18], 2 * torch.sigmoid(out[:, 18:])) if self.modulated else (out, None)
        self.last_offset = offset.detach()
        return self.conv(x, offset, mask)  # mask 2*sigmoid(0) = 1 at the start: plain deformable conv


def digit_net(deformable: int = 0, widths=(16, 32, 64), num_classes: int = 10) -> nn.Sequential:
    """A small CNN for 28x28 digits (three 3x3 convs); the last `deformable` of them (0, 1 or 2) are DeformBlocks."""
    if deformable not in (0, 1, 2):
        raise ValueError(f"deformable must be 0, 1 or 2 (how many of the last two convs), got {deformable!r}")
    a, b, c = widths

    def block(c_in, c_out, deform):
        return DeformBlock(c_in, c_out) if deform else nn.Conv2d(c_in, c_out, 3, padding=1)

    return nn.Sequential(nn.Conv2d(1, a, 3, padding=1), nn.BatchNorm2d(a), nn.ReLU(), nn.MaxPool2d(2),
                         block(a, b, deformable == 2), nn.BatchNorm2d(b), nn.ReLU(), nn.MaxPool2d(2),
                         block(b, c, deformable >= 1), nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(c, num_classes))


def warp_digits(images: torch.Tensor, max_angle: float = 60.0, scale=(0.7, 1.2), elastic: float = 2.0,
                smooth: int = 7, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each image (N, 1, H, W) rotated, scaled and elastically warped at random (one smooth displacement field each).

    max_angle: degrees either way. scale: (min, max) zoom. elastic: largest displacement in pixels.
    """
    n, _, h, w = images.shape
    g = generator
    angle = (torch.rand(n, generator=g) * 2 - 1) * math.radians(max_angle)
    zoom = scale[0] + torch.rand(n, generator=g) * (scale[1] - scale[0])
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, torch.zeros(n)], 1), torch.stack([sin, cos, torch.zeros(n)], 1)], 1)
    grid = F.affine_grid(theta, (n, 1, h, w), align_corners=False)
    if elastic > 0:  # a random field, smoothed by average pooling, scaled to `elastic` pixels at most
        field = torch.rand(n, 2, h, w, generator=g) * 2 - 1
        field = F.avg_pool2d(F.pad(field, (smooth // 2,) * 4, mode="reflect"), smooth, stride=1)
        field = field / field.abs().amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-8) * elastic
        grid = grid + field.permute(0, 2, 3, 1) * torch.tensor([2 / w, 2 / h])
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def sampling_points(offset: torch.Tensor, row: int, col: int, stride: int, dilation: int = 1,
                    padding: int = 1, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Where a 3x3 kernel at output (row, col) reads, without and with the learned offsets, in input pixels.

    offset: (2*9, H, W) for one image. scale: pixels of the network's input per pixel of this layer's input
    (e.g. 2 after one 2x2 pooling); positions are mapped to pixel centres of the network input.
    Returns (regular, deformed), each (9, 2) arrays of (row, column).
    """
    u, v = np.meshgrid(np.arange(3), np.arange(3), indexing="ij")
    base = np.stack([row * stride - padding + u.ravel() * dilation, col * stride - padding + v.ravel() * dilation], 1)
    off = offset[:, row, col].reshape(9, 2).cpu().numpy()
    to_input = lambda p: (p + 0.5) * scale - 0.5  # noqa: E731  (centre of a layer pixel, in input pixels)
    return to_input(base.astype(float)), to_input(base + off)


def draw_sampling_points(image: torch.Tensor, points: list[tuple[np.ndarray, np.ndarray]], ax=None, title: str = ""):
    """An image with, for each output position, its regular 3x3 taps (grey) and learned ones (coloured arrows)."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(3, 3))[1]
    ax.imshow(image.reshape(image.shape[-2:]).cpu().numpy(), cmap="gray")
    colours = plt.cm.tab10.colors
    for i, (regular, deformed) in enumerate(points):
        ax.scatter(regular[:, 1], regular[:, 0], s=12, color="0.6", marker="s")
        ax.scatter(deformed[:, 1], deformed[:, 0], s=18, color=colours[i % 10])
        for a, b in zip(regular, deformed):
            ax.annotate("", xy=(b[1], b[0]), xytext=(a[1], a[0]),
                        arrowprops={"arrowstyle": "->", "color": colours[i % 10], "lw": 0.8})
    ax.set_xlim(-0.5, image.shape[-1] - 0.5)
    ax.set_ylim(image.shape[-2] - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    return ax
