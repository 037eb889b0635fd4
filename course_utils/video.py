"""3-D convolutions on clips (notebook 12): a moving-digits task the course generates, models, and their cost.

    moving_digits(images, n)        clips (N, 1, T, H, W) of a digit moving right, left, down or up
    conv3d(...), per_frame_2d(...), frames_as_channels(...)   a 3-D CNN and two 2-D baselines
    conv_cost(layer, output_shape)  parameters and multiply-accumulates of a Conv2d / Conv3d, from the formula
    clip_strip(clip), clip_gif(clip)   a clip as a strip of frames, or as an animated GIF (Pillow)
"""
from __future__ import annotations

import io
import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .conv import _positive_int

__all__ = ["DIRECTIONS", "moving_digits", "conv3d", "per_frame_2d", "frames_as_channels", "PerFrame2d",
           "conv_cost", "clip_strip", "clip_gif"]

#: The classes of the moving-digits task, with their (row, column) step per frame.
DIRECTIONS: dict[str, tuple[int, int]] = {"right": (0, 1), "left": (0, -1), "down": (1, 0), "up": (-1, 0)}


def moving_digits(images: torch.Tensor, n: int, frames: int = 8, size: int = 32, digit_size: int = 16,
                  speed: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n clips (n, 1, frames, size, size) of one digit crossing a black canvas, and their direction labels.

    images: digits shaped (N, 1, H, W) or (N, H, W) in [0, 1], resized to digit_size. Each clip takes a random
    digit, a random direction (DIRECTIONS) and a random start at which the whole path fits on the canvas. Start
    positions are uniform, so a clip played backwards is as likely as the clip of the opposite direction: no
    single frame, nor the set of frames without their order, tells left from right.
    """
    n, frames, size = _positive_int(n, "n"), _positive_int(frames, "frames"), _positive_int(size, "size")
    travel = speed * (frames - 1)
    if digit_size + travel > size:
        raise ValueError(f"the path does not fit: digit_size {digit_size} + speed {speed} x (frames - 1) = "
                         f"{digit_size + travel} > size {size}; use a bigger canvas or fewer frames")
    images = images if images.ndim == 4 else images[:, None]
    digits = F.interpolate(images.float(), size=(digit_size, digit_size), mode="bilinear", antialias=True,
                           align_corners=False)[:, 0].clamp(0, 1)
    g = torch.Generator().manual_seed(seed)
    which = torch.randint(len(digits), (n,), generator=g)
    labels = torch.randint(len(DIRECTIONS), (n,), generator=g)
    free = size - digit_size  # room for the digit's top-left corner
    along = torch.randint(free - travel + 1, (n,), generator=g)  # where the path starts along the motion
    across = torch.randint(free + 1, (n,), generator=g)          # and where it lies across it
    steps = list(DIRECTIONS.values())
    clips = torch.zeros(n, 1, frames, size, size)
    for i in range(n):
        dr, dc = steps[int(labels[i])]
        sign = dr + dc  # +1 for right and down, -1 for left and up (which start at the far end)
        start_along = int(along[i]) + (0 if sign > 0 else travel)
        for t in range(frames):
            pos = start_along + sign * speed * t
            r, c = (pos, int(across[i])) if dr else (int(across[i]), pos)
            clips[i, 0, t, r:r + digit_size, c:c + digit_size] = digits[which[i]]
    return clips, labels


# ---------------------------------------------------------------- models
def conv3d(num_classes: int = 4, widths: Sequence[int] = (8, 16, 32)) -> nn.Sequential:
    """A small 3-D CNN for (N, 1, T, H, W) clips: 3x3x3 convs, pooling over space first, then space and time."""
    a, b, c = widths
    return nn.Sequential(
        nn.Conv3d(1, a, 3, padding=1), nn.ReLU(), nn.MaxPool3d((1, 2, 2)),
        nn.Conv3d(a, b, 3, padding=1), nn.ReLU(), nn.MaxPool3d(2),
        nn.Conv3d(b, c, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(c, num_classes))


def _cnn2d(in_channels: int, widths: Sequence[int]) -> nn.Sequential:
    """The 2-D twin of conv3d's feature extractor (3x3 convs, same widths, same spatial pooling)."""
    a, b, c = widths
    return nn.Sequential(
        nn.Conv2d(in_channels, a, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(a, b, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(b, c, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())


class PerFrame2d(nn.Module):
    """A 2-D CNN applied to every frame on its own; the frames' features are averaged over time (order lost)."""

    def __init__(self, num_classes: int = 4, widths: Sequence[int] = (8, 16, 32)):
        super().__init__()
        self.features, self.head = _cnn2d(1, widths), nn.Linear(widths[-1], num_classes)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        n, c, t, h, w = clips.shape
        frames = clips.transpose(1, 2).reshape(n * t, c, h, w)       # (N*T, C, H, W): frames as a batch
        return self.head(self.features(frames).reshape(n, t, -1).mean(1))


def per_frame_2d(num_classes: int = 4, widths: Sequence[int] = (8, 16, 32)) -> PerFrame2d:
    """The per-frame 2-D baseline (see PerFrame2d)."""
    return PerFrame2d(num_classes, widths)


def frames_as_channels(frames: int, num_classes: int = 4, widths: Sequence[int] = (8, 16, 32)) -> nn.Sequential:
    """A 2-D CNN that takes the T frames as T input channels ("early fusion"): its first layer sees them all."""
    return nn.Sequential(nn.Flatten(1, 2), *_cnn2d(frames, widths), nn.Linear(widths[-1], num_classes))


# ---------------------------------------------------------------- cost
def conv_cost(layer: nn.Module, output_shape: Sequence[int]) -> dict[str, int]:
    """Parameters and multiply-accumulates (MACs) of one Conv1d/2d/3d layer for one example, from the formula.

    params = C_out * (C_in / groups) * prod(kernel) (+ C_out biases); MACs = prod(output size) * C_out *
    (C_in / groups) * prod(kernel). output_shape: the spatial output size, e.g. (T, H, W) for a Conv3d.
    """
    if not isinstance(layer, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        raise TypeError(f"layer must be an nn.Conv1d, Conv2d or Conv3d, got {type(layer).__name__}")
    if len(output_shape) != len(layer.kernel_size):
        raise ValueError(f"output_shape needs {len(layer.kernel_size)} sizes for a {type(layer).__name__}, "
                         f"got {tuple(output_shape)}")
    per_output = (layer.in_channels // layer.groups) * math.prod(layer.kernel_size)
    weights = layer.out_channels * per_output
    return {"params": weights + (layer.out_channels if layer.bias is not None else 0),
            "macs": math.prod(output_shape) * layer.out_channels * per_output}


# ---------------------------------------------------------------- pictures
def clip_strip(clip: torch.Tensor, ax=None, title: str = ""):
    """The frames of one clip (1, T, H, W) side by side, with a line between them; returns the axes."""
    import matplotlib.pyplot as plt

    frames = clip[0].detach().cpu().numpy()
    t, h, w = frames.shape
    strip = np.concatenate([np.pad(f, ((0, 0), (0, 1)), constant_values=0.5) for f in frames], axis=1)
    ax = ax or plt.subplots(figsize=(1.2 * t, 1.4))[1]
    ax.imshow(strip, cmap="gray", vmin=0, vmax=1)
    ax.set_xticks((np.arange(t) + 0.5) * (w + 1), [f"t={i}" for i in range(t)], fontsize=7)
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    return ax


def clip_gif(clips: torch.Tensor, labels: Sequence[str] | None = None, scale: int = 3, ms: int = 150) -> bytes:
    """Several clips (N, 1, T, H, W) side by side as one looping animated GIF (bytes for IPython.display.Image)."""
    from PIL import Image

    frames = clips[:, 0].detach().cpu().clamp(0, 1).numpy()  # (N, T, H, W)
    n, t, h, w = frames.shape
    pictures = []
    for i in range(t):
        row = np.concatenate([np.pad(frames[j, i], 1, constant_values=0.5) for j in range(n)], axis=1)
        img = Image.fromarray((row * 255).astype(np.uint8)).resize((row.shape[1] * scale, row.shape[0] * scale),
                                                                  Image.NEAREST)
        pictures.append(img)
    buffer = io.BytesIO()
    pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:], duration=ms, loop=0)
    return buffer.getvalue()
