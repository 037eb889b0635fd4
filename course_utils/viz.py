"""Pictures: image grids, training curves, confusion matrices, mistakes."""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch


def _to_hwc(img: torch.Tensor | np.ndarray) -> np.ndarray:
    """A (C, H, W) tensor or (H, W[, C]) array -> an (H, W) or (H, W, 3) array for imshow."""
    a = img.detach().cpu().float().numpy() if isinstance(img, torch.Tensor) else np.asarray(img, dtype=np.float32)
    if a.ndim == 3 and a.shape[0] in (1, 3):
        a = a.transpose(1, 2, 0)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    return a.clip(0, 1) if a.min() >= -1e-6 else (a - a.min()) / (a.max() - a.min() + 1e-12)


def show_images(images, labels: Sequence | None = None, classes: Sequence[str] | None = None,
                predictions: Sequence | None = None, ncols: int = 8, title: str | None = None, size: float = 1.4):
    """A grid of images with their labels (and predictions: green if right, red if wrong); returns the figure."""
    n = len(images)
    if n == 0:
        raise ValueError("images is empty: pass at least one image")
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3), squeeze=False)
    name = (lambda c: classes[int(c)]) if classes is not None else (lambda c: str(int(c)))
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(_to_hwc(images[i]), cmap="gray")
        if predictions is not None:
            right = labels is None or int(predictions[i]) == int(labels[i])
            text = f"pred {name(predictions[i])}" + ("" if labels is None else f"\ntrue {name(labels[i])}")
            ax.set_title(text, fontsize=8, color="green" if right else "red")
        elif labels is not None:
            ax.set_title(name(labels[i]), fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_history(history, axes=None):
    """Loss and each metric against epoch, train and validation; returns the figure."""
    keys = history.keys()
    names = [k[len("train_"):] for k in keys if k.startswith("train_")]
    if axes is None:
        fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.2), squeeze=False)
        axes = axes[0]
    else:
        fig = np.atleast_1d(axes)[0].figure
    epochs = history["epoch"]
    for ax, name in zip(np.atleast_1d(axes), names):
        ax.plot(epochs, history[f"train_{name}"], "o-", label="train")
        if f"val_{name}" in keys:
            ax.plot(epochs, history[f"val_{name}"], "s-", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def plot_confusion_matrix(y_true, y_pred, classes: Sequence[str] | None = None, normalize: str | None = None,
                          title: str = "Confusion matrix"):
    """scikit-learn's confusion matrix of true vs predicted labels, drawn; returns the figure."""
    from sklearn.metrics import ConfusionMatrixDisplay

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} must have the same shape")
    labels = list(range(len(classes))) if classes is not None else None
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ConfusionMatrixDisplay.from_predictions(y_true, y_pred, labels=labels, display_labels=classes,
                                            normalize=normalize, ax=ax, colorbar=False, cmap="Blues")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def show_mistakes(images, labels, logits: torch.Tensor, classes: Sequence[str] | None = None, n: int = 16,
                  ncols: int = 8):
    """The `n` most confident wrong predictions, with the model's confidence; returns the figure."""
    probs = torch.as_tensor(logits).float().softmax(dim=1)
    conf, pred = probs.max(dim=1)
    labels = torch.as_tensor(labels)
    wrong = (pred != labels).nonzero().flatten()
    if len(wrong) == 0:
        print("No mistakes to show: every prediction is right.")
        return None
    worst = wrong[conf[wrong].argsort(descending=True)][:n]
    fig = show_images(images[worst], labels[worst], classes, pred[worst], ncols=ncols,
                      title=f"The {len(worst)} most confident mistakes (of {len(wrong)})")
    for ax, i in zip(fig.axes, worst):
        ax.set_title(ax.get_title() + f"\n{conf[i]:.0%} sure", fontsize=8, color="red")
    fig.tight_layout()
    return fig


def figure_rgb(fig, dpi: int | None = None) -> np.ndarray:
    """A figure rendered to an (H, W, 3) uint8 array with the Agg renderer (no pyplot, no screen)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not isinstance(fig, Figure):
        raise TypeError(f"expected a matplotlib Figure, got {type(fig).__name__}")
    if dpi is not None:
        fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def animation_png(frames, duration: int = 500, dpi: int | None = None, loop: int = 0) -> bytes:
    """The bytes of an animated PNG (APNG) of `frames` (Figures or (H, W, 3) uint8 arrays, all the same size).

    `duration` is each frame's time on screen in milliseconds; loop=0 repeats forever. A Figure may be yielded
    several times after being redrawn (it is rendered when it arrives).
    """
    from PIL import Image as PILImage

    if not isinstance(duration, (int, float)) or duration <= 0:
        raise ValueError(f"duration must be a positive number of milliseconds, got {duration!r}")
    images = []
    for i, frame in enumerate(frames):
        rgb = frame if isinstance(frame, np.ndarray) else figure_rgb(frame, dpi)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"frame {i} must be an (H, W, 3) uint8 array or a Figure, got {rgb.dtype} {rgb.shape}")
        if images and rgb.shape[:2] != (images[0].height, images[0].width):
            raise ValueError(f"frame {i} is {rgb.shape[1]}x{rgb.shape[0]} pixels, frame 0 is "
                             f"{images[0].width}x{images[0].height}: every frame must have the same size "
                             "(same figsize and dpi, no bbox_inches='tight')")
        images.append(PILImage.fromarray(rgb))
    if not images:
        raise ValueError("frames is empty: pass at least one Figure or image")
    import io

    buf = io.BytesIO()
    images[0].save(buf, format="PNG", save_all=True, append_images=images[1:], duration=duration, loop=loop,
                   optimize=True)
    return buf.getvalue()


def animation(frames, duration: int = 500, dpi: int | None = None, loop: int = 0):
    """An animated PNG of `frames` as an IPython Image: a plain picture that plays in JupyterLab (any windowing
    mode), Colab, GitHub, nbconvert HTML and slides, with no JavaScript. See `animation_png` for the arguments."""
    from IPython.display import Image

    return Image(data=animation_png(frames, duration, dpi, loop), format="png")
