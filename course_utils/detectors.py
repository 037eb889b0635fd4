"""Two detectors that train in minutes on a laptop CPU, on the pretrained MobileNetV2 cut at stride 16.

    mobilenet_backbone(pretrained=True)      MobileNetV2 features[:14]: stride 16, 96 channels (ImageNet weights)
    faster_rcnn(num_classes, sizes, ratios)  torchvision's two-stage Faster R-CNN on that backbone: an RPN with
                                             an AnchorGenerator, RoI Align 7x7, a narrow TwoMLPHead
    frcnn_step(model, batch)                 a step_fn for course_utils.fit: the dict of the 4 losses
    TinyYolo(num_classes, B=2)               a single-stage YOLO v1-style grid detector (one screen of code)
    yolo_step(model, batch)                  its step_fn: the YOLO v1 loss terms of course_utils.detection
    detect(model, dataset, batch_size=16)    predictions on a dataset: a list of {"boxes", "scores", "labels"}
    cache_features(model, dataset)           the frozen blocks' output per image, computed once
    extend_features(model, features, start)  more frozen blocks on top of features cached at block `start`
    CachedFeatures, collate_features, cached_step   train the rest on those features (same result, much faster)
    detect_features(model, features)         detect from cached features (the same predictions as `detect`)
    count_params(model)                      number of trainable parameters
"""
from __future__ import annotations

import time

import torch
from torch import nn

from . import detection

__all__ = ["FROZEN", "mobilenet_backbone", "faster_rcnn", "frcnn_step", "TinyYolo", "yolo_step", "detect",
           "count_params", "time_inference", "cache_features", "extend_features", "CachedFeatures", "collate_features", "cached_step",
           "detect_features",
           "coco_pretrained"]


FROZEN = 14  # blocks 0..FROZEN-1 stay as ImageNet trained them (14: the whole cut; the heads are trained)


def mobilenet_backbone(pretrained: bool = True, cut: int = 14, frozen: int = FROZEN) -> nn.Sequential:
    """MobileNetV2 `features[:cut]` (stride 16 and 96 channels for cut=14); the first `frozen` blocks and all
    BatchNorm statistics stay fixed (batches of 8 images are too small to estimate them). Training only the
    heads on cached features is 4x faster per step on a CPU than also training blocks 11-13."""
    from torchvision.ops.misc import FrozenBatchNorm2d

    from .pretrained import mobilenet_v2

    features = mobilenet_v2(pretrained=pretrained).features[:cut]
    features = _freeze_batchnorm(features, FrozenBatchNorm2d)
    for block in list(features)[:frozen]:
        for p in block.parameters():
            p.requires_grad_(False)
    features.out_channels = [m for m in features.modules() if isinstance(m, nn.Conv2d)][-1].out_channels
    features.frozen = frozen  # cache_features / cached_step cut here
    return features


def _freeze_batchnorm(module: nn.Module, frozen_cls) -> nn.Module:
    """Replace every BatchNorm2d by a FrozenBatchNorm2d holding the same statistics and affine weights."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            fbn = frozen_cls(child.num_features, eps=child.eps)
            fbn.weight.copy_(child.weight.detach())
            fbn.bias.copy_(child.bias.detach())
            fbn.running_mean.copy_(child.running_mean)
            fbn.running_var.copy_(child.running_var)
            setattr(module, name, fbn)
        else:
            _freeze_batchnorm(child, frozen_cls)
    return module


def _check_upscale(upscale: int) -> None:
    """Clear error for an enlargement factor that is not a positive whole number."""
    if isinstance(upscale, bool) or not isinstance(upscale, int) or upscale < 1:
        raise ValueError(f"upscale must be a whole number >= 1 (1 keeps the size, 2 doubles it), got {upscale!r}")


def faster_rcnn(num_classes: int, sizes: tuple[int, ...] = (16, 32, 64, 128), ratios: tuple[float, ...] = (0.5, 1.0, 1.5),
                image_size: int = 160, upscale: int = 1, head_width: int = 256, pretrained: bool = True,
                frozen: int = FROZEN, **kwargs):
    """torchvision's Faster R-CNN on the stride-16 MobileNetV2 cut; num_classes counts the background.
    Anchors: every size with every width/height ratio at each feature cell (10 x 10 for 160 px images).
    upscale=2: the detector's transform enlarges the images 2x (a 20 x 20 feature map, finer anchors); sizes
    stay in the original image's pixels and predictions come back in them."""
    from torchvision.models.detection import FasterRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.faster_rcnn import TwoMLPHead
    from torchvision.ops import MultiScaleRoIAlign

    if num_classes < 2:
        raise ValueError(f"num_classes counts the background too, so it must be >= 2, got {num_classes}")
    _check_upscale(upscale)
    backbone = mobilenet_backbone(pretrained=pretrained, frozen=frozen)
    # ratios are width / height as in the slides; torchvision's aspect_ratios are height / width
    anchors = AnchorGenerator(sizes=(tuple(s * upscale for s in sizes),), aspect_ratios=(detection.torchvision_ratios(ratios),))
    roi_pool = MultiScaleRoIAlign(featmap_names=["0"], output_size=7, sampling_ratio=2)
    head = TwoMLPHead(backbone.out_channels * 7 * 7, head_width)
    options = dict(min_size=image_size * upscale, max_size=image_size * upscale, rpn_pre_nms_top_n_train=600, rpn_post_nms_top_n_train=300,
                   rpn_pre_nms_top_n_test=300, rpn_post_nms_top_n_test=150, box_batch_size_per_image=64,
                   box_detections_per_img=50, box_score_thresh=0.01)
    options.update(kwargs)
    model = FasterRCNN(backbone, num_classes=None, rpn_anchor_generator=anchors, box_roi_pool=roi_pool,
                       box_head=head, box_predictor=_predictor(head_width, num_classes), **options)
    model.image_size = image_size  # the size of the images it is given (cached_step and detect_features need it)
    return model


def _predictor(width: int, num_classes: int):
    """The box predictor: class scores and per-class box deltas."""
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor

    return FastRCNNPredictor(width, num_classes)


# ---------------------------------------------------------------- training on cached features
@torch.no_grad()
def cache_features(model: nn.Module, dataset, batch_size: int = 32) -> torch.Tensor:
    """The frozen blocks' output for every image of `dataset`, computed once: (N, C, H/16, W/16).
    As those blocks never change, training the rest on these features is training the whole model."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(dataset), batch_size):
        images = [dataset[i][0].to(device) for i in range(start, min(start + batch_size, len(dataset)))]
        out.append(_stem(model, images).cpu())
    return torch.cat(out)


@torch.no_grad()
def extend_features(model: nn.Module, features: torch.Tensor, start: int, batch_size: int = 100) -> torch.Tensor:
    """`model`'s frozen blocks from `start` on, applied to features cached at block `start` (by another model
    with the same pretrained blocks): the cache of `model` without running the first blocks again."""
    blocks = model.backbone[start:model.backbone.frozen]
    return torch.cat([blocks(f) for f in features.split(batch_size)])


def _stem(model: nn.Module, images: list[torch.Tensor]) -> torch.Tensor:
    """Normalised images through the frozen blocks (the detector's own preprocessing)."""
    frozen = model.backbone.frozen
    x = model.normalise(torch.stack(images)) if isinstance(model, TinyYolo) else model.transform(images)[0].tensors
    # channels_last: the same numbers, computed 2x faster by PyTorch's CPU convolutions
    return model.backbone[:frozen](x.contiguous(memory_format=torch.channels_last)).contiguous()


class CachedFeatures(torch.utils.data.Dataset):
    """(cached features, target) pairs: the training set of `cached_step`."""

    def __init__(self, features: torch.Tensor, dataset):
        if len(features) != len(dataset):
            raise ValueError(f"features has {len(features)} rows but dataset has {len(dataset)} images: "
                             "cache the same dataset you pass here")
        self.features = features
        self.targets = [{k: dataset[i][1][k] for k in ("boxes", "labels")} for i in range(len(dataset))]

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, i):
        return self.features[i], self.targets[i]


def collate_features(batch):
    """Stack cached features; keep the targets as a list."""
    feats, targets = zip(*batch)
    return torch.stack(feats), list(targets)


def cached_step(model: nn.Module, batch) -> dict[str, torch.Tensor]:
    """fit's step_fn on cached features: the trainable blocks, then the RPN and the box head (Faster R-CNN)
    or the YOLO head and its loss (TinyYolo)."""
    from torchvision.models.detection.image_list import ImageList

    feats, targets = batch
    if isinstance(model, TinyYolo):
        return yolo_step(model, (feats, targets), from_features=True)
    features = {"0": model.backbone[model.backbone.frozen:](feats)}
    size = model.transform.min_size[0]
    images = ImageList(feats.new_zeros(1, 1, 1, 1).expand(len(feats), 3, size, size), [(size, size)] * len(feats))
    scale = size / model.image_size  # the transform enlarged the images (and their boxes) by this factor
    targets = [{"boxes": t["boxes"] * scale, "labels": t["labels"]} for t in targets]
    proposals, rpn_losses = model.rpn(images, features, targets)
    _, box_losses = model.roi_heads(features, proposals, images.image_sizes, targets)
    return {**box_losses, **rpn_losses}


@torch.no_grad()
def detect_features(model: nn.Module, features: torch.Tensor, batch_size: int = 32, **predict_kwargs) -> list[dict]:
    """`detect` from cached frozen-block features (the same predictions, without recomputing those blocks)."""
    from torchvision.models.detection.image_list import ImageList

    model.eval()
    out = []
    for start in range(0, len(features), batch_size):
        f = features[start:start + batch_size].to(next(model.parameters()).device)
        if isinstance(model, TinyYolo):
            preds = model.predict(f, from_features=True, **predict_kwargs)
        else:
            size = model.transform.min_size[0]
            sizes = [(size, size)] * len(f)
            images = ImageList(f.new_zeros(1, 1, 1, 1).expand(len(f), 3, size, size), sizes)
            maps = {"0": model.backbone[model.backbone.frozen:](f)}
            proposals, _ = model.rpn(images, maps)
            preds, _ = model.roi_heads(maps, proposals, sizes)
            preds = model.transform.postprocess(preds, sizes, [(model.image_size, model.image_size)] * len(f))
        out += [{k: v.cpu() for k, v in p.items()} for p in preds]
    return out


def frcnn_step(model: nn.Module, batch) -> dict[str, torch.Tensor]:
    """fit's step_fn for torchvision detectors: in train mode the model returns its dict of losses."""
    images, targets = batch
    targets = [{k: v for k, v in t.items() if k in ("boxes", "labels")} for t in targets]
    return model(images, targets)


class TinyYolo(nn.Module):
    """YOLO v1 on a small scale: backbone -> 3x3 conv -> 1x1 conv to S x S x (B*5 + C), activated.

    Per cell and box: x, y (offset in the cell) and sqrt(w), sqrt(h) (relative to the image) and the
    confidence, all through a sigmoid; then C class probabilities (softmax). S = image_size * upscale / 16
    (upscale=2: the images are enlarged 2x first, as faster_rcnn(upscale=2) does).
    """

    def __init__(self, num_classes: int, boxes_per_cell: int = 2, image_size: int = 160, pretrained: bool = True,
                 width: int = 128, frozen: int = FROZEN, upscale: int = 1):
        super().__init__()
        _check_upscale(upscale)
        self.C, self.B, self.image_size, self.upscale = num_classes, boxes_per_cell, image_size, upscale
        self.backbone = mobilenet_backbone(pretrained=pretrained, frozen=frozen)
        self.head = nn.Sequential(nn.Conv2d(self.backbone.out_channels, width, 3, padding=1), nn.BatchNorm2d(width),
                                  nn.LeakyReLU(0.1), nn.Conv2d(width, boxes_per_cell * 5 + num_classes, 1))
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet's mean and standard deviation per channel, as the pretrained weights expect; then the
        enlargement by `upscale` (bilinear, as torchvision's detection transform)."""
        x = (x - self.mean) / self.std
        if self.upscale == 1:
            return x
        return nn.functional.interpolate(x, size=(x.shape[-2] * self.upscale, x.shape[-1] * self.upscale),
                                         mode="bilinear", align_corners=False)

    def forward(self, images, from_features: bool = False) -> torch.Tensor:
        """images: a (N, 3, H, W) tensor or a list of (3, H, W) -> predictions (N, S, S, B*5 + C).
        from_features=True: `images` are cached outputs of the frozen blocks."""
        x = torch.stack(list(images)) if isinstance(images, (list, tuple)) else images
        x = self.backbone[self.backbone.frozen:](x) if from_features else self.backbone(self.normalise(x))
        out = self.head(x).permute(0, 2, 3, 1)
        boxes = torch.sigmoid(out[..., :self.B * 5])
        classes = torch.softmax(out[..., self.B * 5:], dim=-1)
        return torch.cat([boxes, classes], dim=-1)

    @torch.no_grad()
    def predict(self, images, score_thresh: float = 0.01, iou_thresh: float = 0.5, from_features: bool = False
                ) -> list[dict]:
        """Boxes, scores (confidence x class probability) and labels (1-based) per image, after NMS."""
        out = self(images, from_features=from_features)
        return [detection.yolo_decode(o, self.B, self.C, self.image_size, score_thresh, iou_thresh) for o in out]


def yolo_step(model: TinyYolo, batch, from_features: bool = False) -> dict[str, torch.Tensor]:
    """fit's step_fn for TinyYolo: encode the targets on the grid, return the YOLO v1 loss terms."""
    images, targets = batch
    pred = model(images, from_features=from_features)
    S = pred.shape[1]
    target = torch.stack([detection.yolo_encode(t["boxes"], t["labels"] - 1, S, model.B, model.C, model.image_size)
                          for t in targets]).to(pred.device)
    return detection.yolo_loss(pred, target, model.B, model.C)


@torch.no_grad()
def detect(model: nn.Module, dataset, batch_size: int = 16, **predict_kwargs) -> list[dict[str, torch.Tensor]]:
    """Run a detector (torchvision's or TinyYolo) over a dataset; one CPU dict of boxes/scores/labels per image."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(dataset), batch_size):
        images = [dataset[i][0].to(device) for i in range(start, min(start + batch_size, len(dataset)))]
        preds = model.predict(images, **predict_kwargs) if hasattr(model, "predict") else model(images)
        out += [{k: v.cpu() for k, v in p.items()} for p in preds]
    return out


def time_inference(model: nn.Module, dataset, n: int = 32, batch_size: int = 8) -> float:
    """Seconds per image of `detect` on the first n images of `dataset` (after one warm-up batch)."""
    from torch.utils.data import Subset

    sub = Subset(dataset, range(min(n, len(dataset))))
    detect(model, Subset(dataset, range(min(batch_size, len(dataset)))), batch_size)
    t0 = time.perf_counter()
    detect(model, sub, batch_size)
    return (time.perf_counter() - t0) / len(sub)


def count_params(model: nn.Module, trainable: bool = True) -> int:
    """Number of (trainable) parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable)


def coco_pretrained(timeout: float = 20.0):
    """torchvision's COCO-trained Faster R-CNN (MobileNetV3-FPN, 320 px) with its 91 class names, or
    (None, None) with one sentence printed when its weights cannot be downloaded (offline)."""
    import contextlib
    import io
    import socket
    import urllib.error

    from torchvision.models.detection import FasterRCNN_MobileNet_V3_Large_320_FPN_Weights as W
    from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_320_fpn

    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        quiet = io.StringIO()
        with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):  # torch.hub prints a local path
            model = fasterrcnn_mobilenet_v3_large_320_fpn(weights=W.COCO_V1, weights_backbone=None).eval()
        return model, W.COCO_V1.meta["categories"]
    except (urllib.error.URLError, OSError, RuntimeError):
        print("The COCO-trained detector's weights could not be downloaded (offline?), so this part is skipped; "
              "online the same cell runs it.")
        return None, None
    finally:
        socket.setdefaulttimeout(old)
