"""Semantic segmentation: pixel-wise losses and the metrics that score a mask, from one confusion matrix.

A segmentation network outputs logits shaped (N, C, H, W): one score per class for every pixel. The target is
a mask of class indices shaped (N, H, W). Everything here is written out, and checked in the tests and in
notebook 10 against the library (`F.cross_entropy`, `torchmetrics.JaccardIndex`, scikit-learn's confusion matrix).

    losses    pixel_cross_entropy (optionally class-weighted), class_weights, dice_loss, CEDiceLoss
    metrics   confusion_matrix -> scores(cm): pixel accuracy, per-class IoU and Dice, mIoU (background excluded);
              resolution_ceiling: the best scores a prediction made at a coarser stride can reach;
              forgive_confusions: the confusion matrix if mix-ups inside a group of classes were right
    models    evaluate_segmentation (one confusion matrix over a loader), per_image_iou, predict_masks
    data      SemanticDataset (an instance-mask dataset seen as (image, class mask) pairs), SegLoader

Convention: class 0 is the background. The mean IoU (mIoU) averages the *object* classes 1..C-1 only
(`exclude_background=True`, the default), because the background is most of the pixels and easy; a class that
is absent from both the prediction and the truth has no IoU (NaN) and is left out of the mean.
"""
from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


# ---------------------------------------------------------------- checks
def _check_logits_target(logits: torch.Tensor, target: torch.Tensor) -> None:
    """Clear errors for logits that are not (N, C, H, W) or a target that is not (N, H, W) class indices."""
    if logits.ndim != 4:
        raise ValueError(f"logits must be shaped (N, C, H, W), got {tuple(logits.shape)}")
    if target.shape != (logits.shape[0], *logits.shape[2:]):
        raise ValueError(f"target must be a class-index mask shaped (N, H, W) = "
                         f"{(logits.shape[0], *logits.shape[2:])}, got {tuple(target.shape)}: "
                         "squeeze a channel axis with target[:, 0] or resize the mask to the logits")
    if target.dtype not in (torch.int64, torch.int32, torch.uint8, torch.int16):
        raise ValueError(f"target must hold integer class indices, got dtype {target.dtype}: use target.long()")


# ---------------------------------------------------------------- losses
def pixel_cross_entropy(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
                        ignore_index: int = -100) -> torch.Tensor:
    """Per-pixel cross-entropy averaged over pixels, written out (equals F.cross_entropy on (N, C, H, W)).

    With class weights w, each pixel's loss is multiplied by w[its true class] and the mean divides by the sum
    of those weights (PyTorch's convention).
    """
    _check_logits_target(logits, target)
    target = target.long()
    valid = target != ignore_index
    safe = torch.where(valid, target, torch.zeros_like(target))
    log_p = logits.log_softmax(dim=1)                                  # (N, C, H, W)
    nll = -log_p.gather(1, safe.unsqueeze(1)).squeeze(1)               # -log p(true class) per pixel
    w = weight.to(logits.dtype)[safe] if weight is not None else torch.ones_like(nll)
    w = w * valid
    return (nll * w).sum() / w.sum().clamp_min(torch.finfo(logits.dtype).tiny)


def class_frequencies(masks: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Fraction of the pixels that belong to each class (a float tensor of length num_classes)."""
    counts = torch.bincount(masks.reshape(-1).long(), minlength=num_classes)[:num_classes].double()
    return counts / counts.sum()


def class_weights(masks: torch.Tensor, num_classes: int, kind: str = "median") -> torch.Tensor:
    """Loss weights against class imbalance: 'median' frequency balancing (Eigen & Fergus) or 'inverse'.

    median: w_c = median(freq) / freq_c; inverse: w_c = 1 / (C * freq_c). Rare classes get large weights;
    a class with no pixels gets weight 0.
    """
    if kind not in ("median", "inverse"):
        raise ValueError(f"kind must be 'median' or 'inverse', got {kind!r}")
    freq = class_frequencies(masks, num_classes)
    present = freq > 0
    w = torch.zeros(num_classes, dtype=torch.float64)
    if kind == "median":
        w[present] = freq[present].median() / freq[present]
    else:
        w[present] = 1.0 / (num_classes * freq[present])
    return w.float()


def dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0, exclude_background: bool = False
              ) -> torch.Tensor:
    """Soft Dice loss 1 - mean_c (2 sum p t + eps) / (sum p + sum t + eps), with p = softmax over classes.

    Every class counts equally, however few pixels it has, which is what makes Dice robust to imbalance.
    Sums run over the whole batch (N, H, W) for each class.
    """
    _check_logits_target(logits, target)
    num_classes = logits.shape[1]
    probs = logits.softmax(dim=1)
    onehot = F.one_hot(target.long(), num_classes).permute(0, 3, 1, 2).to(probs.dtype)
    dims = (0, 2, 3)
    inter = (probs * onehot).sum(dims)
    denom = probs.sum(dims) + onehot.sum(dims)
    dice = (2 * inter + eps) / (denom + eps)
    if exclude_background:
        dice = dice[1:]
    return 1 - dice.mean()


class CEDiceLoss(nn.Module):
    """Cross-entropy (optionally class-weighted) plus `dice_weight` times the soft Dice loss."""

    def __init__(self, weight: torch.Tensor | None = None, dice_weight: float = 1.0) -> None:
        super().__init__()
        self.register_buffer("weight", weight if weight is not None else None)
        self.dice_weight = dice_weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        ce = F.cross_entropy(logits, target, weight=self.weight)
        return ce + self.dice_weight * dice_loss(logits, target) if self.dice_weight else ce


# ---------------------------------------------------------------- metrics
def confusion_matrix(pred: torch.Tensor | np.ndarray, target: torch.Tensor | np.ndarray, num_classes: int,
                     ignore_index: int | None = None) -> torch.Tensor:
    """cm[t, p] = number of pixels of true class t predicted as p (rows: truth, as scikit-learn)."""
    pred, target = torch.as_tensor(pred), torch.as_tensor(target)
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} and "
                         f"{tuple(target.shape)}: take pred = logits.argmax(1) first")
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    pred, target = pred.reshape(-1).long(), target.reshape(-1).long()
    if ignore_index is not None:
        keep = target != ignore_index
        pred, target = pred[keep], target[keep]
    bad = (pred < 0) | (pred >= num_classes) | (target < 0) | (target >= num_classes)
    if bad.any():
        raise ValueError(f"class indices must lie in 0..{num_classes - 1}; found "
                         f"{sorted(set(torch.cat([pred[bad], target[bad]]).tolist()))[:5]}")
    return torch.bincount(target * num_classes + pred, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def iou_per_class(cm: torch.Tensor) -> torch.Tensor:
    """IoU_c = TP / (TP + FP + FN) from a confusion matrix; NaN for a class absent from truth and prediction."""
    cm = torch.as_tensor(cm).double()
    tp = cm.diag()
    union = cm.sum(0) + cm.sum(1) - tp                 # predicted as c + truly c - counted twice
    return torch.where(union > 0, tp / union.clamp_min(1), torch.full_like(tp, math.nan))


def dice_per_class(cm: torch.Tensor) -> torch.Tensor:
    """Dice_c = 2 TP / (2 TP + FP + FN) = 2 IoU / (1 + IoU); NaN for a class absent from both."""
    cm = torch.as_tensor(cm).double()
    tp = cm.diag()
    denom = cm.sum(0) + cm.sum(1)
    return torch.where(denom > 0, 2 * tp / denom.clamp_min(1), torch.full_like(tp, math.nan))


def pixel_accuracy(cm: torch.Tensor) -> float:
    """Fraction of all pixels whose class is right: trace / total."""
    cm = torch.as_tensor(cm).double()
    total = cm.sum()
    if total == 0:
        raise ValueError("the confusion matrix is empty (no pixels): check the masks")
    return float(cm.diag().sum() / total)


def _nanmean(values: torch.Tensor) -> float:
    """Mean over the non-NaN entries (NaN if there are none)."""
    keep = ~torch.isnan(values)
    return float(values[keep].mean()) if keep.any() else math.nan


def scores(cm: torch.Tensor, exclude_background: bool = True) -> dict:
    """Pixel accuracy, per-class IoU and Dice, mIoU and mean Dice (over classes 1.. if exclude_background)."""
    iou, dice = iou_per_class(cm), dice_per_class(cm)
    first = 1 if exclude_background else 0
    return {"pixel_accuracy": pixel_accuracy(cm), "iou": iou.tolist(), "dice": dice.tolist(),
            "miou": _nanmean(iou[first:]), "mean_dice": _nanmean(dice[first:])}


def resolution_ceiling(masks: torch.Tensor, num_classes: int, stride: int) -> dict:
    """Scores of the best prediction a network can make whose class scores live on a grid `stride` times coarser
    than the image and are resized bilinearly (as DeepLab's): the one-hot truth averaged over every stride x stride
    cell, resized back to the image, argmax. Thin or small objects lose IoU even with perfect scores."""
    if not isinstance(stride, int) or stride < 1:
        raise ValueError(f"stride must be a positive int (e.g. 4 or 16), got {stride!r}")
    if masks.ndim != 3:
        raise ValueError(f"masks must be (N, H, W) class indices, got {tuple(masks.shape)}")
    onehot = F.one_hot(masks.long(), num_classes).permute(0, 3, 1, 2).float()
    coarse = F.avg_pool2d(onehot, stride, ceil_mode=True)
    best = F.interpolate(coarse, size=masks.shape[-2:], mode="bilinear", align_corners=False).argmax(1)
    return scores(confusion_matrix(best, masks, num_classes))


def forgive_confusions(cm: torch.Tensor, group: Sequence[int]) -> torch.Tensor:
    """A copy of `cm` in which every pixel of a class in `group` predicted as another class of `group` counts as
    right (moved onto the diagonal): what the scores would be if the network never mixed those classes up."""
    group = list(group)
    if len(group) < 2 or any(not isinstance(c, int) or not 0 <= c < len(cm) for c in group):
        raise ValueError(f"group must list at least two class indices in 0..{len(cm) - 1}, got {group!r}")
    out = cm.clone()
    for t in group:
        out[t, group] = 0
        out[t, t] = cm[t, group].sum()      # the row's pixels predicted as any class of the group count as right
    return out


def batch_pixel_accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """For `fit(metrics=...)`: the fraction of right pixels in a batch (a 0-d tensor)."""
    return (outputs.argmax(1) == targets).float().mean()


def batch_miou(num_classes: int):
    """For `fit(metrics=...)`: a function giving the batch's mIoU (the mean over batches is only an estimate)."""
    def miou(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        cm = confusion_matrix(outputs.argmax(1), targets, num_classes)
        return torch.tensor(scores(cm)["miou"])
    return miou


# ---------------------------------------------------------------- models on data
def _pairs(data: Iterable) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (images, masks) batches from a loader of pairs."""
    for batch in data:
        if not isinstance(batch, (list, tuple)) or len(batch) < 2:
            raise ValueError("data must yield (images, masks) batches, e.g. a SegLoader")
        yield batch[0], batch[1]


@torch.no_grad()
def predict_masks(model: nn.Module, images: torch.Tensor, batch_size: int = 16) -> torch.Tensor:
    """Predicted class masks (N, H, W) for a batch of images (N, 3, H, W), in eval mode."""
    model.eval()
    device = next(model.parameters()).device
    out = [model(images[i:i + batch_size].to(device)).argmax(1).cpu() for i in range(0, len(images), batch_size)]
    return torch.cat(out)


def _to(x: torch.Tensor | tuple, device: torch.device) -> torch.Tensor | tuple:
    """Move a batch, or a tuple of cached feature tensors (FeatureLoader), to `device`."""
    return tuple(t.to(device) for t in x) if isinstance(x, (tuple, list)) else x.to(device)


@torch.no_grad()
def evaluate_segmentation(model: nn.Module, data: Iterable, num_classes: int) -> tuple[torch.Tensor, float]:
    """One confusion matrix over every pixel of `data` (images, or FeatureLoader's cached features), and the
    inference time per image in milliseconds."""
    model.eval()
    device = next(model.parameters()).device
    cm = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    seconds, images = 0.0, 0
    for x, y in _pairs(data):
        t0 = time.perf_counter()
        pred = model(_to(x, device)).argmax(1).cpu()
        seconds += time.perf_counter() - t0
        images += len(y)
        cm += confusion_matrix(pred, y, num_classes)
    return cm, 1000 * seconds / max(images, 1)


def per_image_iou(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """mIoU (background excluded) of each image of a batch of masks: to find the worst images."""
    if pred.shape != target.shape or pred.ndim != 3:
        raise ValueError(f"pred and target must both be (N, H, W), got {tuple(pred.shape)} and {tuple(target.shape)}")
    return torch.tensor([scores(confusion_matrix(p, t, num_classes))["miou"] for p, t in zip(pred, target)])


def torchmetrics_scores(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> dict:
    """The same numbers from torchmetrics: per-class IoU (JaccardIndex, average='none'), its foreground mean,
    and pixel accuracy (Accuracy, average='micro'). Classes absent from both get NaN here too."""
    from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex

    jac = MulticlassJaccardIndex(num_classes=num_classes, average="none", zero_division=math.nan)
    iou = jac(pred.reshape(-1), target.reshape(-1)).double()
    acc = MulticlassAccuracy(num_classes=num_classes, average="micro")
    return {"pixel_accuracy": float(acc(pred.reshape(-1), target.reshape(-1))), "iou": iou.tolist(),
            "miou": _nanmean(iou[1:])}


def train_segmenter(model: nn.Module, train_data, val_data=None, *, epochs: int, lr: float = 2e-3,
                    loss_fn=None, num_classes: int | None = None, weight_decay: float = 1e-4, **fit_options):
    """Train a segmentation model through `course_utils.fit`: AdamW on the trainable parameters, a one-cycle
    learning rate, per-pixel cross-entropy unless `loss_fn` is given, pixel accuracy (and the batch mIoU
    if num_classes is given) logged. Returns (history, seconds of wall time, validation included)."""
    from .train import fit

    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters: unfreeze some with p.requires_grad_(True)")
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * len(train_data),
                                                    pct_start=0.2)
    metrics = {"pixel_acc": batch_pixel_accuracy}
    if num_classes is not None:
        metrics["batch_mIoU"] = batch_miou(num_classes)
    t0 = time.perf_counter()
    history = fit(model, train_data, val_data, epochs=epochs, optimizer=optimizer,
                  loss_fn=loss_fn or nn.CrossEntropyLoss(), metrics=metrics, scheduler=scheduler,
                  scheduler_per_step=True, **fit_options)
    return history, time.perf_counter() - t0


# ---------------------------------------------------------------- data
class SemanticDataset(torch.utils.data.Dataset):
    """(image, class mask) pairs from a dataset that yields (image, target) with target["masks"] (K, H, W)
    binary instance masks and target["labels"] (K,) classes 1..: the class mask takes each instance's label
    (later instances drawn over earlier ones), background 0. If the target already has a "semantic" mask,
    that is used as it is."""

    def __init__(self, base: torch.utils.data.Dataset) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, target = self.base[i]
        return image, semantic_mask(target, image.shape[-2:])


def semantic_mask(target: dict, size: Sequence[int]) -> torch.Tensor:
    """A (H, W) long class mask from a detection-style target (its 'semantic' entry, or its instance masks)."""
    for key in ("semantic", "semantic_mask", "sem_mask"):
        if key in target:
            return torch.as_tensor(target[key]).long()
    if "masks" not in target or "labels" not in target:
        raise ValueError(f"target needs 'masks' and 'labels' (or 'semantic'), it has {sorted(target)}")
    mask = torch.zeros(tuple(size), dtype=torch.long)
    for m, label in zip(target["masks"], target["labels"]):
        mask[torch.as_tensor(m).bool()] = int(label)
    return mask


def _batch_indices(n: int, batch_size: int, shuffle: bool, generator: torch.Generator):
    """Index tensors of successive mini-batches over n examples: a new random order each pass if shuffle."""
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    for i in range(0, n, batch_size):
        yield order[i:i + batch_size]


class SegLoader:
    """Mini-batches of (images, masks) from tensors held in memory; a fixed order when shuffle=False.

    No flips: in the course's scenes a mirrored digit is no digit (notebook 10 says why)."""

    def __init__(self, images: torch.Tensor, masks: torch.Tensor, batch_size: int = 16, shuffle: bool = False,
                 seed: int = 0) -> None:
        if len(images) != len(masks):
            raise ValueError(f"images and masks must have the same length, got {len(images)} and {len(masks)}")
        if images.ndim != 4 or masks.ndim != 3 or images.shape[-2:] != masks.shape[-2:]:
            raise ValueError(f"images must be (N, 3, H, W) and masks (N, H, W) of the same H, W; got "
                             f"{tuple(images.shape)} and {tuple(masks.shape)}")
        self.images, self.masks = images, masks.long()
        self.batch_size, self.shuffle = batch_size, shuffle
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    def __iter__(self):
        for idx in _batch_indices(len(self.images), self.batch_size, self.shuffle, self.generator):
            yield self.images[idx], self.masks[idx]


def stack_semantic(dataset: torch.utils.data.Dataset, limit: int | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """All (image, class mask) pairs of a dataset stacked into two tensors (N, 3, H, W) and (N, H, W)."""
    sem = dataset if isinstance(dataset, SemanticDataset) else SemanticDataset(dataset)
    n = len(sem) if limit is None else min(limit, len(sem))
    pairs = [sem[i] for i in range(n)]
    return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])


# ---------------------------------------------------------------- exercise checks
def _not_done(what: str, hint: str) -> bool:
    """Feedback for an exercise that has not been written yet."""
    print(f"❌ {what}: not done yet. {hint}")
    return False


def check_iou_from_confusion(fn) -> bool:
    """Exercise: fn(cm) -> per-class IoU (NaN for a class absent from truth and prediction), vs iou_per_class."""
    what, hint = "iou_from_confusion", ("IoU_c = cm[c, c] / (row c sum + column c sum - cm[c, c]); "
                                        "use NaN where that union is 0.")
    if fn is None or fn is Ellipsis:
        return _not_done(what, hint)
    rng = np.random.default_rng(0)
    cases = [torch.tensor([[10, 2, 0], [1, 3, 0], [0, 0, 0]]),
             torch.tensor(rng.integers(0, 50, (5, 5))), torch.eye(4, dtype=torch.int64) * 7]
    for i, cm in enumerate(cases):
        try:
            got = fn(cm.clone())
        except Exception as err:  # a student's error, shown briefly
            print(f"❌ {what}: not yet. It raised {type(err).__name__}: {err}")
            return False
        if got is None or got is Ellipsis:
            return _not_done(what, hint)
        got = torch.as_tensor(np.asarray(got, dtype=np.float64))
        want = iou_per_class(cm)
        if got.shape != want.shape or not torch.allclose(got, want, equal_nan=True, atol=1e-9):
            print(f"❌ {what}: not yet. Case {i} gives {np.round(got.numpy(), 3).tolist()}, expected "
                  f"{np.round(want.numpy(), 3).tolist()}. {hint}")
            return False
    print(f"✅ {what}: correct! (3 confusion matrices, including a class absent from both)")
    return True


def check_up_block(cls) -> bool:
    """Exercise: cls(c_in, c_skip, c_out) behaves as segnets.UpBlock (same layers, same output)."""
    from .segnets import UpBlock

    what = "your U-Net up-sampling block"
    hint = ("up: ConvTranspose2d(c_in, c_in // 2, 2, stride=2); then torch.cat([up(x), skip], dim=1); "
            "then conv_block(c_in // 2 + c_skip, c_out).")
    if cls is None or cls is Ellipsis:
        return _not_done(what, hint)
    torch.manual_seed(0)
    x, skip = torch.randn(2, 32, 5, 7), torch.randn(2, 16, 10, 14)
    try:
        mine, ref = cls(32, 16, 16), UpBlock(32, 16, 16).eval()
        if mine is None:
            return _not_done(what, hint)
        mine.eval()
        with torch.no_grad():
            out = mine(x, skip)
    except Exception as err:
        print(f"❌ {what}: not yet. It raised {type(err).__name__}: {err}")
        return False
    if out is None:
        return _not_done(what, hint)
    if tuple(out.shape) != (2, 16, 10, 14):
        print(f"❌ {what}: not yet. Output shape {tuple(out.shape)}, expected (2, 16, 10, 14). {hint}")
        return False
    n_mine, n_ref = sum(p.numel() for p in mine.parameters()), sum(p.numel() for p in ref.parameters())
    if n_mine != n_ref:
        print(f"❌ {what}: not yet. {n_mine:,} parameters, expected {n_ref:,}. {hint}")
        return False
    try:
        ref.load_state_dict(mine.state_dict())
    except RuntimeError:
        print(f"✅ {what}: right shape and {n_mine:,} parameters (names differ from UpBlock's, so outputs "
              "were not compared).")
        return True
    with torch.no_grad():
        same = torch.allclose(ref(x, skip), out, atol=1e-5)
    if not same:
        print(f"❌ {what}: not yet. Same layers, different output: concatenate [up(x), skip] in that order. {hint}")
        return False
    print(f"✅ {what}: correct! (same output as segnets.UpBlock with the same weights)")
    return True


class FeatureLoader:
    """Mini-batches of (cached features, masks) for a model whose first layers are frozen (segnets.CachedHead):
    features is a tuple of tensors with one row per image; each batch is the tuple of their rows."""

    def __init__(self, features: tuple[torch.Tensor, ...], masks: torch.Tensor, batch_size: int = 16,
                 shuffle: bool = True, seed: int = 0) -> None:
        if any(len(f) != len(masks) for f in features):
            raise ValueError(f"every feature tensor needs one row per mask ({len(masks)}), got "
                             f"{[len(f) for f in features]}")
        self.features, self.masks = tuple(features), masks.long()
        self.batch_size, self.shuffle = batch_size, shuffle
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return math.ceil(len(self.masks) / self.batch_size)

    def __iter__(self):
        for idx in _batch_indices(len(self.masks), self.batch_size, self.shuffle, self.generator):
            yield tuple(f[idx] for f in self.features), self.masks[idx]
