"""Convolution from scratch in NumPy, its arithmetic, and pictures of it (notebook 06).

Everything here follows PyTorch's conventions so it can be checked against `torch.nn.functional`:
"convolution" means cross-correlation (the kernel is not flipped), weights are shaped
(C_out, C_in / groups, kH, kW) for a convolution and (C_in, C_out, kH, kW) for a transposed one,
and max-pooling indices are flat positions inside each H x W plane.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

Pair = int | tuple[int, int]

__all__ = [
    "conv_output_size", "conv_transpose_output_size", "same_padding", "conv_params", "pad2d",
    "conv2d_naive", "conv2d", "conv_matrix", "conv_transpose2d", "pool2d", "max_pool2d_with_indices",
    "max_unpool2d", "global_avg_pool2d", "layer_geometry", "receptive_fields", "separable_multiplications",
    "count_conv_multiplications", "plot_weight_matrix", "draw_conv", "conv_gallery", "conv_frames", "conv_animation",
    "conv_explorer",
]


# ---------------------------------------------------------------- arithmetic
def _positive_int(value, name: str, minimum: int = 1) -> int:
    """`value` as an int >= minimum, or a ValueError naming the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _pair(value, name: str, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints -> a checked (height, width) pair."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
        return _positive_int(value[0], name, minimum), _positive_int(value[1], name, minimum)
    v = _positive_int(value, name, minimum)
    return v, v


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int | str = 0, dilation: int = 1,
                     exact: bool = False) -> int | float:
    """Output length of a convolution along one axis: floor((size + 2p - d(k-1) - 1) / s + 1), as PyTorch.

    padding may be "valid" (0) or "same" (output = input; PyTorch allows it only with stride 1).
    exact=True returns the formula before flooring (a float), which shows when the windows do not fit evenly.
    """
    size = _positive_int(size, "size")
    kernel_size = _positive_int(kernel_size, "kernel_size")
    stride = _positive_int(stride, "stride")
    dilation = _positive_int(dilation, "dilation")
    if padding == "valid":
        padding = 0
    elif padding == "same":
        if stride != 1:
            raise ValueError("padding='same' needs stride=1 (PyTorch rule); give padding as a number instead")
        return float(size) if exact else size
    padding = _positive_int(padding, "padding", minimum=0)
    span = dilation * (kernel_size - 1) + 1
    if span > size + 2 * padding:
        raise ValueError(f"the kernel spans {span} pixels (kernel_size={kernel_size}, dilation={dilation}) "
                         f"but the padded input has only {size + 2 * padding}: use a smaller kernel or more padding")
    value = (size + 2 * padding - span) / stride + 1
    return value if exact else math.floor(value)


def conv_transpose_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1,
                               output_padding: int = 0) -> int:
    """Output length of a transposed convolution: (size-1)s - 2p + d(k-1) + output_padding + 1, as PyTorch."""
    size = _positive_int(size, "size")
    kernel_size = _positive_int(kernel_size, "kernel_size")
    stride = _positive_int(stride, "stride")
    dilation = _positive_int(dilation, "dilation")
    padding = _positive_int(padding, "padding", minimum=0)
    output_padding = _positive_int(output_padding, "output_padding", minimum=0)
    if output_padding >= max(stride, dilation):
        raise ValueError(f"output_padding must be smaller than stride or dilation, got {output_padding}")
    out = (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1
    if out < 1:
        raise ValueError(f"padding={padding} removes the whole output (size would be {out})")
    return out


def same_padding(kernel_size: int, dilation: int = 1) -> int:
    """The zero padding that keeps the size unchanged at stride 1: d(k-1)/2 (needs an odd kernel span)."""
    kernel_size = _positive_int(kernel_size, "kernel_size")
    dilation = _positive_int(dilation, "dilation")
    total = dilation * (kernel_size - 1)
    if total % 2:
        raise ValueError(f"kernel_size={kernel_size} with dilation={dilation} spans an even number of pixels: "
                         "'same' would need different padding on each side")
    return total // 2


def conv_params(in_channels: int, out_channels: int, kernel_size: Pair, groups: int = 1,
                bias: bool = True) -> int:
    """Weights (+ biases) of a Conv2d layer: out * (in / groups) * kH * kW (+ out)."""
    in_channels = _positive_int(in_channels, "in_channels")
    out_channels = _positive_int(out_channels, "out_channels")
    groups = _positive_int(groups, "groups")
    kh, kw = _pair(kernel_size, "kernel_size")
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"groups={groups} must divide in_channels={in_channels} and out_channels={out_channels}")
    return out_channels * (in_channels // groups) * kh * kw + (out_channels if bias else 0)


# ---------------------------------------------------------------- convolution in NumPy
def pad2d(x: np.ndarray, padding: Pair) -> np.ndarray:
    """Zero-pad the last two axes of `x` by `padding` pixels on each side."""
    ph, pw = _pair(padding, "padding", minimum=0)
    x = np.asarray(x)
    return np.pad(x, [(0, 0)] * (x.ndim - 2) + [(ph, ph), (pw, pw)])


def _check_image_and_kernel(x: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """(H, W) & (kH, kW) or (C, H, W) & (C_out, C, kH, kW) -> 3-D x, 4-D weight, and whether the input was 2-D."""
    x, weight = np.asarray(x, dtype=np.float64), np.asarray(weight, dtype=np.float64)
    if x.ndim == 2 and weight.ndim == 2:
        return x[None], weight[None, None], True
    if x.ndim == 3 and weight.ndim == 4:
        return x, weight, False
    raise ValueError(f"x and weight must be shaped (H, W) and (kH, kW), or (C, H, W) and (C_out, C, kH, kW); "
                     f"got x {x.shape} and weight {weight.shape}")


def conv2d_naive(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, stride: Pair = 1,
                 padding: Pair = 0, dilation: Pair = 1) -> np.ndarray:
    """Convolution (PyTorch's cross-correlation) with explicit loops: one output pixel at a time.

    x (H, W) with weight (kH, kW) gives (H_out, W_out); x (C, H, W) with weight (C_out, C, kH, kW)
    gives (C_out, H_out, W_out).
    """
    x3, w4, flat = _check_image_and_kernel(x, weight)
    if w4.shape[1] != x3.shape[0]:
        raise ValueError(f"weight has {w4.shape[1]} input channels but x has {x3.shape[0]}")
    (sh, sw), (dh, dw) = _pair(stride, "stride"), _pair(dilation, "dilation")
    ph, pw = _pair(padding, "padding", minimum=0)
    c_out, _, kh, kw = w4.shape
    ho = conv_output_size(x3.shape[1], kh, sh, ph, dh)
    wo = conv_output_size(x3.shape[2], kw, sw, pw, dw)
    xp = pad2d(x3, (ph, pw))
    out = np.zeros((c_out, ho, wo))
    for o in range(c_out):
        for i in range(ho):
            for j in range(wo):
                top, left = i * sh, j * sw
                window = xp[:, top:top + dh * (kh - 1) + 1:dh, left:left + dw * (kw - 1) + 1:dw]
                out[o, i, j] = np.sum(window * w4[o])  # multiply element-wise, then sum
        if bias is not None:
            out[o] += np.asarray(bias, dtype=np.float64).reshape(-1)[o]
    return out[0] if flat else out


def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, stride: Pair = 1,
           padding: Pair = 0, dilation: Pair = 1, groups: int = 1) -> np.ndarray:
    """Vectorised convolution: all windows at once (a strided view), then one einsum; same maths as F.conv2d.

    x (N, C, H, W) with weight (C_out, C / groups, kH, kW) -> (N, C_out, H_out, W_out);
    (C, H, W) and (H, W) inputs (with a (kH, kW) weight) give outputs without those axes.
    """
    x, weight = np.asarray(x, dtype=np.float64), np.asarray(weight, dtype=np.float64)
    squeeze = 0
    if x.ndim == 2 and weight.ndim == 2:
        x, weight, squeeze = x[None, None], weight[None, None], 2
    elif x.ndim == 3 and weight.ndim == 4:
        x, squeeze = x[None], 1
    elif not (x.ndim == 4 and weight.ndim == 4):
        raise ValueError(f"x must be (N, C, H, W), (C, H, W) or (H, W) with a 4-D (or, for 2-D x, 2-D) weight; "
                         f"got x {x.shape} and weight {weight.shape}")
    groups = _positive_int(groups, "groups")
    n, c, _, _ = x.shape
    c_out, c_per_group, kh, kw = weight.shape
    if c % groups or c_out % groups or c // groups != c_per_group:
        raise ValueError(f"weight {weight.shape} does not fit x with {c} channels and groups={groups}: "
                         f"need weight.shape[1] == C / groups == {c / groups:g}")
    (sh, sw), (dh, dw) = _pair(stride, "stride"), _pair(dilation, "dilation")
    xp = pad2d(x, padding)
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if span_h > xp.shape[2] or span_w > xp.shape[3]:
        raise ValueError(f"the kernel spans {span_h}x{span_w} pixels but the padded input is "
                         f"{xp.shape[2]}x{xp.shape[3]}")
    windows = np.lib.stride_tricks.sliding_window_view(xp, (span_h, span_w), axis=(2, 3))
    windows = windows[:, :, ::sh, ::sw, ::dh, ::dw]  # (N, C, H_out, W_out, kH, kW)
    ho, wo = windows.shape[2:4]
    windows = windows.reshape(n, groups, c_per_group, ho, wo, kh, kw)
    w = weight.reshape(groups, c_out // groups, c_per_group, kh, kw)
    out = np.einsum("ngchwuv,gocuv->ngohw", windows, w, optimize=True).reshape(n, c_out, ho, wo)
    if bias is not None:
        out = out + np.asarray(bias, dtype=np.float64).reshape(1, -1, 1, 1)
    for _ in range(squeeze):
        out = out[0]
    return out


def conv_matrix(kernel: np.ndarray, input_shape: int | Sequence[int], stride: int = 1, padding: int = 0,
                dilation: int = 1) -> np.ndarray:
    """The matrix C with C @ x.ravel() == conv(x, kernel).ravel(), for a 1-D or 2-D single-channel kernel.

    Each row is one output position; it holds the kernel weights at the input pixels that window covers
    (padding pixels are zeros, so they simply drop out). Its transpose C.T is the transposed convolution.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    shape = (input_shape,) if isinstance(input_shape, (int, np.integer)) else tuple(input_shape)
    if kernel.ndim not in (1, 2) or len(shape) != kernel.ndim:
        raise ValueError(f"kernel must be 1-D or 2-D with input_shape of the same length; "
                         f"got kernel {kernel.shape} and input_shape {shape}")
    stride, dilation = _positive_int(stride, "stride"), _positive_int(dilation, "dilation")
    padding = _positive_int(padding, "padding", minimum=0)
    out_shape = tuple(conv_output_size(n, k, stride, padding, dilation) for n, k in zip(shape, kernel.shape))
    matrix = np.zeros((math.prod(out_shape), math.prod(shape)))
    for row, out_pos in enumerate(itertools.product(*map(range, out_shape))):
        for k_pos in itertools.product(*map(range, kernel.shape)):
            in_pos = [o * stride - padding + k * dilation for o, k in zip(out_pos, k_pos)]
            if all(0 <= p < n for p, n in zip(in_pos, shape)):
                matrix[row, np.ravel_multi_index(in_pos, shape)] += kernel[k_pos]
    return matrix


def conv_transpose2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, stride: Pair = 1,
                     padding: Pair = 0, output_padding: Pair = 0, dilation: Pair = 1) -> np.ndarray:
    """Transposed convolution by scattering: every input pixel adds (its value x the kernel) to the output.

    x (H, W) with weight (kH, kW) -> (H_out, W_out); x (C_in, H, W) with weight (C_in, C_out, kH, kW)
    -> (C_out, H_out, W_out), as F.conv_transpose2d.
    """
    x, weight = np.asarray(x, dtype=np.float64), np.asarray(weight, dtype=np.float64)
    flat = x.ndim == 2 and weight.ndim == 2
    if flat:
        x, weight = x[None], weight[None, None]
    elif not (x.ndim == 3 and weight.ndim == 4):
        raise ValueError(f"x and weight must be (H, W) and (kH, kW), or (C_in, H, W) and (C_in, C_out, kH, kW); "
                         f"got x {x.shape} and weight {weight.shape}")
    if weight.shape[0] != x.shape[0]:
        raise ValueError(f"weight has {weight.shape[0]} input channels but x has {x.shape[0]}")
    (sh, sw), (dh, dw) = _pair(stride, "stride"), _pair(dilation, "dilation")
    ph, pw = _pair(padding, "padding", minimum=0)
    oph, opw = _pair(output_padding, "output_padding", minimum=0)
    c_in, c_out, kh, kw = weight.shape
    h, w = x.shape[1:]
    ho = conv_transpose_output_size(h, kh, sh, ph, dh, oph)
    wo = conv_transpose_output_size(w, kw, sw, pw, dw, opw)
    full = np.zeros((c_out, (h - 1) * sh + dh * (kh - 1) + 1 + oph, (w - 1) * sw + dw * (kw - 1) + 1 + opw))
    for i in range(h):
        for j in range(w):
            contribution = np.einsum("c,cokl->okl", x[:, i, j], weight)  # one pixel -> a whole kernel-sized patch
            full[:, i * sh:i * sh + dh * (kh - 1) + 1:dh, j * sw:j * sw + dw * (kw - 1) + 1:dw] += contribution
    out = full[:, ph:ph + ho, pw:pw + wo]
    if bias is not None:
        out = out + np.asarray(bias, dtype=np.float64).reshape(-1, 1, 1)
    return out[0] if flat else out


# ---------------------------------------------------------------- pooling
def _pool_windows(x: np.ndarray, kernel_size: Pair, stride: Pair | None) -> np.ndarray:
    """All pooling windows of the last two axes: shape (..., H_out, W_out, kH, kW)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2:
        raise ValueError(f"x must have at least 2 axes (H, W), got shape {x.shape}")
    kh, kw = _pair(kernel_size, "kernel_size")
    sh, sw = _pair(stride if stride is not None else (kh, kw), "stride")
    if kh > x.shape[-2] or kw > x.shape[-1]:
        raise ValueError(f"kernel_size {kh}x{kw} is larger than the input {x.shape[-2]}x{x.shape[-1]}")
    return np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(-2, -1))[..., ::sh, ::sw, :, :]


def pool2d(x: np.ndarray, kernel_size: Pair = 2, stride: Pair | None = None, mode: str = "max") -> np.ndarray:
    """Max, average or min pooling over the last two axes (stride defaults to kernel_size, as in PyTorch)."""
    reducers = {"max": np.max, "avg": np.mean, "min": np.min}
    if mode not in reducers:
        raise ValueError(f"mode must be one of {sorted(reducers)}, got {mode!r}")
    return reducers[mode](_pool_windows(x, kernel_size, stride), axis=(-2, -1))


def global_avg_pool2d(x: np.ndarray) -> np.ndarray:
    """The mean of each H x W map: one number per channel."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2:
        raise ValueError(f"x must have at least 2 axes (H, W), got shape {x.shape}")
    return x.mean(axis=(-2, -1))


def max_pool2d_with_indices(x: np.ndarray, kernel_size: Pair = 2, stride: Pair | None = None
                            ) -> tuple[np.ndarray, np.ndarray]:
    """Max pooling plus the "switches": the flat index (row * W + col) of each maximum in its H x W plane."""
    windows = _pool_windows(x, kernel_size, stride)
    kh, kw = windows.shape[-2:]
    sh, sw = _pair(stride if stride is not None else (kh, kw), "stride")
    flat = windows.reshape(*windows.shape[:-2], kh * kw)
    best = flat.argmax(axis=-1)  # first maximum on ties, like PyTorch
    ho, wo = windows.shape[-4:-2]
    rows = np.arange(ho)[:, None] * sh + best // kw
    cols = np.arange(wo)[None, :] * sw + best % kw
    return flat.max(axis=-1), rows * np.asarray(x).shape[-1] + cols


def max_unpool2d(x: np.ndarray, indices: np.ndarray, output_size: tuple[int, int]) -> np.ndarray:
    """Put each value back where its maximum came from (zeros elsewhere): the inverse "switch" of max-pooling."""
    x, indices = np.asarray(x, dtype=np.float64), np.asarray(indices)
    if x.shape != indices.shape:
        raise ValueError(f"x {x.shape} and indices {indices.shape} must have the same shape")
    h, w = _pair(tuple(output_size), "output_size")
    if indices.size and (indices.min() < 0 or indices.max() >= h * w):
        raise ValueError(f"indices must lie in [0, {h * w}) for output_size {(h, w)}")
    lead = x.shape[:-2]
    out = np.zeros((math.prod(lead), h * w))
    src, idx = x.reshape(len(out), -1), indices.reshape(len(out), -1)
    np.put_along_axis(out, idx, src, axis=1)
    return out.reshape(*lead, h, w)


# ---------------------------------------------------------------- receptive field and cost
def layer_geometry(model) -> list[tuple[str, int, int, int]]:
    """(name, kernel, stride, dilation) of every conv and pooling layer of a torch model, in order (height axis)."""
    from torch import nn

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    rows = []
    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d)):
            first = lambda v: int(v[0]) if isinstance(v, (tuple, list)) else int(v)  # noqa: E731
            dilation = first(getattr(m, "dilation", 1))
            rows.append((f"{name} ({type(m).__name__})", first(m.kernel_size), first(m.stride), dilation))
    return rows


def receptive_fields(layers) -> list[int]:
    """Receptive field (in input pixels) after each layer: r += d(k-1) * jump, jump *= stride.

    layers: a torch model, or a list of (kernel, stride) or (kernel, stride, dilation) tuples.
    """
    if hasattr(layers, "named_modules"):
        layers = [row[1:] for row in layer_geometry(layers)]
    sizes, rf, jump = [], 1, 1
    for i, layer in enumerate(layers):
        if not 2 <= len(layer) <= 3:
            raise ValueError(f"layer {i} must be (kernel, stride) or (kernel, stride, dilation), got {layer!r}")
        k, s = _positive_int(layer[0], f"layers[{i}] kernel"), _positive_int(layer[1], f"layers[{i}] stride")
        d = _positive_int(layer[2], f"layers[{i}] dilation") if len(layer) == 3 else 1
        rf += d * (k - 1) * jump
        jump *= s
        sizes.append(rf)
    return sizes


def measured_receptive_field(model, in_channels: int = 1, size: int = 64) -> tuple[int, int]:
    """(height, width) of the input patch that the central output pixel depends on, measured with autograd."""
    import torch

    x = torch.zeros(1, in_channels, size, size, requires_grad=True)
    out = model(x)
    out[0, :, out.shape[2] // 2, out.shape[3] // 2].sum().backward()
    rows, cols = torch.nonzero(x.grad[0].abs().sum(0), as_tuple=True)
    if len(rows) == 0:
        raise ValueError("the central output pixel does not depend on the input (all gradients are zero)")
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def separable_multiplications(in_channels: int, out_channels: int, kernel_size: int,
                              out_size: int) -> dict[str, int]:
    """Multiplications of a standard k x k conv vs depthwise (k x k per channel) + pointwise (1 x 1) ones."""
    c_in, c_out = _positive_int(in_channels, "in_channels"), _positive_int(out_channels, "out_channels")
    k, n = _positive_int(kernel_size, "kernel_size"), _positive_int(out_size, "out_size")
    positions = n * n
    depthwise = c_in * k * k * 1 * positions
    pointwise = c_out * 1 * 1 * c_in * positions
    return {"standard": c_out * k * k * c_in * positions, "depthwise": depthwise, "pointwise": pointwise,
            "separable": depthwise + pointwise}


def count_conv_multiplications(model, input_shape: Sequence[int]) -> int:
    """Multiplications done by all conv layers of `model` on one zero input of `input_shape` (counted by hooks)."""
    import torch
    from torch import nn

    total, handles = [], []

    def hook(module, _inputs, output):
        per_output = (module.in_channels // module.groups) * math.prod(module.kernel_size)
        total.append(output.numel() * per_output)

    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            handles.append(m.register_forward_hook(hook))
    if not handles:
        raise ValueError("model has no Conv1d/Conv2d/Conv3d layers to count")
    try:
        with torch.no_grad():
            model(torch.zeros(tuple(input_shape)))
    finally:
        for h in handles:
            h.remove()
    return int(sum(total))


# ---------------------------------------------------------------- pictures
def plot_weight_matrix(matrix: np.ndarray, ax=None, title: str = ""):
    """Draw a weight matrix: one colour per distinct non-zero value, white for zero; returns the axes."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2:
        raise ValueError(f"matrix must be 2-D, got shape {m.shape}")
    ax = ax or plt.subplots(figsize=(3, 3))[1]
    values = [v for v in np.unique(m) if v != 0]
    codes = np.zeros(m.shape, dtype=int)
    for i, v in enumerate(values, start=1):
        codes[m == v] = i
    if len(values) <= 10:
        colours = [plt.cm.tab10(i) for i in range(len(values))]
    else:  # many distinct values: spread them over a continuous colour map
        colours = [plt.cm.turbo(i / (len(values) - 1)) for i in range(len(values))]
    palette = ["white"] + colours
    ax.imshow(codes, cmap=ListedColormap(palette), vmin=-0.5, vmax=len(palette) - 0.5)
    ax.set_xticks(np.arange(-0.5, m.shape[1], 1), minor=True)
    ax.set_yticks(np.arange(-0.5, m.shape[0], 1), minor=True)
    ax.grid(which="minor", color="0.6", lw=0.5)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    ax.set_xlabel(f"input ({m.shape[1]})")
    ax.set_ylabel(f"output ({m.shape[0]})")
    ax.set_title(title or f"{np.count_nonzero(m)} non-zero, {len(values)} distinct")
    return ax


def _geometry(size: int, kernel_size: int, stride: int, padding: int, dilation: int, transposed: bool) -> dict:
    """Grid, window and output sizes for drawing (a transposed conv is drawn as the equivalent direct conv)."""
    if transposed:
        border = dilation * (kernel_size - 1) - padding
        if border < 0:
            raise ValueError(f"padding={padding} is larger than dilation*(kernel_size-1)={border + padding}")
        inner = (size - 1) * stride + 1  # stride-1 zeros inserted between input pixels
        grid = inner + 2 * border
        real = {(border + i * stride, border + j * stride) for i in range(size) for j in range(size)}
        step, out = 1, conv_transpose_output_size(size, kernel_size, stride, padding, dilation)
    else:
        border, grid = padding, size + 2 * padding
        real = {(padding + i, padding + j) for i in range(size) for j in range(size)}
        step, out = stride, conv_output_size(size, kernel_size, stride, padding, dilation)
    return {"grid": grid, "real": real, "step": step, "out": out}


def draw_conv(size: int = 5, kernel_size: int = 3, stride: int = 1, padding: int = 0, dilation: int = 1,
              step: int = 0, transposed: bool = False, axes=None):
    """Draw the input (with padding), the kernel at output position `step`, and the output grid; returns the figure
    (a new `matplotlib.figure.Figure` unless `axes`, two axes, are given).

    A transposed convolution is drawn the way vdumoulin/conv_arithmetic does: as a stride-1 convolution
    over the input with (stride - 1) zeros between pixels and d(k-1) - padding zeros around it.
    """
    from matplotlib.colors import to_rgb
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    if axes is None:  # a plain Figure (not pyplot): safe to draw in a widget callback
        axes = Figure(figsize=(8, 4)).subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    ax_in, ax_out = axes
    fig = ax_in.figure
    for ax in axes:
        ax.clear()
        ax.axis("off")
    try:
        g = _geometry(size, kernel_size, stride, padding, dilation, transposed)
    except ValueError as err:
        ax_in.text(0.5, 0.5, f"Not a valid setting:\n{err}", ha="center", va="center", wrap=True,
                   transform=ax_in.transAxes, fontsize=9, color="darkred")
        return fig
    n_in, n_out = g["grid"], g["out"]
    step = step % (n_out * n_out)
    oi, oj = divmod(step, n_out)
    top, left = oi * g["step"], oj * g["step"]
    # one RGB image per grid (fast to draw): input blue, padding / inserted zeros light grey, kernel dark
    grid = np.tile(np.array(to_rgb("#ececec")), (n_in, n_in, 1))
    for r, c in g["real"]:
        grid[r, c] = to_rgb("#6baed6")
    rows = top + dilation * np.arange(kernel_size)
    cols = left + dilation * np.arange(kernel_size)
    grid[np.ix_(rows, cols)] = grid[np.ix_(rows, cols)] * 0.35 + np.array(to_rgb("#08306b")) * 0.65
    out = np.tile(np.array(to_rgb("#a1d99b")), (n_out, n_out, 1))
    out[oi, oj] = to_rgb("#006d2c")
    extent = max(n_in, n_out)
    for ax, img, n in ((ax_in, grid, n_in), (ax_out, out, n_out)):
        ax.imshow(img, extent=(0, n, n, 0), interpolation="nearest")
        ax.hlines(np.arange(n + 1), 0, n, color="0.45", lw=0.6)
        ax.vlines(np.arange(n + 1), 0, n, color="0.45", lw=0.6)
        ax.set_xlim(-0.2, extent + 0.2)
        ax.set_ylim(extent + 0.2, -0.2)
        ax.set_aspect("equal")
    ax_in.add_patch(Rectangle((left, top), cols[-1] - left + 1, rows[-1] - top + 1, fill=False,
                                  edgecolor="#08306b", lw=2))
    kind = "transposed conv" if transposed else "conv"
    ax_in.set_title(f"input {size}x{size}" + (f" + padding {padding}" if padding and not transposed else "")
                    + f"\n{kind}: k={kernel_size}, s={stride}, p={padding}, d={dilation}", fontsize=10)
    span = dilation * (kernel_size - 1) + 1
    field = "kernel span" if transposed else "receptive field"
    ax_out.set_title(f"output {n_out}x{n_out}\nposition ({oi}, {oj}); {field} {span}x{span}", fontsize=10)
    return fig


def conv_gallery(settings: Sequence[dict], step: int = 0):
    """One column per setting (dicts of draw_conv's arguments): input with kernel on top, output below."""
    import matplotlib.pyplot as plt

    if not settings:
        raise ValueError("settings is empty: pass at least one dict such as {'size': 5, 'kernel_size': 3}")
    fig, axes = plt.subplots(2, len(settings), figsize=(3.2 * len(settings), 6.4), squeeze=False)
    for col, kw in enumerate(settings):
        draw_conv(**{"step": step, **kw}, axes=(axes[0, col], axes[1, col]))
    fig.tight_layout()
    return fig


def conv_frames(size: int = 5, kernel_size: int = 3, stride: int = 1, padding: int = 0, dilation: int = 1,
                transposed: bool = False, dpi: int = 72):
    """The kernel at every output position in turn: one (H, W, 3) image per position (plain Figures, no pyplot)."""
    from matplotlib.figure import Figure

    from .viz import figure_rgb

    g = _geometry(size, kernel_size, stride, padding, dilation, transposed)
    fig = Figure(figsize=(6, 3), dpi=dpi)
    axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    images = []
    for i in range(g["out"] ** 2):
        draw_conv(size, kernel_size, stride, padding, dilation, step=i, transposed=transposed, axes=axes)
        fig.tight_layout()
        images.append(figure_rgb(fig))
    return images


def conv_animation(size: int = 5, kernel_size: int = 3, stride: int = 1, padding: int = 0, dilation: int = 1,
                   transposed: bool = False, interval: int = 600, dpi: int = 72):
    """An animated PNG of the kernel visiting every output position (`interval` ms per position).

    A plain picture (an IPython Image), not JavaScript: it plays in JupyterLab's windowing mode, on GitHub,
    in Colab and in the slides.
    """
    from .viz import animation

    return animation(conv_frames(size, kernel_size, stride, padding, dilation, transposed, dpi), duration=interval)


def conv_explorer(size: int = 5, kernel_size: int = 3, stride: int = 1, padding: int = 0, dilation: int = 1):
    """Sliders for input size, kernel, stride, padding, dilation (and transposed), plus a play button."""
    import ipywidgets as W

    from .widgets import interactive

    def slider(value, lo, hi, name):
        return W.IntSlider(value=value, min=lo, max=hi, description=name, continuous_update=False)

    controls = {
        "size": slider(size, 2, 12, "input size"),
        "kernel_size": slider(kernel_size, 1, 7, "kernel"),
        "stride": slider(stride, 1, 4, "stride"),
        "padding": slider(padding, 0, 4, "padding"),
        "dilation": slider(dilation, 1, 3, "dilation"),
        "transposed": W.Checkbox(value=False, description="transposed"),
        "step": W.Play(value=0, min=0, max=143, interval=700, description="slide"),
    }
    return interactive(lambda **kw: draw_conv(**kw), controls, columns=3)
