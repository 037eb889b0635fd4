"""Classic CNN architectures, compact CIFAR-sized (3x32x32) versions of them, and tools to measure models.

Measuring:   count_params, count_flops / count_macs (torch.utils.flop_counter), summary, receptive_field,
             conv_grad_norms, draw_block (a block diagram).
Blocks:      BasicBlock (plain or residual), Bottleneck, ResNeXtBlock (grouped conv), WideBasicBlock,
             Inception, DenseBlock / Transition, DepthwiseSeparable.
Full size:   lenet5, alexnet_original (227x227, two-GPU groups), mobilenet_v1 (224x224).
CIFAR size:  alexnet_cifar, vgg_cifar, googlenet_cifar, resnet_cifar (ResNet-20/56/110/164, plain nets),
             resnet18_cifar, wide_resnet, resnext_cifar, densenet_cifar, mobilenet_cifar;
             CIFAR_MODELS and build_cifar_model(name) for the mid-term kit (course_utils.zoo adds ShuffleNet,
             Inception-v3/v4, Xception, EfficientNet, DenseNet-121, ResNet-9 and the slides' CNN to it).
Every CIFAR-sized model maps (N, 3, 32, 32) to (N, num_classes).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from .conv import receptive_fields

__all__ = [
    "count_params", "count_flops", "count_macs", "summary", "receptive_field", "conv_grad_norms", "draw_block",
    "LeNet5", "lenet5", "alexnet_original", "alexnet_cifar", "vgg_cifar", "VGG_CONFIGS",
    "Inception", "googlenet_cifar", "BasicBlock", "Bottleneck", "ResNeXtBlock", "ResNetCIFAR",
    "resnet_cifar", "resnet18_cifar", "WideBasicBlock", "wide_resnet", "resnext_cifar",
    "DenseLayer", "DenseBlock", "Transition", "densenet_cifar", "DepthwiseSeparable", "mobilenet_v1",
    "mobilenet_cifar", "CIFAR_MODELS", "build_cifar_model",
]


# ============================================================== measuring
def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (weights and biases; BatchNorm running statistics are buffers, not counted)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _device_of(model: nn.Module) -> torch.device:
    """The device of the model's first parameter or buffer (CPU for a model without any)."""
    for t in list(model.parameters()) + list(model.buffers()):
        return t.device
    return torch.device("cpu")


def _check_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    """A tuple of positive ints, or a clear error naming input_shape."""
    shape = tuple(input_shape)
    if len(shape) < 2 or not all(isinstance(s, int) and s > 0 for s in shape):
        raise ValueError(f"input_shape must be positive ints like (1, 3, 32, 32), got {input_shape!r}")
    return shape


def _flop_counter(model: nn.Module, input_shape: Sequence[int]):
    """Run one forward pass (eval mode, no grad) under FlopCounterMode; return the counter and the output."""
    from torch.utils.flop_counter import FlopCounterMode

    shape = _check_shape(input_shape)
    x = torch.zeros(shape, device=_device_of(model))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            out = model(x)
    finally:
        model.train(was_training)
    return counter, out


def count_flops(model: nn.Module, input_shape: Sequence[int] = (1, 3, 32, 32)) -> int:
    """FLOPs of one forward pass, as torch.utils.flop_counter counts them (a multiply-add = 2 FLOPs).

    Only convolutions and matrix products are counted (as in the papers); pooling, BatchNorm and
    activations are not. Build big models on the meta device (`with torch.device("meta"): ...`):
    then nothing is computed and the count takes milliseconds.
    """
    counter, _ = _flop_counter(model, input_shape)
    return int(counter.get_total_flops())


def count_macs(model: nn.Module, input_shape: Sequence[int] = (1, 3, 32, 32)) -> int:
    """Multiply-accumulate operations of one forward pass (= count_flops / 2): what papers call "FLOPs"."""
    return count_flops(model, input_shape) // 2


def summary(model: nn.Module, input_shape: Sequence[int] = (1, 3, 32, 32), depth: int = 1) -> str:
    """A Keras-style table (layer, type, output shape, parameters, MACs) of the modules `depth` levels down."""
    if not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be a positive int, got {depth!r}")
    rows, hooks = [], []
    chosen = [(name, m) for name, m in model.named_modules() if name and name.count(".") < depth]

    def hook(name, module):
        def fn(_m, _inp, out):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            rows.append((name, type(module).__name__, shape, count_params(module)))
        return fn

    for name, m in chosen:
        hooks.append(m.register_forward_hook(hook(name, m)))
    try:
        counter, out = _flop_counter(model, input_shape)
    finally:
        for h in hooks:
            h.remove()
    per_module = {k: sum(v.values()) for k, v in counter.get_flop_counts().items()}
    prefix = type(model).__name__
    lines = [f"{'layer':<22}{'type':<20}{'output shape':<22}{'params':>13}{'MACs':>16}", "-" * 93]
    order = {name: i for i, (name, _) in enumerate(chosen)}
    first: dict[str, tuple] = {}
    for row in rows:  # a module called twice (e.g. a shared ReLU) is listed once
        first.setdefault(row[0], row)
    for name, kind, shape, params in sorted(first.values(), key=lambda r: order[r[0]]):
        macs = per_module.get(f"{prefix}.{name}", 0) // 2
        lines.append(f"{name:<22}{kind:<20}{str(shape):<22}{params:>13,}{macs:>16,}")
    lines += ["-" * 93, f"{'total':<64}{count_params(model):>13,}{int(counter.get_total_flops()) // 2:>16,}",
              f"input {tuple(input_shape)} -> output {tuple(out.shape)}"]
    return "\n".join(lines)


def receptive_field(kernel_sizes: Sequence[int], strides: Sequence[int] | None = None,
                    dilations: Sequence[int] | None = None) -> int:
    """Side of the input window one output pixel sees after stacked layers: 1 + sum (k-1)*d*(product of earlier strides)."""
    ks = list(kernel_sizes)
    if not ks or not all(isinstance(k, int) and k > 0 for k in ks):
        raise ValueError(f"kernel_sizes must be a non-empty list of positive ints, got {kernel_sizes!r}")
    ss = list(strides) if strides is not None else [1] * len(ks)
    ds = list(dilations) if dilations is not None else [1] * len(ks)
    if len(ss) != len(ks) or len(ds) != len(ks):
        raise ValueError(f"strides and dilations must have one entry per kernel ({len(ks)}), "
                         f"got {len(ss)} and {len(ds)}")
    return receptive_fields(list(zip(ks, ss, ds)))[-1]  # the formula lives in course_utils.conv


def conv_grad_norms(model: nn.Module) -> list[float]:
    """The L2 norm of the gradient of every Conv2d weight, in the order the layers were defined."""
    norms = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            if m.weight.grad is None:
                raise ValueError("a Conv2d weight has no gradient: call loss.backward() before conv_grad_norms")
            norms.append(m.weight.grad.norm().item())
    if not norms:
        raise ValueError("model has no nn.Conv2d layers")
    return norms


def draw_block(ax, branches: Sequence[Sequence[str]], merge: str | None = None, skip: bool = False,
               title: str = "", input_label: str = "input", output_label: str = "output"):
    """Draw a block diagram on `ax`: parallel `branches` (lists of layer labels, top to bottom),
    joined by `merge` ("+" or "concat"), with an identity `skip` arrow from the input to the merge."""
    if not branches or not all(len(b) > 0 for b in branches):
        raise ValueError("branches must be a non-empty list of non-empty lists of layer labels")
    if merge is None and (len(branches) > 1 or skip):
        raise ValueError("several branches or a skip connection need merge='+' or merge='concat'")
    depth = max(len(b) for b in branches)
    n = len(branches)
    width = 1.0 / n
    y_in, y_merge = depth + 1.0, 0.0
    box = dict(boxstyle="round,pad=0.3", fc="#dbe9f6", ec="#1f4e79")
    arrow = dict(arrowstyle="->", color="#444444", lw=1.2)

    def label(x, y, text, style=box):
        ax.text(x, y, text, ha="center", va="center", fontsize=8, bbox=style)

    label(0.5, y_in, input_label, dict(box, fc="#eeeeee", ec="#666666"))
    for i, branch in enumerate(branches):
        x = (i + 0.5) * width
        ys = [depth - j for j in range(len(branch))]
        ax.annotate("", xy=(x, ys[0] + 0.3), xytext=(0.5, y_in - 0.3), arrowprops=arrow)
        for j, text in enumerate(branch):
            label(x, ys[j], text)
            if j:
                ax.annotate("", xy=(x, ys[j] + 0.3), xytext=(x, ys[j - 1] - 0.3), arrowprops=arrow)
        end = y_merge + 0.3 if merge else -0.7
        ax.annotate("", xy=(0.5 if merge else x, end), xytext=(x, ys[-1] - 0.3), arrowprops=arrow)
    if merge:
        label(0.5, y_merge, "⊕" if merge == "+" else merge, dict(box, fc="#fde9d9", ec="#c0504d"))
        ax.annotate("", xy=(0.5, -0.7), xytext=(0.5, y_merge - 0.3), arrowprops=arrow)
    if skip:  # a path around the branches: right from the input, down, and left into the merge
        x_side = 1.0
        ax.plot([0.62, x_side, x_side], [y_in, y_in, y_merge], color="#c0504d", lw=1.5)
        ax.annotate("", xy=(0.56, y_merge), xytext=(x_side, y_merge),
                    arrowprops=dict(arrowstyle="->", color="#c0504d", lw=1.5))
        ax.text(x_side + 0.02, (y_in + y_merge) / 2, "identity", color="#c0504d", fontsize=8,
                ha="left", va="center", rotation=90)
    label(0.5, -1.0, output_label, dict(box, fc="#eeeeee", ec="#666666"))
    ax.set_xlim(-0.05, 1.12)
    ax.set_ylim(-1.5, y_in + 0.6)
    ax.set_title(title, fontsize=10)
    ax.axis("off")
    return ax


# ============================================================== LeNet-5 and AlexNet
class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al. 1998), modern variant: full C3 connectivity, average pooling, tanh, linear output."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5), nn.Tanh(), nn.AvgPool2d(2),   # C1: 6@28x28, S2: 6@14x14
            nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),            # C3: 16@10x10, S4: 16@5x5
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.Tanh(),        # C5 (a 5x5 conv = a linear layer here)
            nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, num_classes),  # F6 and the output layer
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (32, 32):
            raise ValueError(f"LeNet-5 expects 32x32 inputs (pad 28x28 MNIST by 2), got {tuple(x.shape[-2:])}")
        return self.classifier(self.features(x))


def lenet5(in_channels: int = 1, num_classes: int = 10) -> LeNet5:
    """LeNet-5 for 32x32 inputs: 61,706 parameters with one input channel and 10 classes."""
    return LeNet5(in_channels, num_classes)


def alexnet_original(num_classes: int = 1000) -> nn.Sequential:
    """AlexNet as in Krizhevsky et al. 2012: 96-256-384-384-256 channels, two-GPU groups, LRN; 227x227 input."""
    lrn = dict(size=5, alpha=1e-4, beta=0.75, k=2.0)
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(inplace=True), nn.LocalResponseNorm(**lrn), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(inplace=True), nn.LocalResponseNorm(**lrn),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Flatten(),
        nn.Dropout(0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
        nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
        nn.Linear(4096, num_classes),
    )


def _check_classes(num_classes: int) -> None:
    """Clear error for a bad num_classes."""
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")


def _scaled(channels: int, width_mult: float) -> int:
    """channels * width_mult, rounded, at least 1 (and a clear error for a bad width_mult)."""
    if not width_mult > 0:
        raise ValueError(f"width_mult must be positive, got {width_mult!r}")
    return max(1, int(round(channels * width_mult)))


def alexnet_cifar(num_classes: int = 10, width_mult: float = 1.0) -> nn.Sequential:
    """AlexNet's recipe at 32x32: five ReLU convs (64-192-384-256-256), three max pools, three FC layers, dropout."""
    _check_classes(num_classes)
    c = [_scaled(n, width_mult) for n in (64, 192, 384, 256, 256)]
    fc = _scaled(1024, width_mult)
    return nn.Sequential(
        nn.Conv2d(3, c[0], 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),       # 16x16
        nn.Conv2d(c[0], c[1], 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),    # 8x8
        nn.Conv2d(c[1], c[2], 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(c[2], c[3], 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(c[3], c[4], 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),    # 4x4
        nn.Flatten(),
        nn.Dropout(0.5), nn.Linear(c[4] * 16, fc), nn.ReLU(inplace=True),
        nn.Dropout(0.5), nn.Linear(fc, fc), nn.ReLU(inplace=True),
        nn.Linear(fc, num_classes),
    )


# ============================================================== VGG
#: Channel plans of Simonyan & Zisserman's configurations A (VGG-11), B (13), D (16), E (19); "M" = 2x2 max pool.
VGG_CONFIGS: dict[int, list] = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def vgg_cifar(depth: int = 16, num_classes: int = 10, width_mult: float = 1.0, batch_norm: bool = True
              ) -> nn.Sequential:
    """VGG for 32x32: only 3x3 convs (stride 1, pad 1) and 2x2 max pools; five pools leave 1x1x512; one linear layer."""
    if depth not in VGG_CONFIGS:
        raise ValueError(f"depth must be one of {sorted(VGG_CONFIGS)}, got {depth!r}")
    _check_classes(num_classes)
    layers: list[nn.Module] = []
    c_in = 3
    for v in VGG_CONFIGS[depth]:
        if v == "M":
            layers.append(nn.MaxPool2d(2))
            continue
        c_out = _scaled(v, width_mult)
        layers.append(nn.Conv2d(c_in, c_out, 3, padding=1, bias=not batch_norm))
        layers += [nn.BatchNorm2d(c_out)] if batch_norm else []
        layers.append(nn.ReLU(inplace=True))
        c_in = c_out
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(c_in, num_classes))


# ============================================================== GoogLeNet
def _conv_bn(c_in: int, c_out: int, k: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    """Conv (no bias) -> BatchNorm -> ReLU, 'same' padding."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, stride, k // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class Inception(nn.Module):
    """GoogLeNet's Inception module: 1x1 | 1x1->3x3 | 1x1->5x5 | 3x3 max pool->1x1, concatenated on channels."""

    def __init__(self, c_in: int, c1: int, c3_reduce: int, c3: int, c5_reduce: int, c5: int, pool_proj: int):
        super().__init__()
        self.branch1 = _conv_bn(c_in, c1, 1)
        self.branch2 = nn.Sequential(_conv_bn(c_in, c3_reduce, 1), _conv_bn(c3_reduce, c3, 3))
        self.branch3 = nn.Sequential(_conv_bn(c_in, c5_reduce, 1), _conv_bn(c5_reduce, c5, 5))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), _conv_bn(c_in, pool_proj, 1))
        self.out_channels = c1 + c3 + c5 + pool_proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


#: GoogLeNet's Inception settings (Szegedy et al. 2014, Table 1): c1, c3_reduce, c3, c5_reduce, c5, pool_proj.
_INCEPTION = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64), "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64), "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
}


def googlenet_cifar(num_classes: int = 10, width_mult: float = 1.0) -> nn.Sequential:
    """GoogLeNet's nine Inception modules (true 5x5 branches) on a 3x3 stem for 32x32; global average pooling."""
    _check_classes(num_classes)
    c = _scaled(192, width_mult)
    layers: list[nn.Module] = [_conv_bn(3, c, 3)]
    for name, cfg in _INCEPTION.items():
        if name in ("4a", "5a"):
            layers.append(nn.MaxPool2d(3, 2, 1))  # 32 -> 16 -> 8
        block = Inception(c, *[_scaled(v, width_mult) for v in cfg])
        layers.append(block)
        c = block.out_channels
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.4), nn.Linear(c, num_classes))


# ============================================================== ResNet family
class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers plus the identity: y = relu(x + F(x)); with skip=False the same layers, no shortcut.

    shortcut "A" pads the identity with zero channels (no parameters, He et al.'s CIFAR nets);
    "B" uses a 1x1 conv + BN projection when the shape changes.
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1, skip: bool = True, shortcut: str = "B"):
        super().__init__()
        if shortcut not in ("A", "B"):
            raise ValueError(f"shortcut must be 'A' (zero padding) or 'B' (1x1 projection), got {shortcut!r}")
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.skip, self.shortcut_type, self.pad = skip, shortcut, c_out - c_in
        self.shortcut = nn.Identity()
        if skip and shortcut == "B" and (stride != 1 or c_in != c_out):
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        elif skip and shortcut == "A" and (stride != 1 or c_in != c_out):
            self.shortcut = _PadShortcut(stride, c_out - c_in)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x) if self.skip else out)


class _PadShortcut(nn.Module):
    """Option A shortcut: subsample by `stride` and pad the extra channels with zeros (no parameters)."""

    def __init__(self, stride: int, extra: int):
        super().__init__()
        self.stride, self.extra = stride, extra

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, ::self.stride, ::self.stride]
        half = self.extra // 2
        return nn.functional.pad(x, (0, 0, 0, 0, half, self.extra - half))


class Bottleneck(nn.Module):
    """ResNet's bottleneck: 1x1 (reduce to `mid`) -> 3x3 (stride, `groups`) -> 1x1 (expand to `c_out`), plus shortcut."""

    def __init__(self, c_in: int, mid: int, c_out: int, stride: int = 1, groups: int = 1):
        super().__init__()
        if mid % groups:
            raise ValueError(f"mid ({mid}) must be divisible by groups ({groups})")
        self.conv1 = nn.Conv2d(c_in, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride, 1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, c_out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return torch.relu(out + self.shortcut(x))


class ResNeXtBlock(Bottleneck):
    """ResNeXt's block (Xie et al. 2017, form c): `cardinality` parallel paths of width `group_width`,
    implemented as one grouped 3x3 convolution inside a bottleneck."""

    def __init__(self, c_in: int, c_out: int, cardinality: int = 32, group_width: int = 4, stride: int = 1):
        if cardinality < 1 or group_width < 1:
            raise ValueError(f"cardinality and group_width must be >= 1, got {cardinality} and {group_width}")
        super().__init__(c_in, cardinality * group_width, c_out, stride, groups=cardinality)
        self.cardinality, self.group_width = cardinality, group_width


class ResNetCIFAR(nn.Module):
    """A stem conv, then stages of blocks (the first block of each later stage halves the size), then
    global average pooling and one linear layer. `make_block(c_in, stage, stride)` returns (block, c_out)."""

    def __init__(self, stem_channels: int, blocks_per_stage: Sequence[int],
                 make_block: Callable[[int, int, int], tuple[nn.Module, int]], num_classes: int = 10,
                 preact: bool = False):
        super().__init__()
        _check_classes(num_classes)
        self.stem = (nn.Conv2d(3, stem_channels, 3, 1, 1, bias=False) if preact else
                     _conv_bn(3, stem_channels, 3))
        stages, c = [], stem_channels
        for s, n in enumerate(blocks_per_stage):
            blocks = []
            for b in range(n):
                block, c = make_block(c, s, 2 if (s > 0 and b == 0) else 1)
                blocks.append(block)
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.final = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=True)) if preact else nn.Identity()
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.final(self.stages(self.stem(x))))


def resnet_cifar(depth: int = 20, num_classes: int = 10, width: int = 16, block: str = "basic",
                 skip: bool = True, shortcut: str = "A") -> ResNetCIFAR:
    """He et al.'s CIFAR ResNets: 3 stages of width w, 2w, 4w on 32, 16, 8 pixels.

    block="basic": depth = 6n+2 (ResNet-20, 32, 44, 56, 110); skip=False gives the "plain" net of the same depth.
    block="bottleneck": depth = 9n+2 (ResNet-164), stage outputs 4w, 8w, 16w.
    """
    if block not in ("basic", "bottleneck"):
        raise ValueError(f"block must be 'basic' or 'bottleneck', got {block!r}")
    per = 6 if block == "basic" else 9
    if not isinstance(depth, int) or depth < per + 2 or (depth - 2) % per:
        raise ValueError(f"depth must be {per}n+2 for {block} blocks (e.g. {per * 3 + 2}), got {depth!r}")
    n = (depth - 2) // per
    if block == "basic":
        def make(c_in, stage, stride):
            c_out = width * 2 ** stage
            return BasicBlock(c_in, c_out, stride, skip=skip, shortcut=shortcut), c_out
    else:
        if not skip:
            raise ValueError("skip=False is only available for block='basic'")

        def make(c_in, stage, stride):
            mid = width * 2 ** stage
            return Bottleneck(c_in, mid, 4 * mid, stride), 4 * mid
    return ResNetCIFAR(width, [n, n, n], make, num_classes)


def resnet18_cifar(num_classes: int = 10, width: int = 64) -> ResNetCIFAR:
    """ResNet-18 for CIFAR: 3x3 stem (no max pool), four stages of two basic blocks (w, 2w, 4w, 8w), projection shortcuts."""
    def make(c_in, stage, stride):
        c_out = width * 2 ** stage
        return BasicBlock(c_in, c_out, stride, shortcut="B"), c_out
    return ResNetCIFAR(width, [2, 2, 2, 2], make, num_classes)


class WideBasicBlock(nn.Module):
    """Wide ResNet block B(3,3), pre-activation: BN-ReLU-conv3x3 -> (dropout) -> BN-ReLU-conv3x3, plus shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, dropout: float = 0.0):
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.shortcut = (nn.Conv2d(c_in, c_out, 1, stride, bias=False)
                         if stride != 1 or c_in != c_out else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o = torch.relu(self.bn1(x))
        shortcut = self.shortcut(o) if not isinstance(self.shortcut, nn.Identity) else x
        o = self.conv1(o)
        o = self.conv2(self.dropout(torch.relu(self.bn2(o))))
        return o + shortcut


def wide_resnet(depth: int = 28, widen: int = 10, num_classes: int = 10, dropout: float = 0.0) -> ResNetCIFAR:
    """WRN-depth-widen (Zagoruyko & Komodakis): depth = 6n+4, stages 16k, 32k, 64k channels; WRN-28-10 has 36.5M params."""
    if not isinstance(depth, int) or depth < 10 or (depth - 4) % 6:
        raise ValueError(f"depth must be 6n+4 (e.g. 16, 22, 28, 40), got {depth!r}")
    if not isinstance(widen, int) or widen < 1:
        raise ValueError(f"widen must be a positive int, got {widen!r}")
    n = (depth - 4) // 6

    def make(c_in, stage, stride):
        c_out = 16 * widen * 2 ** stage
        return WideBasicBlock(c_in, c_out, stride, dropout), c_out
    return ResNetCIFAR(16, [n, n, n], make, num_classes, preact=True)


def resnext_cifar(depth: int = 29, cardinality: int = 8, group_width: int = 64, num_classes: int = 10,
                  stem: int = 64) -> ResNetCIFAR:
    """ResNeXt-29 (C x d) for CIFAR (Xie et al.): depth = 9n+2, stem 64, stage outputs 4*stem = 256, 512, 1024."""
    if not isinstance(depth, int) or depth < 11 or (depth - 2) % 9:
        raise ValueError(f"depth must be 9n+2 (e.g. 29), got {depth!r}")
    n = (depth - 2) // 9

    def make(c_in, stage, stride):
        c_out = 4 * stem * 2 ** stage
        return ResNeXtBlock(c_in, c_out, cardinality, group_width * 2 ** stage, stride), c_out
    return ResNetCIFAR(stem, [n, n, n], make, num_classes)


# ============================================================== DenseNet
class DenseLayer(nn.Module):
    """BN-ReLU-conv3x3 producing `growth` new maps (with bottleneck: BN-ReLU-conv1x1 to 4*growth first),
    concatenated onto its input."""

    def __init__(self, c_in: int, growth: int, bottleneck: bool = False):
        super().__init__()
        layers: list[nn.Module] = []
        c = c_in
        if bottleneck:
            layers += [nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.Conv2d(c, 4 * growth, 1, bias=False)]
            c = 4 * growth
        layers += [nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.Conv2d(c, growth, 3, 1, 1, bias=False)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.body(x)], dim=1)


class DenseBlock(nn.Sequential):
    """`num_layers` DenseLayers: the channels grow from c_in to c_in + num_layers * growth."""

    def __init__(self, num_layers: int, c_in: int, growth: int, bottleneck: bool = False):
        if num_layers < 1 or growth < 1:
            raise ValueError(f"num_layers and growth must be >= 1, got {num_layers} and {growth}")
        super().__init__(*[DenseLayer(c_in + i * growth, growth, bottleneck) for i in range(num_layers)])
        self.out_channels = c_in + num_layers * growth


class Transition(nn.Sequential):
    """Between dense blocks: BN-ReLU-conv1x1 (to c_out channels) and 2x2 average pooling."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__(nn.BatchNorm2d(c_in), nn.ReLU(inplace=True), nn.Conv2d(c_in, c_out, 1, bias=False),
                         nn.AvgPool2d(2))


def densenet_cifar(depth: int = 40, growth: int = 12, num_classes: int = 10, bottleneck: bool = False,
                   compression: float = 1.0) -> nn.Sequential:
    """DenseNet for CIFAR (Huang et al.): three dense blocks; DenseNet (L=40, k=12) or DenseNet-BC
    (bottleneck=True, compression=0.5, e.g. L=100, k=12)."""
    per = 6 if bottleneck else 3
    if not isinstance(depth, int) or depth < per + 4 or (depth - 4) % per:
        raise ValueError(f"depth must be {per}n+4 (e.g. {'100' if bottleneck else '40'}), got {depth!r}")
    if not 0 < compression <= 1:
        raise ValueError(f"compression must be in (0, 1], got {compression!r}")
    _check_classes(num_classes)
    n = (depth - 4) // per
    c = 2 * growth if bottleneck else 16
    layers: list[nn.Module] = [nn.Conv2d(3, c, 3, 1, 1, bias=False)]
    for i in range(3):
        block = DenseBlock(n, c, growth, bottleneck)
        layers.append(block)
        c = block.out_channels
        if i < 2:
            c_out = int(c * compression)
            layers.append(Transition(c, c_out))
            c = c_out
    layers += [nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
               nn.Linear(c, num_classes)]
    return nn.Sequential(*layers)


# ============================================================== MobileNet
class DepthwiseSeparable(nn.Module):
    """MobileNet's block: 3x3 depthwise conv (groups = channels) -> BN-ReLU -> 1x1 pointwise conv -> BN-ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.depthwise = _conv_bn(c_in, c_in, 3, stride, groups=c_in)
        self.pointwise = _conv_bn(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


#: MobileNet v1 body (Howard et al. 2017, Table 1): (output channels, stride) of the 13 separable blocks.
_MOBILENET = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]


def _mobilenet(num_classes: int, width_mult: float, stem_stride: int, strides: list[int]) -> nn.Sequential:
    """Stem conv, 13 depthwise-separable blocks, global average pooling, linear classifier."""
    _check_classes(num_classes)
    c = _scaled(32, width_mult)
    layers: list[nn.Module] = [_conv_bn(3, c, 3, stem_stride)]
    for (c_out, _), s in zip(_MOBILENET, strides):
        layers.append(DepthwiseSeparable(c, _scaled(c_out, width_mult), s))
        c = _scaled(c_out, width_mult)
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))


def mobilenet_v1(num_classes: int = 1000, width_mult: float = 1.0) -> nn.Sequential:
    """MobileNet v1 for 224x224 ImageNet (torchvision has none): 4.2M parameters, 569M mult-adds at width 1."""
    return _mobilenet(num_classes, width_mult, 2, [s for _, s in _MOBILENET])


def mobilenet_cifar(num_classes: int = 10, width_mult: float = 1.0) -> nn.Sequential:
    """MobileNet v1 for 32x32: the same 13 blocks with a stride-1 stem, so the maps go 32 -> 16 -> 8 -> 4 -> 2."""
    return _mobilenet(num_classes, width_mult, 1, [s for _, s in _MOBILENET])


# ============================================================== registry for the CIFAR-10 mid-term kit
#: name -> builder(num_classes=10, **options) of a CIFAR-sized (3x32x32) model.
CIFAR_MODELS: dict[str, Callable[..., nn.Module]] = {
    "lenet5": lambda num_classes=10, **kw: lenet5(3, num_classes, **kw),
    "alexnet": alexnet_cifar,
    "vgg11": lambda num_classes=10, **kw: vgg_cifar(11, num_classes, **kw),
    "vgg16": lambda num_classes=10, **kw: vgg_cifar(16, num_classes, **kw),
    "googlenet": googlenet_cifar,
    "resnet20": lambda num_classes=10, **kw: resnet_cifar(20, num_classes, **kw),
    "resnet56": lambda num_classes=10, **kw: resnet_cifar(56, num_classes, **kw),
    "resnet164": lambda num_classes=10, **kw: resnet_cifar(164, num_classes, block="bottleneck", **kw),
    "resnet18": resnet18_cifar,
    "wrn16_4": lambda num_classes=10, **kw: wide_resnet(16, 4, num_classes, **kw),
    "wrn28_10": lambda num_classes=10, **kw: wide_resnet(28, 10, num_classes, **kw),
    "resnext29_8x64d": lambda num_classes=10, **kw: resnext_cifar(29, 8, 64, num_classes, **kw),
    "densenet40": lambda num_classes=10, **kw: densenet_cifar(40, 12, num_classes, **kw),
    "densenet_bc100": lambda num_classes=10, **kw: densenet_cifar(100, 12, num_classes, True, 0.5, **kw),
    "mobilenet": mobilenet_cifar,
}


def build_cifar_model(name: str, num_classes: int = 10, **options) -> nn.Module:
    """A CIFAR-sized model from CIFAR_MODELS by name, e.g. build_cifar_model("resnet20")."""
    if name not in CIFAR_MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(CIFAR_MODELS)}")
    return CIFAR_MODELS[name](num_classes=num_classes, **options)


from . import zoo as _zoo  # noqa: E402,F401  (registers the mid-term kit's other architectures in CIFAR_MODELS)
