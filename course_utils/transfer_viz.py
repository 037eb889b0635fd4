"""Figures for transfer learning: the texture split, accuracy vs labels, probes per stage, retrieval rows, maps."""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from .transfer import TEXTURE_PHOTOS, texture_blocks, texture_photos
from .viz import _to_hwc

__all__ = ["show_texture_split", "plot_label_curve", "plot_stage_probes", "show_retrieval", "plot_embedding"]

SPLIT_COLOURS = {"train": "tab:blue", "val": "tab:orange", "test": "tab:red"}


def show_texture_split(block_size: int = 128, val_blocks: int = 3, test_blocks: int = 4, seed: int = 0):
    """The four texture photos with each block outlined in the colour of its split; returns the figure."""
    from matplotlib.patches import Rectangle

    photos = texture_photos()
    fig, axes = plt.subplots(1, len(photos), figsize=(3.2 * len(photos), 3.5))
    for ax, (name, img) in zip(axes, photos.items()):
        per_side = img.shape[0] // block_size
        ax.imshow(img, cmap="gray", vmin=0, vmax=1)
        for split, blocks in texture_blocks(per_side * per_side, val_blocks, test_blocks, seed).items():
            for b in blocks:
                r, c = divmod(b, per_side)
                ax.add_patch(Rectangle((c * block_size + 2, r * block_size + 2), block_size - 4, block_size - 4,
                                       fill=False, lw=2.5, ec=SPLIT_COLOURS[split]))
        ax.set_title(f"{name} ({TEXTURE_PHOTOS[name]})")
        ax.axis("off")
    handles = [plt.Line2D([], [], color=c, lw=3, label=s) for s, c in SPLIT_COLOURS.items()]
    fig.legend(handles=handles, loc="lower center", ncol=3, frameon=False)
    fig.suptitle(f"Each {block_size}x{block_size} block belongs to one split; patches are cut inside blocks only")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def plot_label_curve(results, title: str = "Accuracy vs labelled examples", chance: float | None = None, ax=None):
    """Mean test accuracy (± std over seeds, shaded) against labelled examples per class, one line per method.

    results: a pandas DataFrame with columns method, per_class, seed, accuracy.
    """
    ax = ax or plt.subplots(figsize=(7.5, 4.5))[1]
    for method, rows in results.groupby("method", sort=False):
        stats = rows.groupby("per_class")["accuracy"].agg(["mean", "std", "count"]).fillna(0.0)
        x = stats.index.to_numpy()
        ax.plot(x, stats["mean"], "o-", label=method)
        ax.fill_between(x, stats["mean"] - stats["std"], stats["mean"] + stats["std"], alpha=0.2)
    if chance is not None:
        ax.axhline(chance, color="gray", ls=":", label="chance")
    ax.set_xscale("log")
    xs = sorted(results["per_class"].unique())
    ax.set_xticks(xs, [str(v) for v in xs])
    ax.set_xlabel("labelled training examples per class (log scale)")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def plot_stage_probes(results, title: str = "Linear probe after each stage", ax=None):
    """Probe accuracy (mean ± std over seeds) after each backbone stage, one line per target data set.

    results: a DataFrame with columns target, stage, seed, accuracy (stages in network order).
    """
    ax = ax or plt.subplots(figsize=(7.5, 4.2))[1]
    stages = list(dict.fromkeys(results["stage"]))
    for target, rows in results.groupby("target", sort=False):
        stats = rows.groupby("stage", sort=False)["accuracy"].agg(["mean", "std"]).reindex(stages).fillna(0.0)
        x = np.arange(len(stages))
        ax.errorbar(x, stats["mean"], yerr=stats["std"], marker="o", capsize=3, label=target)
    ax.set_xticks(np.arange(len(stages)), stages)
    ax.set_xlabel("features taken after ... (earlier → later)")
    ax.set_ylabel("test accuracy of a linear probe")
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def show_retrieval(queries, gallery, neighbours: torch.Tensor, query_labels: Sequence, gallery_labels: Sequence,
                   classes: Sequence[str], title: str = "Nearest neighbours in feature space", size: float = 1.3):
    """One row per query: the query, then its neighbours (green title: same class, red: other); returns the figure."""
    nq, k = neighbours.shape
    fig, axes = plt.subplots(nq, k + 1, figsize=(size * (k + 1), size * nq + 0.5), squeeze=False)
    for i in range(nq):
        axes[i, 0].imshow(_to_hwc(queries[i]), cmap="gray")
        axes[i, 0].set_title(f"query: {classes[int(query_labels[i])]}", fontsize=8, fontweight="bold")
        for j, g in enumerate(neighbours[i].tolist(), start=1):
            same = int(gallery_labels[g]) == int(query_labels[i])
            axes[i, j].imshow(_to_hwc(gallery[g]), cmap="gray")
            axes[i, j].set_title(f"#{j} {classes[int(gallery_labels[g])]}", fontsize=8,
                                 color="green" if same else "red")
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_embedding(points: np.ndarray, labels: Sequence, classes: Sequence[str], title: str, ax=None):
    """A 2-D map of the features (t-SNE or PCA), one colour per class."""
    ax = ax or plt.subplots(figsize=(5, 4.5))[1]
    labels = np.asarray(labels)
    for c, name in enumerate(classes):
        m = labels == c
        ax.scatter(points[m, 0], points[m, 1], s=8, alpha=0.7, label=name, color=plt.cm.tab10(c % 10))
    ax.set_title(title)
    ax.set_xlabel("dimension 1")
    ax.set_ylabel("dimension 2")
    ax.legend(fontsize=7, markerscale=2, loc="best")
    return ax
