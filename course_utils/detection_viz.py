"""Figures for notebook 09: anchors on an image, NMS before/after, RoI pooling vs align, PR curves, detections."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from .scenes import CLASS_COLOURS, CLASSES, draw

__all__ = ["show_anchors", "show_nms", "show_roi_bins", "plot_pr_curves", "show_detections", "plot_errors",
           "plot_threshold_sweep"]


def _show(ax, image: torch.Tensor, title: str = "") -> None:
    """An image (3, H, W) float or uint8 on an axis, without ticks."""
    img = image.permute(1, 2, 0).numpy()
    ax.imshow(img if img.dtype == np.uint8 else np.clip(img, 0, 1))
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def show_anchors(image: torch.Tensor, anchors: torch.Tensor, gt: torch.Tensor | None = None, title: str = "",
                 ax=None):
    """Anchors (k, 4) xyxy drawn over an image, ground-truth boxes in white; returns the figure."""
    from matplotlib.patches import Rectangle

    ax = ax or plt.subplots(figsize=(4.5, 4.5))[1]
    _show(ax, image, title)
    for i, (x1, y1, x2, y2) in enumerate(anchors.tolist()):
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, lw=1.2, ec=plt.cm.tab10(i % 10)))
    for x1, y1, x2, y2 in ([] if gt is None else gt.tolist()):
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, lw=2.5, ec="white", ls="--"))
    h, w = image.shape[1:]
    ax.set_xlim(min(0, anchors[:, 0].min().item()) - 2, max(w, anchors[:, 2].max().item()) + 2)
    ax.set_ylim(max(h, anchors[:, 3].max().item()) + 2, min(0, anchors[:, 1].min().item()) - 2)
    return ax.figure


def show_nms(image: torch.Tensor, boxes: torch.Tensor, scores: torch.Tensor, keep: torch.Tensor):
    """Two panels: every box with its score, and the boxes NMS keeps; returns the figure."""
    from matplotlib.patches import Rectangle

    fig, axes = plt.subplots(1, 2, figsize=(9, 4.6))
    for ax, idx, title in [(axes[0], torch.arange(len(boxes)), f"before NMS: {len(boxes)} boxes"),
                           (axes[1], keep, f"after NMS: {len(keep)} boxes")]:
        _show(ax, image, title)
        for i in idx.tolist():
            x1, y1, x2, y2 = boxes[i].tolist()
            colour = plt.cm.viridis(float(scores[i]))
            ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, lw=1.5, ec=colour))
            ax.text(x1, y1 - 1, f"{scores[i]:.2f}", color=colour, fontsize=7)
    sm = plt.cm.ScalarMappable(cmap="viridis", norm=plt.Normalize(0, 1))
    fig.colorbar(sm, ax=axes, shrink=0.8, label="score")
    return fig


def show_roi_bins(features: torch.Tensor, box: torch.Tensor, pooled: torch.Tensor, aligned: torch.Tensor,
                  output_size: int):
    """A one-channel feature map with the box (exact and rounded) and its bins, and the two pooled results."""
    from matplotlib.patches import Rectangle

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8), gridspec_kw={"width_ratios": [2, 1, 1]})
    vmin, vmax = features[0].min().item(), features[0].max().item()
    im = axes[0].imshow(features[0], cmap="magma", vmin=vmin, vmax=vmax)
    x1, y1, x2, y2 = box.tolist()
    axes[0].add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, ec="cyan", lw=2,
                                label="box (exact, RoI Align)"))
    r = [int(np.floor(v + 0.5)) for v in (x1, y1, x2, y2)]
    axes[0].add_patch(Rectangle((r[0] - 0.5, r[1] - 0.5), r[2] - r[0] + 1, r[3] - r[1] + 1, fill=False, ec="lime",
                                lw=2, ls="--", label="rounded to cells (RoI pool)"))
    for k in range(1, output_size):
        axes[0].axvline(x1 - 0.5 + k * (x2 - x1) / output_size, color="cyan", lw=0.8, ls=":")
        axes[0].axhline(y1 - 0.5 + k * (y2 - y1) / output_size, color="cyan", lw=0.8, ls=":")
    axes[0].legend(loc="lower right", fontsize=8)
    axes[0].set_title("feature map (one channel), box in feature cells")
    for ax, out, name in [(axes[1], pooled, "RoI pool (max)"), (axes[2], aligned, "RoI Align (bilinear mean)")]:
        ax.imshow(out[0], cmap="magma", vmin=vmin, vmax=vmax)
        for (i, j), v in np.ndenumerate(out[0].numpy()):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", color="cyan", fontsize=9)
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=axes, shrink=0.85, label="feature value")
    return fig


def plot_pr_curves(curves: dict[int, dict], aps: dict[int, float], title: str = "", ax=None):
    """Precision-recall curve per class (label -> pr_curve dict), with its AP in the legend."""
    ax = ax or plt.subplots(figsize=(6.5, 4.6))[1]
    for label, c in curves.items():
        recall = np.concatenate([[0], c["recall"]])
        precision = np.concatenate([[1], c["precision"]])
        ax.plot(recall, precision, color=CLASS_COLOURS[label], label=f"{CLASSES[label]}: AP {aps[label]:.3f}")
    ax.set_xlabel("recall (found / ground-truth boxes)")
    ax.set_ylabel("precision (correct / detections)")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return ax.figure


def show_detections(dataset, preds: list[dict], indices, score_min: float = 0.5, names=("ground truth", "detected"),
                    masks: bool = False):
    """Rows of (ground truth, detections with score >= score_min) for the given images, their masks too if
    masks=True (Mask R-CNN); returns the figure."""
    indices = list(indices)
    fig, axes = plt.subplots(2, len(indices), figsize=(2.9 * len(indices), 6.0), squeeze=False)
    for col, i in enumerate(indices):
        image, target = dataset[i]
        _show(axes[0, col], draw(image, target, masks=masks), f"#{i} {names[0]}: {len(target['labels'])}")
        p = preds[i]
        n = int((p["scores"] >= score_min).sum())
        _show(axes[1, col], draw(image, p, masks=masks, score_min=score_min), f"{names[1]}: {n}")
    fig.suptitle(f"top: ground truth; bottom: detections with score >= {score_min}", fontsize=10)
    fig.tight_layout()
    return fig


def plot_errors(kinds_by_model: dict[str, dict[str, int]], title: str = "", ax=None):
    """Grouped bars: how many detections of each kind (and missed boxes) per model."""
    ax = ax or plt.subplots(figsize=(8, 3.8))[1]
    names = list(next(iter(kinds_by_model.values())))
    width = 0.8 / len(kinds_by_model)
    for m, (model, kinds) in enumerate(kinds_by_model.items()):
        x = np.arange(len(names)) + (m - (len(kinds_by_model) - 1) / 2) * width
        bars = ax.bar(x, [kinds[k] for k in names], width, label=model)
        ax.bar_label(bars, fontsize=8)
    ax.set_xticks(np.arange(len(names)), names)
    ax.set_ylabel("count on the test split")
    ax.legend()
    ax.set_title(title)
    return ax.figure


def plot_threshold_sweep(table, x: str, columns=("map_50", "map", "precision", "recall"), title: str = "", ax=None):
    """Lines of the chosen columns of a pandas DataFrame against its column `x`."""
    ax = ax or plt.subplots(figsize=(6, 3.8))[1]
    for col in columns:
        ax.plot(table[x], table[col], "o-", label=col)
    ax.set_xlabel(x)
    ax.set_ylabel("value on the test split")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_title(title)
    return ax.figure
