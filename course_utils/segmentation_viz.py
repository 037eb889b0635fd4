"""Drawing for notebook 10: class masks in colour, the four tasks side by side, predictions next to the truth."""
from __future__ import annotations

import textwrap
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

#: One colour per class (background black), the same in every figure of the notebook.
PALETTE = np.array([[0, 0, 0], [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
                    [145, 30, 180], [70, 240, 240], [240, 50, 230], [128, 128, 128]]) / 255.0


def _image(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """(3, H, W) tensor or (H, W, 3) array -> (H, W, 3) float array for imshow."""
    x = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if x.ndim == 3 and x.shape[0] == 3:
        x = x.transpose(1, 2, 0)
    return np.clip(x.astype(np.float64) / (255.0 if x.max() > 1 else 1.0), 0, 1)


def colour_mask(mask: torch.Tensor | np.ndarray) -> np.ndarray:
    """A class mask (H, W) as an RGB image with the course's palette."""
    mask = np.asarray(mask.cpu() if isinstance(mask, torch.Tensor) else mask).astype(int)
    if mask.max() >= len(PALETTE):
        raise ValueError(f"mask has class {mask.max()}, the palette has {len(PALETTE)} colours")
    return PALETTE[mask]


def overlay(image, mask, alpha: float = 0.55, grey: bool = False) -> np.ndarray:
    """The image with the mask's object pixels tinted in their class colours. grey=True first turns the image
    into a dimmed grey picture, so that the class colours stand out from a colourful photo."""
    img, m = _image(image), np.asarray(mask.cpu() if isinstance(mask, torch.Tensor) else mask)
    if grey:
        img = np.repeat((0.15 + 0.5 * img @ np.array([0.299, 0.587, 0.114]))[..., None], 3, axis=2)
    out = img.copy()
    fg = m > 0
    out[fg] = (1 - alpha) * img[fg] + alpha * colour_mask(m)[fg]
    return out


def legend_handles(classes: Sequence[str]) -> list[Patch]:
    """Legend patches, one per class."""
    return [Patch(color=PALETTE[i], label=c) for i, c in enumerate(classes)]


def four_tasks(image, target: dict, classes: Sequence[str]) -> Figure:
    """Classification, semantic segmentation, detection and instance segmentation of one image."""
    fig, axes = plt.subplots(1, 4, figsize=(15, 4.2))
    img = _image(image)
    labels = target["labels"].tolist()
    areas = target["masks"].flatten(1).sum(1)
    main = labels[int(areas.argmax())]
    axes[0].imshow(img)
    axes[0].set_title(f"classification:\n'{classes[main]}' (largest object)")
    axes[1].imshow(overlay(img, target["semantic"], alpha=0.8))
    axes[1].set_title("semantic segmentation:\na class per pixel")
    axes[2].imshow(img)
    for box, lab in zip(target["boxes"].tolist(), labels):
        x1, y1, x2, y2 = box
        axes[2].add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, color=PALETTE[lab], lw=2))
        axes[2].text(x1, y1 - 1, classes[lab], color=PALETTE[lab], fontsize=8, va="bottom")
    axes[2].set_title("detection:\na box and a class per object")
    inst = img.copy()
    cmap = plt.get_cmap("tab10")
    for j, m in enumerate(target["masks"].bool().numpy()):
        inst[m] = 0.3 * img[m] + 0.7 * np.array(cmap(j % 10)[:3])
    axes[3].imshow(inst)
    axes[3].set_title(f"instance segmentation:\na mask per object ({len(labels)} objects;\ncolours: the object, not its class)")
    for ax in axes:
        ax.axis("off")
    fig.legend(handles=legend_handles(classes)[1:], loc="lower center", ncol=len(classes) - 1, fontsize=9)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def predictions_grid(images: torch.Tensor, truths: torch.Tensor, preds: dict[str, torch.Tensor],
                     classes: Sequence[str], titles: Sequence[str] | None = None) -> Figure:
    """One row per image: the image, the true mask, then each model's predicted mask (over the image in grey)."""
    n, cols = len(images), 2 + len(preds)
    fig, axes = plt.subplots(n, cols, figsize=(2.3 * cols, 2.3 * n + 0.6), squeeze=False)
    for i in range(n):
        axes[i, 0].imshow(_image(images[i]))
        axes[i, 0].set_ylabel(titles[i] if titles else f"image {i}", fontsize=8)
        axes[i, 1].imshow(overlay(images[i], truths[i], alpha=0.85, grey=True))
        for j, (name, p) in enumerate(preds.items()):
            axes[i, 2 + j].imshow(overlay(images[i], p[i], alpha=0.85, grey=True))
            if i == 0:
                axes[i, 2 + j].set_title(textwrap.fill(name, 20), fontsize=8)
        if i == 0:
            axes[i, 0].set_title("image", fontsize=9)
            axes[i, 1].set_title("ground truth", fontsize=9)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.legend(handles=legend_handles(classes)[1:], loc="lower center", ncol=len(classes) - 1, fontsize=8)
    fig.tight_layout(rect=(0, 0.5 / (2.3 * n + 0.6), 1, 1))
    return fig


def plot_confusion(cm: torch.Tensor, classes: Sequence[str], ax=None, title: str = "") -> plt.Axes:
    """A row-normalised confusion matrix (rows: true class) with a colour bar."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4.5))
    cm = torch.as_tensor(cm).double()
    norm = (cm / cm.sum(1, keepdim=True).clamp_min(1)).numpy()
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.figure.colorbar(im, ax=ax, label="fraction of the true class's pixels")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_title(title)
    return ax


def mask_cmap(num_classes: int) -> ListedColormap:
    """A colour map for imshow(mask, cmap=..., vmin=0, vmax=num_classes - 1)."""
    return ListedColormap(PALETTE[:num_classes])
