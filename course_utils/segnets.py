"""Segmentation networks for notebook 10: FCN-32s / FCN-8s, U-Net, ASPP and a DeepLab-v3-style network on
MobileNetV2, and a small Mask R-CNN on the same backbone (torchvision).

Every semantic model maps images (N, 3, H, W) in [0, 1] to logits (N, classes, H, W) of the same H, W, for
any H, W (odd sizes too): FCN and U-Net pad the input up to a multiple of their total stride and crop the
output back; DeepLab resizes its stride-16 logits bilinearly to the input size.

    conv_block            notebook 06's block: (3x3 conv -> BatchNorm -> ReLU) x n
    FCN(variant="32s")    one x32 transposed convolution from the last stage: "what", little "where"
    FCN(variant="8s")     x2 up-sampling steps that add the scores of the stride-16 and stride-8 stages
    UNet                  encoder-decoder, decoder stages concatenate the encoder's features (UpBlock)
    ASPP                  atrous spatial pyramid pooling (same layout and state-dict keys as torchvision's)
    DeepLabV3             MobileNetV2 features, last stage dilated (output stride 16), ASPP head
    dilate_mobilenet_v2   turn strides into dilations so the features keep a resolution of 1/16 or 1/8
    mask_rcnn_mobilenet   torchvision's MaskRCNN on MobileNetV2 features[:14] (stride 16, 96 channels)
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _check_classes(num_classes: int) -> None:
    """Clear error for a bad number of classes."""
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2 (background + at least one class), got {num_classes!r}")


# ---------------------------------------------------------------- building blocks
def conv_block(c_in: int, c_out: int, n: int = 2) -> nn.Sequential:
    """n x (3x3 convolution, padding 1 -> BatchNorm -> ReLU): keeps H and W."""
    layers: list[nn.Module] = []
    for i in range(n):
        layers += [nn.Conv2d(c_in if i == 0 else c_out, c_out, 3, padding=1, bias=False),
                   nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def bilinear_kernel(channels: int, kernel_size: int) -> torch.Tensor:
    """Weights (channels, channels, k, k) that make a ConvTranspose2d a bilinear up-sampler (FCN's init)."""
    factor = (kernel_size + 1) // 2
    centre = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    og = torch.arange(kernel_size, dtype=torch.float32)
    filt = 1 - (og - centre).abs() / factor
    w = torch.zeros(channels, channels, kernel_size, kernel_size)
    w[range(channels), range(channels)] = filt[:, None] * filt[None, :]
    return w


def upsampler(channels: int, factor: int) -> nn.ConvTranspose2d:
    """A learnable x`factor` transposed convolution (kernel 2f, stride f, padding f/2), bilinear at start."""
    up = nn.ConvTranspose2d(channels, channels, 2 * factor, stride=factor, padding=factor // 2, bias=False)
    with torch.no_grad():
        up.weight.copy_(bilinear_kernel(channels, 2 * factor))
    return up


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Zero-pad H and W at the bottom/right up to a multiple of `multiple`; return the padded batch and (H, W)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    return (F.pad(x, (0, pw, 0, ph)) if ph or pw else x), (h, w)


class Normalize(nn.Module):
    """(x - mean) / std per channel, with ImageNet's statistics by default (inputs in [0, 1])."""

    def __init__(self, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def _check_images(x: torch.Tensor) -> None:
    """Clear error for an input that is not an (N, 3, H, W) batch."""
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"input must be a batch of RGB images shaped (N, 3, H, W), got {tuple(x.shape)}")


# ---------------------------------------------------------------- FCN
class FCN(nn.Module):
    """A fully convolutional network on five conv_block stages (each followed by 2x2 max pooling).

    variant '32s': score the stride-32 features and up-sample x32 in one transposed convolution.
    variant '16s' / '8s': up-sample x2, add the (1x1-conv) scores of the stride-16 (and stride-8) stage,
    then up-sample the rest of the way. The skips bring back "where"; the deep stage knows "what".
    """

    def __init__(self, num_classes: int, variant: str = "8s", widths: Sequence[int] = (16, 32, 64, 128, 128),
                 convs_per_block: int = 1) -> None:
        super().__init__()
        _check_classes(num_classes)
        if variant not in ("32s", "16s", "8s"):
            raise ValueError(f"variant must be '32s', '16s' or '8s', got {variant!r}")
        if len(widths) != 5:
            raise ValueError(f"widths must give the channels of the 5 stages, got {tuple(widths)}")
        self.variant = variant
        chans = [3, *widths]
        self.stages = nn.ModuleList(nn.Sequential(conv_block(chans[i], chans[i + 1], convs_per_block),
                                                  nn.MaxPool2d(2)) for i in range(5))
        self.head = conv_block(widths[4], widths[4], 1)            # FCN's fc6/fc7, as a 3x3 conv
        self.score32 = nn.Conv2d(widths[4], num_classes, 1)
        if variant == "32s":
            self.up_final = upsampler(num_classes, 32)
        else:
            self.score16 = nn.Conv2d(widths[3], num_classes, 1)
            self.up32_to_16 = upsampler(num_classes, 2)
            if variant == "16s":
                self.up_final = upsampler(num_classes, 16)
            else:
                self.score8 = nn.Conv2d(widths[2], num_classes, 1)
                self.up16_to_8 = upsampler(num_classes, 2)
                self.up_final = upsampler(num_classes, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x)
        x, (h, w) = pad_to_multiple(x, 32)
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)                                         # strides 2, 4, 8, 16, 32
        s = self.score32(self.head(x))
        if self.variant != "32s":
            s = self.up32_to_16(s) + self.score16(feats[3])
            if self.variant == "8s":
                s = self.up16_to_8(s) + self.score8(feats[2])
        return self.up_final(s)[..., :h, :w]


# ---------------------------------------------------------------- U-Net
class UpBlock(nn.Module):
    """U-Net decoder stage: 2x2 stride-2 transposed conv (halves the channels), concatenate the encoder's
    feature map of the same size, then conv_block."""

    def __init__(self, c_in: int, c_skip: int, c_out: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(c_in, c_in // 2, 2, stride=2)
        self.conv = conv_block(c_in // 2 + c_skip, c_out)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([self.up(x), skip], dim=1))


class UNet(nn.Module):
    """U-Net (Ronneberger et al., 2015), small: widths per level, the last one is the bottleneck."""

    def __init__(self, num_classes: int, widths: Sequence[int] = (16, 32, 64, 128)) -> None:
        super().__init__()
        _check_classes(num_classes)
        if len(widths) < 2:
            raise ValueError(f"widths needs at least 2 levels, got {tuple(widths)}")
        chans = [3, *widths]
        self.down = nn.ModuleList(conv_block(chans[i], chans[i + 1]) for i in range(len(widths)))
        self.up = nn.ModuleList(UpBlock(widths[i + 1], widths[i], widths[i]) for i in reversed(range(len(widths) - 1)))
        self.classifier = nn.Conv2d(widths[0], num_classes, 1)
        self.multiple = 2 ** (len(widths) - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x)
        x, (h, w) = pad_to_multiple(x, self.multiple)
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        x = skips.pop()                                             # the bottleneck
        for block in self.up:
            x = block(x, skips.pop())
        return self.classifier(x)[..., :h, :w]


# ---------------------------------------------------------------- ASPP and DeepLab
class ASPP(nn.Module):
    """Atrous spatial pyramid pooling (DeepLab-v3): a 1x1 conv, one 3x3 conv per dilation rate and image-level
    pooling, each followed by BatchNorm and ReLU, concatenated and projected by a 1x1 conv.

    The module names match torchvision's `ASPP`, so its state dict loads into ours (checked in the tests).
    """

    def __init__(self, in_channels: int, out_channels: int = 128, rates: Sequence[int] = (6, 12, 18),
                 dropout: float = 0.1) -> None:
        super().__init__()
        if not rates or any(not isinstance(r, int) or r < 1 for r in rates):
            raise ValueError(f"rates must be positive ints (e.g. (6, 12, 18) at output stride 16), got {rates!r}")
        def cbr(k: int, d: int = 1) -> list[nn.Module]:
            return [nn.Conv2d(in_channels, out_channels, k, padding=d * (k // 2), dilation=d, bias=False),
                    nn.BatchNorm2d(out_channels), nn.ReLU()]
        branches = [nn.Sequential(*cbr(1))] + [nn.Sequential(*cbr(3, r)) for r in rates]
        branches.append(nn.Sequential(nn.AdaptiveAvgPool2d(1), *cbr(1)))   # image-level features
        self.convs = nn.ModuleList(branches)
        self.rates = tuple(rates)
        self.project = nn.Sequential(nn.Conv2d(len(branches) * out_channels, out_channels, 1, bias=False),
                                     nn.BatchNorm2d(out_channels), nn.ReLU(), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        outs = [branch(x) for branch in self.convs[:-1]]
        pooled = self.convs[-1](x)                                  # (N, C, 1, 1): one vector per image
        outs.append(F.interpolate(pooled, size=size, mode="bilinear", align_corners=False))
        return self.project(torch.cat(outs, dim=1))


def dilate_mobilenet_v2(features: nn.Sequential, output_stride: int = 16) -> nn.Sequential:
    """Replace the last stride-2 steps of MobileNetV2's `features` by dilation (in place) so that the
    output stride is 16 (features[14:] dilated by 2) or 8 (also features[7:14] by 2 and [14:] by 4).
    The weights are unchanged: a dilated 3x3 kernel sees the same pattern spread over the finer grid."""
    if output_stride not in (8, 16, 32):
        raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride!r}")
    plan = {16: [(14, 2)], 8: [(7, 2), (14, 4)], 32: []}[output_stride]
    for start, rate in plan:
        end = 14 if start == 7 else len(features)
        for block in list(features)[start:end]:
            for m in block.modules():
                if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3):
                    m.stride, m.dilation, m.padding = (1, 1), (rate, rate), (rate, rate)
    return features


def mobilenet_v2_features(pretrained: bool = True) -> nn.Sequential:
    """MobileNetV2's features[:18] (320 channels, the 1x1 conv to 1280 left out), ImageNet weights or random."""
    from . import pretrained as pre

    return pre.mobilenet_v2(pretrained=pretrained).features[:18]


def _valid_scale(scale) -> bool:
    """Whether `scale` is an input enlargement DeepLabV3 accepts: a number from 0.5 to 4."""
    return isinstance(scale, (int, float)) and 0.5 <= scale <= 4


class DeepLabV3(nn.Module):
    """DeepLab-v3 style: a MobileNetV2 encoder with output stride 16 (dilated last stage), an ASPP head, a
    3x3 conv and a 1x1 classifier; the stride-16 logits are resized bilinearly to the input size.

    decoder=True adds DeepLab-v3+'s light decoder (the stride-4 features concatenated before the classifier).
    input_scale=2 enlarges the image (bilinear) before the encoder, so small objects cover 4x more feature
    positions; the logits still come back at the input's size.
    """

    def __init__(self, num_classes: int, pretrained: bool = True, output_stride: int = 16,
                 rates: Sequence[int] = (6, 12, 18), aspp_channels: int = 128, decoder: bool = False,
                 low_channels: int = 32, features: nn.Sequential | None = None, input_scale: float = 1.0) -> None:
        super().__init__()
        _check_classes(num_classes)
        if not _valid_scale(input_scale):
            raise ValueError(f"input_scale must be a number between 0.5 and 4 (1 keeps the size), got {input_scale!r}")
        self.input_scale = float(input_scale)
        self.normalize = Normalize()
        self.backbone = dilate_mobilenet_v2(features if features is not None else mobilenet_v2_features(pretrained),
                                            output_stride)
        self.output_stride = output_stride
        self.aspp = ASPP(320, aspp_channels, rates)
        self.decoder = decoder
        c = aspp_channels
        if decoder:
            self.low = nn.Sequential(nn.Conv2d(24, low_channels, 1, bias=False), nn.BatchNorm2d(low_channels),
                                     nn.ReLU())
            c = aspp_channels + low_channels
        self.head = nn.Sequential(nn.Conv2d(c, aspp_channels, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(aspp_channels), nn.ReLU(), nn.Conv2d(aspp_channels, num_classes, 1))

    def encode(self, x: torch.Tensor, blocks: int) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Run the normalisation and the first `blocks` encoder blocks: (stride-4 features or None, features)."""
        x, low = self.normalize(x), None
        if self.input_scale != 1:
            x = F.interpolate(x, scale_factor=self.input_scale, mode="bilinear", align_corners=False)
        for i, block in enumerate(self.backbone[:blocks]):
            x = block(x)
            if i == 3:
                low = x                                             # stride 4, 24 channels
        return low, x

    def decode(self, low: torch.Tensor | None, x: torch.Tensor, start: int, size: Sequence[int]) -> torch.Tensor:
        """The rest: encoder blocks from `start` on, ASPP, (decoder), head; logits resized to `size`."""
        for i, block in enumerate(self.backbone[start:], start=start):
            x = block(x)
            if i == 3:
                low = x
        x = self.aspp(x)
        if self.decoder:
            low = self.low(low)
            x = torch.cat([F.interpolate(x, size=low.shape[-2:], mode="bilinear", align_corners=False), low], 1)
        return F.interpolate(self.head(x), size=tuple(size), mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x)
        return self.decode(*self.encode(x, 0), start=0, size=x.shape[-2:])


class MultiScale(nn.Module):
    """Multi-scale inference (DeepLab-v3's "MS" evaluation): a DeepLabV3 runs once per factor in `scales` (the
    image enlarged that much inside the network) and the softmax probabilities are averaged, so every object is
    judged at several sizes. Returns the mean probabilities (N, C, H, W): their argmax is the mask, as with logits."""

    def __init__(self, model: DeepLabV3, scales: Sequence[float]) -> None:
        super().__init__()
        if not isinstance(model, DeepLabV3):
            raise ValueError(f"model must be a segnets.DeepLabV3 (it has input_scale), got {type(model).__name__}")
        if not scales or not all(_valid_scale(s) for s in scales):
            raise ValueError(f"scales must be a non-empty list of numbers between 0.5 and 4, got {scales!r}")
        self.model, self.scales = model, tuple(float(s) for s in scales)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        trained_scale, probs = self.model.input_scale, []
        try:
            for scale in self.scales:
                self.model.input_scale = scale
                probs.append(self.model(x).softmax(1))
        finally:
            self.model.input_scale = trained_scale               # the model itself is left as it was
        return torch.stack(probs).mean(0)


class CachedHead(nn.Module):
    """The trainable rest of a DeepLabV3 whose first `start` blocks are frozen: its input is the cached output
    of those blocks, (stride-4 features, features), so training skips the frozen blocks entirely. It shares
    its parameters with `model`: training it trains the model."""

    def __init__(self, model: DeepLabV3, start: int, size: Sequence[int]) -> None:
        super().__init__()
        if start < 4 and model.decoder:
            raise ValueError("with decoder=True the cache must include block 3 (start >= 4)")
        self.model, self.start, self.size = model, start, tuple(size)

    def forward(self, feats: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        low, x = feats
        return self.model.decode(low if low.numel() else None, x, self.start, self.size)


@torch.no_grad()
def cache_features(model: DeepLabV3, images: torch.Tensor, blocks: int, batch_size: int = 50
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """The frozen blocks' outputs for every image, in eval mode: (stride-4 features, block `blocks` output).

    The batches go in as channels_last (the layout oneDNN's CPU convolutions run fastest on)."""
    was_training = model.training
    model.eval()
    lows, xs = [], []
    for i in range(0, len(images), batch_size):
        low, x = model.encode(images[i:i + batch_size].contiguous(memory_format=torch.channels_last), blocks)
        lows.append(low if low is not None else torch.empty(len(x), 0))
        xs.append(x)
    model.train(was_training)
    return torch.cat(lows), torch.cat(xs)


def valid_tap_fraction(feature_size: int, rate: int, kernel_size: int = 3) -> float:
    """Fraction of a dilated kernel's taps that land inside a feature map of side `feature_size` (the rest read
    zero padding), averaged over all output positions: near 1/9 the 3x3 kernel has become a 1x1 kernel."""
    if feature_size < 1 or rate < 1:
        raise ValueError(f"feature_size and rate must be positive, got {feature_size}, {rate}")
    offsets = [rate * (j - kernel_size // 2) for j in range(kernel_size)]
    inside = sum(1 for i in range(feature_size) for o in offsets if 0 <= i + o < feature_size)
    return (inside / (feature_size * kernel_size)) ** 2            # the same along both axes


# ---------------------------------------------------------------- Mask R-CNN
class _Features(nn.Module):
    """A backbone for torchvision's detection models: ImageNet-normalised input, `out_channels` set."""

    def __init__(self, body: nn.Module, out_channels: int) -> None:
        super().__init__()
        self.body, self.out_channels = body, out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def frozen_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm2d in `module` (in place) by torchvision's FrozenBatchNorm2d with the same statistics
    and affine parameters: a frozen backbone then stays frozen in train mode too (as in torchvision's detectors)."""
    from torchvision.ops.misc import FrozenBatchNorm2d

    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            frozen = FrozenBatchNorm2d(child.num_features, eps=child.eps)
            for key in ("weight", "bias", "running_mean", "running_var"):
                getattr(frozen, key).copy_(getattr(child, key).detach())
            setattr(module, name, frozen)
        else:
            frozen_batchnorm(child)
    return module


def mask_rcnn_mobilenet(num_classes: int, pretrained: bool = True, image_size: int = 128,
                        anchor_sizes: Sequence[int] = (16, 32, 64, 128), mask_channels: int = 64,
                        box_head: int = 256, freeze_backbone: bool = False) -> nn.Module:
    """torchvision's MaskRCNN on MobileNetV2 features[:14] (stride 16, 96 channels), sized for a CPU.

    num_classes counts the background. freeze_backbone: the encoder's weights and BatchNorm statistics stay
    fixed (only the RPN and the RoI heads train). Images are kept at `image_size` (no up-scaling to 800 px). The box
    head is RoI Align 7x7 + two fully connected layers; the mask head is RoI Align 14x14 + four 3x3 convs +
    a 2x2 stride-2 transposed conv + a 1x1 conv giving one 28x28 binary mask per class (as in the paper).
    """
    from torchvision.models.detection import MaskRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
    from torchvision.ops import MultiScaleRoIAlign

    from . import pretrained as pre

    _check_classes(num_classes)
    body = pre.mobilenet_v2(pretrained=pretrained).features[:14]
    if freeze_backbone:
        frozen_batchnorm(body).requires_grad_(False)
    backbone = _Features(body, 96)
    anchors = AnchorGenerator(sizes=(tuple(anchor_sizes),), aspect_ratios=((0.5, 1.0, 2.0),))
    return MaskRCNN(
        backbone, num_classes=None, min_size=image_size, max_size=image_size,
        image_mean=list(IMAGENET_MEAN), image_std=list(IMAGENET_STD),
        rpn_anchor_generator=anchors,
        rpn_pre_nms_top_n_train=600, rpn_post_nms_top_n_train=300,
        rpn_pre_nms_top_n_test=300, rpn_post_nms_top_n_test=100,
        box_roi_pool=MultiScaleRoIAlign(["0"], 7, 2),
        box_head=TwoMLPHead(96 * 7 * 7, box_head),
        box_predictor=FastRCNNPredictor(box_head, num_classes),
        box_batch_size_per_image=128, box_detections_per_img=30,
        mask_roi_pool=MultiScaleRoIAlign(["0"], 14, 2),
        mask_head=MaskRCNNHeads(96, [mask_channels] * 4, 1),
        mask_predictor=MaskRCNNPredictor(mask_channels, mask_channels, num_classes),
    )


def count_params(model: nn.Module) -> int:
    """Number of parameters."""
    return sum(p.numel() for p in model.parameters())


def build(name: str, num_classes: int, **options) -> nn.Module:
    """One of the notebook's semantic models by name: fcn32s, fcn8s, unet, deeplab, deeplab_scratch."""
    makers = {
        "fcn32s": lambda: FCN(num_classes, "32s", **options),
        "fcn8s": lambda: FCN(num_classes, "8s", **options),
        "unet": lambda: UNet(num_classes, **options),
        "deeplab": lambda: DeepLabV3(num_classes, pretrained=True, **options),
        "deeplab_scratch": lambda: DeepLabV3(num_classes, pretrained=False, **options),
    }
    if name not in makers:
        raise ValueError(f"name must be one of {sorted(makers)}, got {name!r}")
    return makers[name]()


def frozen_parameters(model: nn.Module, blocks: int) -> list[nn.Parameter]:
    """The parameters of a DeepLabV3's first `blocks` encoder blocks (to freeze them); [] for 0 or other models."""
    if blocks < 0:
        raise ValueError(f"blocks must be >= 0, got {blocks}")
    if blocks == 0:
        return []
    if not isinstance(model, DeepLabV3):
        raise ValueError(f"only a DeepLabV3's encoder blocks can be frozen here, got {type(model).__name__}")
    return list(model.backbone[:blocks].parameters())
