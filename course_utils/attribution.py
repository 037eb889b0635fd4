"""Which pixels matter, and how to fool a network: each method from scratch, in a few lines.

    saliency          Simonyan et al. 2014: |d class score / d pixel|          (captum.attr.Saliency)
    grad_cam          Selvaraju et al. 2017: channel weights = mean gradient   (captum.attr.LayerGradCam)
    occlusion         Zeiler & Fergus 2014: grey out a window, see the score drop (captum.attr.Occlusion)
    fgsm              Goodfellow et al. 2015: one step along the sign of the loss gradient
    accuracy_under_attack   accuracy against epsilon on a held-out set
    plot_attributions, overlay, check_fgsm_step

`model` is any callable mapping a batch (N, 3, H, W) to class scores (N, classes); the notebook uses
`visualise.pixel_model`, which takes pixels in [0, 1]. `target` is one class index per image.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import nn

from .visualise import capture, to_image

__all__ = ["class_score", "saliency", "saliency_map", "grad_cam", "upsample", "occlusion", "fgsm",
           "accuracy_under_attack", "overlay", "plot_attributions", "plot_class_cams", "grad_cam_explorer",
           "check_fgsm_step"]


def _targets(target, n: int) -> torch.Tensor:
    """One class index per image, as a (n,) long tensor."""
    t = torch.as_tensor(target).long().flatten()
    if t.numel() == 1:
        t = t.expand(n)
    if t.numel() != n:
        raise ValueError(f"target must be one class index or one per image ({n}), got {t.numel()}")
    return t


def class_score(model: Callable, x: torch.Tensor, target) -> torch.Tensor:
    """The score (logit) of each image's target class, shape (N,)."""
    return model(x).gather(1, _targets(target, len(x)).view(-1, 1).to(x.device)).squeeze(1)


def saliency(model: Callable, x: torch.Tensor, target, absolute: bool = True) -> torch.Tensor:
    """The gradient of the target class's score with respect to every input pixel, shape (N, 3, H, W).

    A large |gradient| means: changing this pixel a little changes the score a lot (Simonyan et al. 2014).
    """
    with torch.enable_grad():  # works inside torch.no_grad() too
        x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(class_score(model, x, target).sum(), x)
    return grad.abs() if absolute else grad


def saliency_map(grad: torch.Tensor) -> torch.Tensor:
    """Simonyan et al.'s map: the largest |gradient| over the colour channels, shape (N, H, W)."""
    return grad.abs().amax(dim=1)


def grad_cam(model: Callable, layer: nn.Module, x: torch.Tensor, target, relu: bool = True) -> torch.Tensor:
    """Grad-CAM at `layer`'s resolution, shape (N, h, w).

    A = the layer's output (N, C, h, w); alpha_c = the spatial mean of d score / d A_c (how much channel c
    matters for the class); the map is ReLU(sum_c alpha_c A_c): where the channels that matter are active.
    """
    with torch.enable_grad(), capture([layer], detach=False) as seen:
        x = x.detach().requires_grad_(True)  # so that a graph is built even when the weights are frozen
        score = class_score(model, x, target)
        act = seen["0"]
        (grad,) = torch.autograd.grad(score.sum(), act)
    weights = grad.mean(dim=(2, 3), keepdim=True)
    cam = (weights * act).sum(dim=1)
    return (cam.clamp(min=0) if relu else cam).detach()


def upsample(maps: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """(N, h, w) maps -> (N, H, W), bilinear (to lay a coarse map over the photo)."""
    return F.interpolate(maps.unsqueeze(1).float(), size=tuple(size), mode="bilinear", align_corners=False)[:, 0]


def _starts(length: int, window: int, stride: int) -> list[int]:
    """Window start positions along one axis: 0, stride, ... until the image end is covered (as captum does)."""
    if window > length:
        raise ValueError(f"window ({window}) must not be larger than the image ({length})")
    return [i * stride for i in range(-(-(length - window) // stride) + 1)]


@torch.no_grad()
def occlusion(model: Callable, x: torch.Tensor, target, window: int = 32, stride: int = 16,
              baseline: float = 0.5, batch_size: int = 32) -> torch.Tensor:
    """Zeiler & Fergus's occlusion: how much the target score drops when a square is greyed out, shape (N, H, W).

    Each pixel gets the mean drop over all the windows that cover it (windows at the image edge are cut off).
    """
    if stride < 1 or stride > window:
        raise ValueError(f"stride must be between 1 and window ({window}), got {stride}")
    n, _, h, w = x.shape
    target = _targets(target, n)
    base = class_score(model, x, target).cpu()
    total, count = torch.zeros(n, h, w), torch.zeros(h, w)
    boxes = [(r, c) for r in _starts(h, window, stride) for c in _starts(w, window, stride)]
    for i in range(n):
        for start in range(0, len(boxes), batch_size):
            chunk = boxes[start:start + batch_size]
            occluded = x[i:i + 1].repeat(len(chunk), 1, 1, 1)
            for j, (r, c) in enumerate(chunk):
                occluded[j, :, r:r + window, c:c + window] = baseline
            drops = base[i] - class_score(model, occluded, target[i]).cpu()
            for drop, (r, c) in zip(drops, chunk):
                total[i, r:r + window, c:c + window] += drop
                if i == 0:
                    count[r:r + window, c:c + window] += 1
    return total / count


def fgsm(model: Callable, x: torch.Tensor, y, eps: float, clamp: tuple[float, float] = (0.0, 1.0)) -> torch.Tensor:
    """The fast gradient sign method: x + eps * sign(d loss / d x), clipped to the pixel range.

    One step, in the direction that raises the cross-entropy loss of the true labels `y` fastest when
    every pixel may change by at most eps (Goodfellow, Shlens & Szegedy 2015).
    """
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    with torch.enable_grad():  # works inside torch.no_grad() too
        x = x.detach().requires_grad_(True)
        loss = F.cross_entropy(model(x), _targets(y, len(x)).to(x.device))
        (grad,) = torch.autograd.grad(loss, x)
    return (x + eps * grad.sign()).clamp(*clamp).detach()


def accuracy_under_attack(model: Callable, x: torch.Tensor, y: torch.Tensor, epsilons: Sequence[float],
                          batch_size: int = 256) -> list[float]:
    """Accuracy on (x, y) after an FGSM attack of each strength eps (eps = 0: the clean accuracy)."""
    accs = []
    for eps in epsilons:
        correct = 0
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            xa = fgsm(model, xb, yb, eps) if eps > 0 else xb
            with torch.no_grad():
                correct += int((model(xa).argmax(1) == yb).sum())
        accs.append(correct / len(x))
    return accs


# ============================================================== pictures
def _normalised(m: torch.Tensor | np.ndarray, quantile: float = 1.0) -> np.ndarray:
    """A map scaled to [0, 1] by its own maximum, or by a quantile with the rest clipped (for display only)."""
    m = np.asarray(m.detach().cpu() if isinstance(m, torch.Tensor) else m, dtype=np.float32)
    low, high = min(0.0, float(m.min())), float(np.quantile(m, quantile))
    return ((m - low) / (high - low + 1e-12)).clip(0, 1)


def overlay(ax, image: np.ndarray, heat: torch.Tensor | np.ndarray, alpha: float = 0.5, cmap: str = "jet"):
    """Draw `image` with the heat map on top (scaled to its own maximum); returns the heat map's artist."""
    ax.imshow(image)
    art = ax.imshow(_normalised(heat), cmap=cmap, alpha=alpha, vmin=0, vmax=1)
    ax.axis("off")
    return art


def plot_attributions(images: Sequence[np.ndarray], rows: Mapping[str, Sequence], titles: Sequence[str],
                      size: float = 2.3) -> Figure:
    """One column per photo: the photo, then one row per method (maps of the photo's size), with a colour bar."""
    n = len(images)
    fig = Figure(figsize=(size * n + 1.0, size * (1 + len(rows)) + 0.3))
    axes = np.atleast_2d(fig.subplots(1 + len(rows), n, squeeze=False))
    for j in range(n):
        axes[0, j].imshow(images[j])
        axes[0, j].set_title(titles[j], fontsize=9)
        axes[0, j].axis("off")
        for i, (name, maps) in enumerate(rows.items(), start=1):
            if name.startswith("saliency"):
                # a few pixels have huge gradients: scale by the 99th percentile so the rest can be seen
                art = axes[i, j].imshow(_normalised(maps[j], quantile=0.99), cmap="hot", vmin=0, vmax=1)
                axes[i, j].axis("off")
            else:
                art = overlay(axes[i, j], images[j], maps[j])
            if j == 0:
                axes[i, j].text(-0.08, 0.5, name, transform=axes[i, j].transAxes, rotation=90, ha="right",
                                va="center", fontsize=9)
    bar = fig.colorbar(art, ax=axes[1:].ravel().tolist(), fraction=0.02)
    bar.set_label("importance (each map / its maximum;\nsaliency / its 99th percentile)")
    return fig


def plot_class_cams(image: np.ndarray, cams: Sequence, labels: Sequence[str], size: float = 2.4) -> Figure:
    """One photo, one Grad-CAM per class: where the network looks for each of them."""
    fig = Figure(figsize=(size * (len(cams) + 1) + 0.8, size + 0.5))
    axes = fig.subplots(1, len(cams) + 1)
    axes[0].imshow(image)
    axes[0].set_title("photo", fontsize=9)
    axes[0].axis("off")
    for ax, cam, label in zip(axes[1:], cams, labels):
        art = overlay(ax, image, cam)
        ax.set_title(label, fontsize=9)
    fig.colorbar(art, ax=list(axes), fraction=0.02).set_label("Grad-CAM / its maximum")
    return fig


def grad_cam_explorer(images: Mapping[str, np.ndarray], cams: Mapping[str, Sequence],
                      labels: Mapping[str, Sequence[str]]):
    """Choose a photo and one of its top classes; shows the precomputed Grad-CAM for it (no recomputation)."""
    import ipywidgets as W

    from .widgets import interactive

    names = list(images)
    k = min(len(v) for v in cams.values())

    def draw(photo: str, rank: int) -> Figure:
        fig = Figure(figsize=(5.4, 3.2))
        axes = fig.subplots(1, 2)
        axes[0].imshow(images[photo])
        axes[0].set_title(photo, fontsize=9)
        axes[0].axis("off")
        art = overlay(axes[1], images[photo], cams[photo][rank - 1])
        axes[1].set_title(f"class ranked {rank}: {labels[photo][rank - 1]}", fontsize=9)
        fig.colorbar(art, ax=list(axes), fraction=0.03).set_label("Grad-CAM / its maximum")
        return fig

    controls = {"photo": W.Dropdown(options=names, value=names[0], description="photo"),
                "rank": W.IntSlider(value=1, min=1, max=k, description="class rank", continuous_update=False)}
    return interactive(draw, controls)


# ============================================================== exercise check
def check_fgsm_step(fn: Callable, model: Callable, x: torch.Tensor, y: torch.Tensor, eps: float = 0.1) -> bool:
    """Does the student's fgsm_step(model, x, y, eps) give the same adversarial images as `fgsm`?"""
    from .checks import _report, not_done

    what = "fgsm_step"
    if fn is None or fn is Ellipsis:
        return not_done(what, "Replace the ... with your function fgsm_step(model, x, y, eps).")
    try:
        got = fn(model, x.clone(), y.clone(), eps)
    except NotImplementedError:
        return not_done(what, "It still raises NotImplementedError: write the code first.")
    except Exception as err:
        return _report(False, what, f"It raised {type(err).__name__}: {err}")
    if got is None or got is Ellipsis:
        return not_done(what, "Replace the ... and return the adversarial images: x + eps * sign(gradient), "
                              "clamped to [0, 1].")
    if not isinstance(got, torch.Tensor) or got.shape != x.shape:
        return _report(False, what, f"Return a tensor shaped like x {tuple(x.shape)}.")
    want = fgsm(model, x, y, eps)
    if (got.detach() - x).abs().max() > eps + 1e-6:
        return _report(False, what, f"Some pixels moved by more than eps = {eps}: step by eps * sign(gradient).")
    if got.min() < -1e-6 or got.max() > 1 + 1e-6:
        return _report(False, what, "Some pixels left [0, 1]: clamp the result.")
    ok = torch.allclose(got.detach(), want, atol=1e-6)
    return _report(ok, what, "Take the gradient of the cross-entropy loss of the TRUE labels with respect to x, "
                             "step by +eps * its sign (uphill: the loss should grow), then clamp to [0, 1].")
