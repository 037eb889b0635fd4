"""Neural style transfer after Gatys, Ecker & Bethge (2015, 2016), from scratch.

    gram_matrix          G = F F^T / M: which channels fire together (the "style" of a layer)
    content_loss         1/2 sum (F - P)^2 on one layer (Gatys eq. 1)
    style_layer_loss     1/(4 N^2 M^2) sum (G - A)^2 with unnormalised Grams (Gatys eq. 4)
    total_variation      sum of |differences| between neighbouring pixels (as torchmetrics counts it)
    style_network        the feature layers of MobileNetV2 (offline) or VGG-19 (the paper's, online)
    style_transfer       optimise the pixels with L-BFGS or Adam
    check_gram_matrix    the exercise's check

N = channels, M = height x width of a layer's feature map. Images are (1, 3, H, W) in [0, 1].
"""
from __future__ import annotations

import socket
import urllib.error
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from matplotlib.figure import Figure
from torch import nn

from .visualise import capture, pixel_model

__all__ = ["gram_matrix", "content_loss", "style_layer_loss", "total_variation", "StyleNet", "style_network",
           "STYLE_LAYERS", "style_transfer", "plot_losses", "style_weight_explorer", "check_gram_matrix"]


# ============================================================== the losses
def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) feature maps -> (N, C, C) Gram matrices G_ij = sum_k F_ik F_jk / (H W), k over positions."""
    if features.ndim != 4:
        raise ValueError(f"features must be shaped (N, C, H, W), got {tuple(features.shape)}")
    n, c, h, w = features.shape
    f = features.reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / (h * w)


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Gatys eq. 1: half the summed squared difference between two feature maps of one layer."""
    if features.shape != target.shape:
        raise ValueError(f"features {tuple(features.shape)} and target {tuple(target.shape)} must match")
    return 0.5 * (features - target).pow(2).sum()


def style_layer_loss(features: torch.Tensor, target_gram: torch.Tensor) -> torch.Tensor:
    """Gatys eq. 4, E_l = 1/(4 N^2 M^2) sum (G - A)^2 with unnormalised Grams; with G/M, A/M: 1/(4 N^2) sum (...)^2."""
    gram = gram_matrix(features)
    if gram.shape != target_gram.shape:
        raise ValueError(f"target_gram must be shaped {tuple(gram.shape)} (the Gram of this layer), "
                         f"got {tuple(target_gram.shape)}")
    c = features.shape[1]
    return (gram - target_gram).pow(2).sum() / (4 * c ** 2)


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Sum of |x[i+1, j] - x[i, j]| + |x[i, j+1] - x[i, j]| over a (N, C, H, W) batch: small for smooth images."""
    if image.ndim != 4:
        raise ValueError(f"image must be shaped (N, C, H, W), got {tuple(image.shape)}")
    return (image[:, :, 1:] - image[:, :, :-1]).abs().sum() + (image[:, :, :, 1:] - image[:, :, :, :-1]).abs().sum()


# ============================================================== the network
#: Layers used for content and style, by index into each network's `features`.
STYLE_LAYERS = {
    # MobileNetV2: the outputs of blocks 1, 3, 6, 10 (strides 2, 4, 8, 16); content from block 10
    "mobilenet_v2": {"content": [10], "style": [1, 3, 6, 10]},
    # VGG-19 as in the paper: relu1_1, relu2_1, relu3_1, relu4_1, relu5_1; content relu4_2
    "vgg19": {"content": [22], "style": [1, 6, 11, 20, 29]},
}


@dataclass
class StyleNet:
    """A network cut after its deepest used layer, taking pixels in [0, 1], with its content and style layers."""

    net: nn.Module
    content: dict[str, nn.Module] = field(default_factory=dict)
    style: dict[str, nn.Module] = field(default_factory=dict)
    name: str = ""


def style_network(arch: str = "mobilenet_v2", pretrained: bool = True, device: torch.device | str = "cpu") -> StyleNet:
    """The feature layers of MobileNetV2 (ImageNet weights offline) or VGG-19 (paper; 548 MB download)."""
    from . import pretrained as P

    if arch not in STYLE_LAYERS:
        raise ValueError(f"arch must be one of {sorted(STYLE_LAYERS)}, got {arch!r}")
    if arch == "mobilenet_v2":
        features = P.mobilenet_v2(pretrained=pretrained).features
    else:
        import torchvision

        old = socket.getdefaulttimeout()
        socket.setdefaulttimeout(20)
        try:
            features = torchvision.models.vgg19(weights="IMAGENET1K_V1" if pretrained else None).features
        except (urllib.error.URLError, OSError, RuntimeError) as err:
            raise P.WeightsUnavailableError(
                f"VGG-19's ImageNet weights (548 MB) are not cached and could not be downloaded "
                f"({type(err).__name__}): connect to the internet once, or use arch='mobilenet_v2'.") from None
        finally:
            socket.setdefaulttimeout(old)
    layers = STYLE_LAYERS[arch]
    cut = nn.Sequential(*features[:max(layers["content"] + layers["style"]) + 1])
    kind = "pretrained" if pretrained else "untrained"
    return StyleNet(pixel_model(cut).to(device), {f"{arch}[{i}]": cut[i] for i in layers["content"]},
                    {f"{arch}[{i}]": cut[i] for i in layers["style"]}, f"{arch} ({kind})")


def _features(sn: StyleNet, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """One forward pass: (content-layer outputs, style-layer outputs), with their graphs."""
    layers = {**{"c" + k: m for k, m in sn.content.items()}, **{"s" + k: m for k, m in sn.style.items()}}
    with capture(layers, detach=False) as seen:
        sn.net(x)
    return [seen["c" + k] for k in sn.content], [seen["s" + k] for k in sn.style]


# ============================================================== the optimisation
def style_transfer(sn: StyleNet, content: torch.Tensor, style: torch.Tensor, style_weight: float = 1e5,
                   content_weight: float = 1.0, tv_weight: float = 1e-2, steps: int = 200, optimizer: str = "lbfgs",
                   lr: float = 0.02, init: str = "content", progress: bool = True
                   ) -> tuple[torch.Tensor, list[float]]:
    """Optimise an image so its content features match `content`'s and its Gram matrices match `style`'s.

    Loss = content_weight * content loss + style_weight * mean over style layers of E_l + tv_weight * TV.
    `steps` counts loss evaluations (one forward and backward pass each), so L-BFGS and Adam can be compared
    at equal cost. Returns (image, the total loss at every evaluation).
    """
    if optimizer not in ("lbfgs", "adam"):
        raise ValueError(f"optimizer must be 'lbfgs' or 'adam', got {optimizer!r}")
    if init not in ("content", "noise"):
        raise ValueError(f"init must be 'content' or 'noise', got {init!r}")
    with torch.no_grad():
        content_targets, _ = _features(sn, content)
        _, style_feats = _features(sn, style)
        style_targets = [gram_matrix(f) for f in style_feats]
    noise = torch.rand(content.shape, generator=torch.Generator().manual_seed(0)) if init == "noise" else None
    start = content if noise is None else noise.to(content.device)
    image = start.detach().clone().contiguous().requires_grad_(True)
    history: list[float] = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc=f"{optimizer} on {sn.name}", unit="eval", leave=False)

    def closure() -> torch.Tensor:
        with torch.no_grad():
            image.clamp_(0, 1)  # keep real pixel values
        opt.zero_grad()
        c_feats, s_feats = _features(sn, image)
        loss = content_weight * sum(content_loss(f, t) for f, t in zip(c_feats, content_targets))
        loss = loss + style_weight * sum(style_layer_loss(f, g) for f, g in zip(s_feats, style_targets)) / len(s_feats)
        loss = loss + tv_weight * total_variation(image)
        loss.backward()
        history.append(loss.item())
        if bar is not None:
            bar.update(1)
        return loss

    if optimizer == "lbfgs":
        opt = torch.optim.LBFGS([image], lr=1.0, max_iter=steps, max_eval=steps, history_size=50,
                                line_search_fn="strong_wolfe", tolerance_grad=0.0, tolerance_change=0.0)
        opt.step(closure)
    else:
        opt = torch.optim.Adam([image], lr=lr)
        for _ in range(steps):
            opt.step(closure)
    if bar is not None:
        bar.close()
    return image.detach().clamp(0, 1), history


def plot_losses(histories: dict[str, Sequence[float]], title: str = "Style transfer: loss per evaluation") -> Figure:
    """Total loss against the number of loss evaluations (forward + backward passes), one line per run."""
    fig = Figure(figsize=(5.6, 3.4))
    ax = fig.subplots()
    for name, h in histories.items():
        ax.plot(range(1, len(h) + 1), h, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("loss evaluations (forward + backward passes)")
    ax.set_ylabel("total loss (log scale)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def style_weight_explorer(results: dict[float, torch.Tensor], content: torch.Tensor, style: torch.Tensor):
    """A slider over precomputed style weights: content, style and the result for the chosen weight."""
    import ipywidgets as W

    from .visualise import plot_images
    from .widgets import interactive

    weights = sorted(results)

    def draw(style_weight: float) -> Figure:
        return plot_images([content, style, results[style_weight]],
                           ["content", "style", f"style weight {style_weight:.0e}"], ncols=3, size=2.6)

    slider = W.SelectionSlider(options=[(f"{w:.0e}", w) for w in weights], value=weights[len(weights) // 2],
                               description="style weight", continuous_update=False)
    return interactive(draw, {"style_weight": slider})


# ============================================================== exercise check
def check_gram_matrix(fn: Callable) -> bool:
    """Does the student's gram_matrix(features) agree with the definition on a few feature maps?"""
    from .checks import _report, not_done

    what = "gram_matrix"
    if fn is None or fn is Ellipsis:
        return not_done(what, "Replace the ... with your function gram_matrix(features).")
    g = torch.Generator().manual_seed(1)
    cases = [torch.randn(1, 3, 4, 5, generator=g), torch.randn(2, 8, 6, 6, generator=g),
             torch.rand(1, 16, 7, 3, generator=g)]
    for i, f in enumerate(cases):
        try:
            got = fn(f.clone())
        except NotImplementedError:
            return not_done(what, "It still raises NotImplementedError: write the code first.")
        except Exception as err:
            return _report(False, what, f"It raised {type(err).__name__}: {err}")
        if got is None or got is Ellipsis:
            return not_done(what, "Replace the ... and return the Gram matrices: flatten H and W, then F @ F^T / (H W).")
        n, c, h, w = f.shape
        want = torch.einsum("nik,njk->nij", f.reshape(n, c, -1), f.reshape(n, c, -1)) / (h * w)
        if not isinstance(got, torch.Tensor) or tuple(got.shape) != (n, c, c):
            shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            return _report(False, what, f"Case {i}: features {tuple(f.shape)} should give shape {(n, c, c)}, "
                                        f"got {shape}. Flatten H and W into one axis of positions first.")
        if torch.allclose(got, want * h * w, rtol=1e-4, atol=1e-5):
            return _report(False, what, "Almost: divide by the number of positions H * W.")
        if not torch.allclose(got, want, rtol=1e-4, atol=1e-5):
            return _report(False, what, f"Case {i} differs (largest difference {(got - want).abs().max():.3g}). "
                                        "G[i, j] sums channel i times channel j over all positions.")
    return _report(True, what)
