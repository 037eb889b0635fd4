"""The mid-term kit's architectures that notebook 07 does not build, CIFAR-sized and written from the papers.

Baseline:    slides_cnn (the slides' Keras CNN, 315,722 parameters: the row every model must beat).
Papers:      shufflenet_cifar (ShuffleNet v1), inception_v3_cifar, inception_v4_cifar, xception_cifar,
             efficientnet_cifar (B0), plus densenet121_cifar and resnet9 (Page's DAWNBench net, for the fast recipe).
Blocks:      channel_shuffle / ShuffleUnit, Mixed (any Inception module, described as a list of branches),
             SeparableConv, XceptionBlock, MBConv (with squeeze-and-excitation).

Every CIFAR model maps (N, 3, 32, 32) to (N, num_classes); `imagenet=True` builds the paper's full-size
network instead (224x224 or 299x299, 1000 classes), so the tests can check our code against the paper's
parameter count. Importing course_utils.models registers all of them in CIFAR_MODELS / build_cifar_model.
"""
from __future__ import annotations

import torch
from torch import nn
from torchvision.ops import stochastic_depth

from .models import (CIFAR_MODELS, DenseBlock, Transition, _check_classes, _conv_bn, _scaled, resnext_cifar)

__all__ = ["slides_cnn", "channel_shuffle", "check_channel_shuffle", "ShuffleUnit", "shufflenet_cifar", "Mixed", "inception_v3_cifar",
           "inception_v4_cifar", "SeparableConv", "XceptionBlock", "xception_cifar", "MBConv",
           "efficientnet_cifar", "densenet121_cifar", "resnet9"]


# ============================================================== the slides' baseline
def slides_cnn(num_classes: int = 10, in_channels: int = 3, image_size: int = 32) -> nn.Sequential:
    """The slides' CNN of notebook 01: Conv32-MaxPool-Conv64-MaxPool-Dense128-Dense10 (3x3 kernels, no padding)."""
    _check_classes(num_classes)
    side = ((image_size - 2) // 2 - 2) // 2
    return nn.Sequential(
        nn.Conv2d(in_channels, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * side * side, 128), nn.ReLU(), nn.Linear(128, num_classes))


# ============================================================== ShuffleNet v1 (Zhang et al. 2017)
def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """(N, g*c, H, W) -> view (N, g, c, H, W) -> swap g and c -> flatten: each group now sees every group."""
    n, ch, h, w = x.shape
    return x.view(n, groups, ch // groups, h, w).transpose(1, 2).reshape(n, ch, h, w)


def check_channel_shuffle(fn) -> bool:
    """Exercise check: does fn(x, groups) reorder the channels exactly as channel_shuffle does? Prints feedback."""
    from .checks import check_function, not_done

    if fn is None or fn is Ellipsis:
        return not_done("my_channel_shuffle", "Replace the ... with your function my_channel_shuffle(x, groups).")
    try:
        probe = fn(torch.arange(6.0).view(1, 6, 1, 1), 2)
    except Exception:  # noqa: BLE001 - check_function below reports the student's error
        probe = 0
    if probe is None or probe is Ellipsis:
        return not_done("my_channel_shuffle", "Return the shuffled tensor "
                                              "(view as (N, g, C/g, H, W), swap two dimensions, reshape back).")
    torch.manual_seed(0)
    cases = [(torch.arange(6.0).view(1, 6, 1, 1), 2), (torch.arange(12.0).view(1, 12, 1, 1), 3),
             (torch.randn(2, 8, 3, 3), 4), (torch.randn(1, 6, 2, 2), 1)]
    return check_function(fn, channel_shuffle, cases, what="my_channel_shuffle",
                          hint="Channel j of group i must move to position j * groups + i.")


class ShuffleUnit(nn.Module):
    """Fig. 2(b, c): 1x1 group conv -> BN-ReLU -> shuffle -> 3x3 depthwise (stride) -> BN -> 1x1 group conv -> BN;
    stride 1: add the input; stride 2: concatenate a 3x3 average-pooled input. ReLU at the end."""

    def __init__(self, c_in: int, c_out: int, groups: int, stride: int = 1, first_groups: int | None = None):
        super().__init__()
        mid, branch_out = c_out // 4, c_out - c_in if stride == 2 else c_out  # bottleneck = 1/4 of the output
        g1 = first_groups or groups  # the paper: no group conv on the first 1x1 of stage 2 (only 24 inputs)
        if mid % groups or mid % g1 or branch_out % groups:
            raise ValueError(f"channels ({c_in}->{c_out}, bottleneck {mid}) must be divisible by groups={groups}")
        self.groups, self.stride = g1, stride
        self.reduce = nn.Sequential(nn.Conv2d(c_in, mid, 1, groups=g1, bias=False), nn.BatchNorm2d(mid),
                                    nn.ReLU(inplace=True))
        self.depthwise = nn.Sequential(nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False),
                                       nn.BatchNorm2d(mid))  # no ReLU after the depthwise conv (Sec. 3.2)
        self.expand = nn.Sequential(nn.Conv2d(mid, branch_out, 1, groups=groups, bias=False),
                                    nn.BatchNorm2d(branch_out))
        self.pool = nn.AvgPool2d(3, 2, 1) if stride == 2 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.reduce(x)
        out = channel_shuffle(out, self.groups) if self.groups > 1 else out
        out = self.expand(self.depthwise(out))
        return torch.relu(torch.cat([self.pool(x), out], 1) if self.pool is not None else out + x)


#: Table 1: output channels of stages 2-4 for 1x width (repeats 4, 8, 4).
_SHUFFLE_WIDTHS = {1: (144, 288, 576), 2: (200, 400, 800), 3: (240, 480, 960), 4: (272, 544, 1088),
                   8: (384, 768, 1536)}


def shufflenet_cifar(num_classes: int = 10, groups: int = 3, width_mult: float = 1.0, imagenet: bool = False
                     ) -> nn.Sequential:
    """ShuffleNet 1x (g groups): 24-channel stem, three stages of shuffle units (the first halves the size), GAP, FC.

    CIFAR: a stride-1 3x3 stem and no max pool (32 -> 16 -> 8 -> 4). imagenet=True: stride-2 stem + max pool.
    """
    if groups not in _SHUFFLE_WIDTHS:
        raise ValueError(f"groups must be one of {sorted(_SHUFFLE_WIDTHS)} (the paper's Table 1), got {groups!r}")
    _check_classes(num_classes)
    # widths w, 2w, 4w (Table 1), w a multiple of 4 * groups (the bottleneck splits evenly) and more than the stem's 24
    if not width_mult > 0:
        raise ValueError(f"width_mult must be positive, got {width_mult!r}")
    unit = 4 * groups
    first = max(-(-25 // unit) * unit, round(_SHUFFLE_WIDTHS[groups][0] * width_mult / unit) * unit)
    widths = [first, 2 * first, 4 * first]
    c = 24
    layers: list[nn.Module] = [_conv_bn(3, c, 3, 2 if imagenet else 1)] + ([nn.MaxPool2d(3, 2, 1)] if imagenet else [])
    for stage, (repeats, c_out) in enumerate(zip((4, 8, 4), widths)):
        for i in range(repeats):
            layers.append(ShuffleUnit(c, c_out, groups, 2 if i == 0 else 1, 1 if stage == i == 0 else None))
            c = c_out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes, bias=False))


# ============================================================== Inception modules as data
def _basic(c_in: int, c_out: int, k, stride: int = 1, padding=None) -> nn.Sequential:
    """Conv (no bias) - BN - ReLU; 'same' padding at stride 1, none ('valid') at stride 2. k: int or (kh, kw)."""
    kh, kw = (k, k) if isinstance(k, int) else k
    if padding is None:
        padding = (kh // 2, kw // 2) if stride == 1 else 0
    return nn.Sequential(nn.Conv2d(c_in, c_out, (kh, kw), stride, padding, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True))


def _branch(c_in: int, spec: list) -> tuple[nn.Module, int]:
    """A branch from its description: (c_out, k[, stride]) = conv, ("avg"|"max", stride) = 3x3 pool,
    a list of branches = split into parallel branches and concatenate. Returns (module, output channels)."""
    layers, c = [], c_in
    for item in spec:
        if isinstance(item, list):                       # a split: [[branch], [branch], ...]
            layer = Mixed(c, item)
            layers.append(layer)
            c = layer.out_channels
        elif item[0] in ("avg", "max"):
            stride = item[1]
            layers.append(nn.AvgPool2d(3, 1, 1, count_include_pad=False) if item[0] == "avg" and stride == 1
                          else nn.MaxPool2d(3, stride, 1 if stride == 1 else 0))
        else:
            layers.append(_basic(c, *item))
            c = item[0]
    return nn.Sequential(*layers), c


class Mixed(nn.Module):
    """Every Inception module: parallel branches on the same input, concatenated along the channels."""

    def __init__(self, c_in: int, branches: list[list]):
        super().__init__()
        built = [_branch(c_in, b) for b in branches]
        self.branches = nn.ModuleList(m for m, _ in built)
        self.out_channels = sum(c for _, c in built)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([b(x) for b in self.branches], dim=1)


def _v3_a(pool):   # 35x35 module (torchvision / the official TF code keep one 5x5 branch)
    return [[(64, 1)], [(48, 1), (64, 5)], [(64, 1), (96, 3), (96, 3)], [("avg", 1), (pool, 1)]]


def _v3_c(c7):     # 17x17 module: n x n factorized into 1 x 7 and 7 x 1 (Fig. 6)
    return [[(192, 1)], [(c7, 1), (c7, (1, 7)), (192, (7, 1))],
            [(c7, 1), (c7, (7, 1)), (c7, (1, 7)), (c7, (7, 1)), (192, (1, 7))], [("avg", 1), (192, 1)]]


_V3_E = [[(320, 1)], [(384, 1), [[(384, (1, 3))], [(384, (3, 1))]]],          # 8x8 module: expanded filter bank
         [(448, 1), (384, 3), [[(384, (1, 3))], [(384, (3, 1))]]], [("avg", 1), (192, 1)]]
_V3_REDUCE_A = [[(384, 3, 2)], [(64, 1), (96, 3), (96, 3, 2)], [("max", 2)]]   # grid reductions (Fig. 10)
_V3_REDUCE_B = [[(192, 1), (320, 3, 2)], [(192, 1), (192, (1, 7)), (192, (7, 1)), (192, 3, 2)], [("max", 2)]]


def _scale_spec(spec, m: float):
    """The same module description with every conv's channels multiplied by m."""
    if isinstance(spec, list):
        return [_scale_spec(s, m) for s in spec]
    return spec if isinstance(spec[0], str) else (_scaled(spec[0], m), *spec[1:])


def _inception_net(stem: list[nn.Module], c: int, modules: list, num_classes: int, dropout: float,
                   width_mult: float) -> nn.Sequential:
    """Stem, then the Mixed modules in order, global average pooling, dropout, linear classifier."""
    layers = list(stem)
    for branches in modules:
        layers.append(Mixed(c, _scale_spec(branches, width_mult)))
        c = layers[-1].out_channels
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(c, num_classes))


def inception_v3_cifar(num_classes: int = 10, width_mult: float = 1.0, imagenet: bool = False) -> nn.Sequential:
    """Inception-v3 (Szegedy et al. 2016): 3 x A (35x35), reduction, 4 x C (17x17, 7x1 factorized), reduction,
    2 x E (8x8). CIFAR stem: one 3x3 conv to 192 channels, as huyvnphan/PyTorch_CIFAR10 (32 -> 15 -> 7)."""
    _check_classes(num_classes)
    s = lambda ch: _scaled(ch, width_mult)  # noqa: E731
    if imagenet:  # 299 -> 149 -> 147 -> 147 -> 73 -> 73 -> 71 -> 35
        stem = [_basic(3, s(32), 3, 2), _basic(s(32), s(32), 3, padding=0), _basic(s(32), s(64), 3),
                nn.MaxPool2d(3, 2), _basic(s(64), s(80), 1), _basic(s(80), s(192), 3, padding=0), nn.MaxPool2d(3, 2)]
    else:
        stem = [_basic(3, s(192), 3)]
    modules = [_v3_a(32), _v3_a(64), _v3_a(64), _V3_REDUCE_A, _v3_c(128), _v3_c(160), _v3_c(160), _v3_c(192),
               _V3_REDUCE_B, _V3_E, _V3_E]
    return _inception_net(stem, s(192), modules, num_classes, 0.5, width_mult)


_V4_A = [[("avg", 1), (96, 1)], [(96, 1)], [(64, 1), (96, 3)], [(64, 1), (96, 3), (96, 3)]]             # Fig. 4
_V4_REDUCE_A = [[("max", 2)], [(384, 3, 2)], [(192, 1), (224, 3), (256, 3, 2)]]                          # Fig. 7
_V4_B = [[("avg", 1), (128, 1)], [(384, 1)], [(192, 1), (224, (1, 7)), (256, (7, 1))],                   # Fig. 5
         [(192, 1), (192, (7, 1)), (224, (1, 7)), (224, (7, 1)), (256, (1, 7))]]
_V4_REDUCE_B = [[("max", 2)], [(192, 1), (192, 3, 2)], [(256, 1), (256, (1, 7)), (320, (7, 1)), (320, 3, 2)]]  # Fig. 8
_V4_C = [[("avg", 1), (256, 1)], [(256, 1)], [(384, 1), [[(256, (1, 3))], [(256, (3, 1))]]],            # Fig. 6
         [(384, 1), (448, (3, 1)), (512, (1, 3)), [[(256, (1, 3))], [(256, (3, 1))]]]]


def inception_v4_cifar(num_classes: int = 10, width_mult: float = 1.0, imagenet: bool = False) -> nn.Sequential:
    """Inception-v4 (Szegedy et al. 2017): stem (Fig. 3), 4 x A, reduction A, 7 x B, reduction B, 3 x C.
    CIFAR: the same stem with every stride and 'valid' padding removed, so it keeps 32x32 (32 -> 15 -> 7)."""
    _check_classes(num_classes)
    s = lambda ch: _scaled(ch, width_mult)  # noqa: E731
    stride, valid = (2, 0) if imagenet else (1, None)
    split1 = [[("max", stride)], [(s(96), 3, stride)]]                                                 # -> 160
    split2 = [[(s(64), 1), (s(96), 3, 1, valid)], [(s(64), 1), (s(64), (1, 7)), (s(64), (7, 1)), (s(96), 3, 1, valid)]]
    split3 = [[(s(192), 3, stride)], [("max", stride)]]                                                # -> 384
    stem = [_basic(3, s(32), 3, stride), _basic(s(32), s(32), 3, padding=valid), _basic(s(32), s(64), 3)]
    c = s(64)
    for split in (split1, split2, split3):
        stem.append(Mixed(c, split))
        c = stem[-1].out_channels
    modules = [_V4_A] * 4 + [_V4_REDUCE_A] + [_V4_B] * 7 + [_V4_REDUCE_B] + [_V4_C] * 3
    return _inception_net(stem, c, modules, num_classes, 0.2, width_mult)


# ============================================================== Xception (Chollet 2017)
class SeparableConv(nn.Sequential):
    """Depthwise 3x3 (one filter per channel) then pointwise 1x1, no ReLU in between (Sec. 3), then BN."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__(nn.Conv2d(c_in, c_in, 3, 1, 1, groups=c_in, bias=False),
                         nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))


class XceptionBlock(nn.Module):
    """[ReLU - SeparableConv] x len(channels), then a 3x3 stride-2 max pool if stride 2; plus the shortcut
    (identity, or a strided 1x1 conv + BN when the shape changes)."""

    def __init__(self, c_in: int, channels: list[int], stride: int = 1, first_relu: bool = True):
        super().__init__()
        layers: list[nn.Module] = []
        c = c_in
        for i, c_out in enumerate(channels):
            layers += ([nn.ReLU()] if i or first_relu else []) + [SeparableConv(c, c_out)]
            c = c_out
        if stride == 2:
            layers.append(nn.MaxPool2d(3, 2, 1))
        self.body = nn.Sequential(*layers)
        self.shortcut = (nn.Identity() if stride == 1 and c_in == c else
                         nn.Sequential(nn.Conv2d(c_in, c, 1, stride, bias=False), nn.BatchNorm2d(c)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


def xception_cifar(num_classes: int = 10, width_mult: float = 1.0, imagenet: bool = False) -> nn.Sequential:
    """Xception (Fig. 5): entry flow (2 convs, 3 blocks), middle flow (8 blocks of 3 separable convs on 728),
    exit flow. CIFAR: stride-1 'same' stem and a stride-1 first block, so the middle flow runs at 8x8."""
    _check_classes(num_classes)
    s = lambda ch: _scaled(ch, width_mult)  # noqa: E731
    pad = 0 if imagenet else 1
    layers: list[nn.Module] = [
        nn.Conv2d(3, s(32), 3, 2 if imagenet else 1, pad, bias=False), nn.BatchNorm2d(s(32)), nn.ReLU(),
        nn.Conv2d(s(32), s(64), 3, 1, pad, bias=False), nn.BatchNorm2d(s(64)), nn.ReLU(),
        XceptionBlock(s(64), [s(128)] * 2, 2 if imagenet else 1, first_relu=False),      # entry flow
        XceptionBlock(s(128), [s(256)] * 2, 2), XceptionBlock(s(256), [s(728)] * 2, 2)]
    layers += [XceptionBlock(s(728), [s(728)] * 3) for _ in range(8)]                   # middle flow
    layers += [XceptionBlock(s(728), [s(728), s(1024)], 2),                               # exit flow
               SeparableConv(s(1024), s(1536)), nn.ReLU(), SeparableConv(s(1536), s(2048)), nn.ReLU(),
               nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(s(2048), num_classes)]
    return nn.Sequential(*layers)


# ============================================================== EfficientNet-B0 (Tan & Le 2019)
class MBConv(nn.Module):
    """Inverted residual (MobileNetV2) with squeeze-and-excitation and SiLU: 1x1 expand -> kxk depthwise (stride)
    -> SE (global pool, 1x1 squeeze to c_in/4, 1x1 back, sigmoid gate) -> 1x1 project; skip with stochastic depth."""

    def __init__(self, c_in: int, c_out: int, expand: int, k: int, stride: int, drop_path: float = 0.0):
        super().__init__()
        mid = c_in * expand
        self.expand = (nn.Sequential(nn.Conv2d(c_in, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.SiLU())
                       if expand != 1 else nn.Identity())
        self.depthwise = nn.Sequential(nn.Conv2d(mid, mid, k, stride, k // 2, groups=mid, bias=False),
                                       nn.BatchNorm2d(mid), nn.SiLU())
        squeeze = max(1, c_in // 4)
        self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(mid, squeeze, 1), nn.SiLU(),
                                nn.Conv2d(squeeze, mid, 1), nn.Sigmoid())
        self.project = nn.Sequential(nn.Conv2d(mid, c_out, 1, bias=False), nn.BatchNorm2d(c_out))
        self.skip, self.drop_path = stride == 1 and c_in == c_out, drop_path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.depthwise(self.expand(x))
        out = self.project(out * self.se(out))
        if self.skip:
            return x + stochastic_depth(out, self.drop_path, "row", self.training)
        return out


#: Table 1: (expansion, channels, repeats, stride, kernel) of stages 2-8.
_B0 = [(1, 16, 1, 1, 3), (6, 24, 2, 2, 3), (6, 40, 2, 2, 5), (6, 80, 3, 2, 3), (6, 112, 3, 1, 5),
       (6, 192, 4, 2, 5), (6, 320, 1, 1, 3)]


def efficientnet_cifar(num_classes: int = 10, width_mult: float = 1.0, drop_path: float = 0.2,
                       dropout: float = 0.2, imagenet: bool = False) -> nn.Sequential:
    """EfficientNet-B0: 3x3 stem (32), 16 MBConv blocks (Table 1), 1x1 head to 1280, GAP, dropout, linear.
    Stochastic depth grows linearly to `drop_path` over the blocks. CIFAR: stride-1 stem (32 -> 2x2 at the end)."""
    _check_classes(num_classes)
    total = sum(r for _, _, r, _, _ in _B0)
    c = _scaled(32, width_mult)
    layers: list[nn.Module] = [nn.Sequential(nn.Conv2d(3, c, 3, 2 if imagenet else 1, 1, bias=False),
                                             nn.BatchNorm2d(c), nn.SiLU())]
    for expand, channels, repeats, stride, k in _B0:
        for i in range(repeats):
            c_out = _scaled(channels, width_mult)
            layers.append(MBConv(c, c_out, expand, k, stride if i == 0 else 1, drop_path * (len(layers) - 1) / total))
            c = c_out
    head = _scaled(1280, width_mult)
    layers += [nn.Sequential(nn.Conv2d(c, head, 1, bias=False), nn.BatchNorm2d(head), nn.SiLU()),
               nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(head, num_classes)]
    return nn.Sequential(*layers)


# ============================================================== DenseNet-121 at CIFAR size, ResNet-9
def densenet121_cifar(num_classes: int = 10, growth: int = 32) -> nn.Sequential:
    """DenseNet-121 (BC, k=32, blocks 6-12-24-16) with a 3x3 stride-1 stem and no max pool, as kuangliu/pytorch-cifar."""
    _check_classes(num_classes)
    c = 2 * growth
    layers: list[nn.Module] = [nn.Conv2d(3, c, 3, 1, 1, bias=False)]
    for i, n in enumerate((6, 12, 24, 16)):
        layers.append(DenseBlock(n, c, growth, bottleneck=True))
        c = layers[-1].out_channels
        if i < 3:
            layers.append(Transition(c, c // 2))
            c //= 2
    return nn.Sequential(*layers, nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(c, num_classes))


class _Residual(nn.Sequential):
    """x + layers(x)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + super().forward(x)


class _Scale(nn.Module):
    """Multiply by a constant (ResNet-9 scales its logits by 0.125)."""

    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


def resnet9(num_classes: int = 10, width_mult: float = 1.0) -> nn.Sequential:
    """David Page's ResNet-9 ("How to train your ResNet", DAWNBench 2018): 64-128-256-512 channels, two residual
    pairs, max pools, a global max pool and a bias-free linear layer scaled by 1/8. 94% in 24 epochs on CIFAR-10."""
    _check_classes(num_classes)
    c = [_scaled(n, width_mult) for n in (64, 128, 256, 512)]
    return nn.Sequential(
        _conv_bn(3, c[0], 3),
        _conv_bn(c[0], c[1], 3), nn.MaxPool2d(2), _Residual(_conv_bn(c[1], c[1], 3), _conv_bn(c[1], c[1], 3)),
        _conv_bn(c[1], c[2], 3), nn.MaxPool2d(2),
        _conv_bn(c[2], c[3], 3), nn.MaxPool2d(2), _Residual(_conv_bn(c[3], c[3], 3), _conv_bn(c[3], c[3], 3)),
        nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(c[3], num_classes, bias=False), _Scale(0.125))


# ============================================================== registry
CIFAR_MODELS.update({
    "slides_cnn": slides_cnn,
    "shufflenet_g3": shufflenet_cifar,
    "shufflenet_g8": lambda num_classes=10, **kw: shufflenet_cifar(num_classes, groups=8, **kw),
    "inception_v3": inception_v3_cifar,
    "inception_v4": inception_v4_cifar,
    "xception": xception_cifar,
    "efficientnet_b0": efficientnet_cifar,
    "densenet121": densenet121_cifar,
    "resnext29_32x4d": lambda num_classes=10, **kw: resnext_cifar(29, 32, 4, num_classes, **kw),
    "resnet9": resnet9,
})
