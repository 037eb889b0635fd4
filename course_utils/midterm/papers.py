"""The 11 papers of the mid-term (slides S3), the kit's model for each, and the table that compares them."""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

import torch

from ..models import build_cifar_model, count_macs, count_params

__all__ = ["Paper", "PAPERS", "BASELINE", "SPEED_REFERENCES", "paper_of", "resolve_model", "model_table", "format_table",
           "assign_papers"]


@dataclass(frozen=True)
class Paper:
    """One paper of the list: its number and week, the kit's model for it, and the numbers worth comparing."""

    number: int
    name: str
    week: int
    title: str
    authors: str
    year: int
    model: str                 # the kit's default model (a name in CIFAR_MODELS)
    alternatives: tuple        # other kit models for the same paper
    paper_says: str            # the paper's own ImageNet figures ("" where it states none)
    imagenet: str              # the full-size network our counter measures beside it
    reference: str             # a public CIFAR implementation and its parameter count, if there is one
    cifar_anchor: str          # a published CIFAR-10 accuracy of a public implementation, if there is one


PAPERS: list[Paper] = [
    Paper(1, "VGG", 6, "Very Deep Convolutional Networks for Large-Scale Image Recognition",
          "Simonyan & Zisserman", 2014, "vgg16", ("vgg11",), "VGG-16: 138M parameters",
          "torchvision vgg16", "kuangliu VGG16: 14,728,266", "92.64% (kuangliu, VGG16)"),
    Paper(2, "MobileNet", 6, "MobileNets: Efficient CNNs for Mobile Vision Applications",
          "Howard et al.", 2017, "mobilenet", (), "1.0 MobileNet-224: 4.2M parameters, 569M mult-adds",
          "course_utils mobilenet_v1", "kuangliu MobileNet: 3,217,226", "none published (94.43% is MobileNetV2)"),
    Paper(3, "ResNet", 6, "Deep Residual Learning for Image Recognition", "He, Zhang, Ren & Sun", 2015,
          "resnet18", ("resnet20", "resnet56", "resnet164"), "ResNet-18: 1.8G FLOPs (mult-adds)",
          "torchvision resnet18", "kuangliu ResNet18: 11,173,962", "93.02% (kuangliu, ResNet18)"),
    Paper(4, "ShuffleNet", 6, "ShuffleNet: An Extremely Efficient CNN for Mobile Devices",
          "Zhang, Zhou, Lin & Sun", 2017, "shufflenet_g3", ("shufflenet_g8",), "ShuffleNet 1x (g=3): 140M FLOPs",
          "course_utils shufflenet (g=3)", "kuangliu ShuffleNetG3: 862,768", "none published"),
    Paper(5, "GoogLeNet", 6, "Going Deeper with Convolutions", "Szegedy et al.", 2014, "googlenet", (),
          "1.5G mult-adds", "torchvision googlenet", "huyvnphan googlenet: 5,490,986",
          "92.85% (huyvnphan, googlenet)"),
    Paper(6, "Inception-v3", 6, "Rethinking the Inception Architecture for Computer Vision", "Szegedy et al.",
          2016, "inception_v3", (), "5G mult-adds, under 25M parameters", "course_utils inception_v3 (299)",
          "huyvnphan inception_v3: 21,638,954", "93.74% (huyvnphan, inception_v3)"),
    Paper(7, "Inception-v4", 6, "Inception-v4, Inception-ResNet and the Impact of Residual Connections",
          "Szegedy, Ioffe, Vanhoucke & Alemi", 2017, "inception_v4", (), "—", "course_utils inception_v4 (299)",
          "", "none published"),
    Paper(8, "Xception", 7, "Xception: Deep Learning with Depthwise Separable Convolutions", "Chollet", 2017,
          "xception", (), "22,855,952 parameters", "course_utils xception (299)", "", "none published"),
    Paper(9, "ResNeXt", 7, "Aggregated Residual Transformations for Deep Neural Networks", "Xie et al.", 2017,
          "resnext29_32x4d", ("resnext29_8x64d",), "ResNeXt-50 (32x4d): 25.0M parameters, 4.2G FLOPs",
          "torchvision resnext50_32x4d", "kuangliu ResNeXt29_32x4d: 4,774,218", "94.73% (kuangliu, 32x4d)"),
    Paper(10, "DenseNet", 7, "Densely Connected Convolutional Networks", "Huang, Liu, van der Maaten & Weinberger",
          2017, "densenet121", ("densenet_bc100", "densenet40"), "—",
          "torchvision densenet121", "kuangliu DenseNet121: 6,956,298", "95.04% (kuangliu, DenseNet121)"),
    Paper(11, "EfficientNet", 7, "EfficientNet: Rethinking Model Scaling for CNNs", "Tan & Le", 2019,
          "efficientnet_b0", (), "B0: 5.3M parameters, 0.39B FLOPs", "torchvision efficientnet_b0",
          "kuangliu EfficientNetB0: 3,599,686", "none published"),
]

#: Published times to 94% CIFAR-10 test accuracy (the authors' own measurements, not ours): (who, seconds, GPU).
SPEED_REFERENCES: list[tuple[str, float, str]] = [
    ("DAWNBench state of the art at the end of the competition (one GPU)", 341.0, "V100"),
    ("Page, How to train your ResNet 1: baseline, data loading fixed", 297.0, "V100"),
    ("Page 2: larger mini-batches", 256.0, "V100"),
    ("Page 3: regularisation, a speed bump removed", 154.0, "V100"),
    ("Page 4: the 9-layer ResNet (ResNet-9)", 79.0, "V100"),
    ("airbench94 (Keller Jordan): 94.01%", 3.83, "A100"),
]

#: The slides' Keras CNN of notebook 01 (315,722 parameters): every submission must beat it.
BASELINE = "slides_cnn"

_ALIASES = {p.name.lower().replace("-", "_"): p for p in PAPERS} | {"resnext": PAPERS[8], "inception_v3": PAPERS[5]}


def paper_of(model: str) -> Paper | None:
    """The paper a kit model name (or a paper name such as "resnet") belongs to, or None (e.g. the baseline)."""
    key = model.lower().replace("-", "_")
    if key in _ALIASES:
        return _ALIASES[key]
    return next((p for p in PAPERS if key == p.model or key in p.alternatives), None)


def resolve_model(name: str) -> str:
    """A model name for build_cifar_model: a paper's name ("resnet", "Inception-v4") gives that paper's default."""
    key = name.lower().replace("-", "_")
    return _ALIASES[key].model if key in _ALIASES else key


def _imagenet_counts(paper: Paper) -> tuple[int, int]:
    """Parameters and MACs of the full-size network named in paper.imagenet, counted on the meta device."""
    import torchvision

    from .. import models, zoo

    builders = {
        "vgg16": lambda: torchvision.models.vgg16(), "mobilenet_v1": models.mobilenet_v1,
        "resnet18": lambda: torchvision.models.resnet18(), "shufflenet (g=3)": lambda: zoo.shufflenet_cifar(1000, imagenet=True),
        "googlenet": lambda: torchvision.models.googlenet(aux_logits=False, init_weights=False),
        "inception_v3 (299)": lambda: zoo.inception_v3_cifar(1000, imagenet=True),
        "inception_v4 (299)": lambda: zoo.inception_v4_cifar(1000, imagenet=True),
        "xception (299)": lambda: zoo.xception_cifar(1000, imagenet=True),
        "resnext50_32x4d": lambda: torchvision.models.resnext50_32x4d(),
        "densenet121": lambda: torchvision.models.densenet121(),
        "efficientnet_b0": lambda: torchvision.models.efficientnet_b0(),
    }
    key = paper.imagenet.split(" ", 1)[1]
    with torch.device("meta"):
        model = builders[key]()
    size = 299 if "299" in key else 224
    return count_params(model), count_macs(model, (1, 3, size, size))


def model_table(imagenet: bool = True) -> list[dict]:
    """One row per paper (and the baseline first): the kit model's parameters, MACs and forward shape at 32x32,
    beside the paper's ImageNet figures (and, with imagenet=True, the full-size network counted here)."""
    rows = []
    for paper in [None] + PAPERS:
        name = paper.model if paper else BASELINE
        with torch.device("meta"):  # shapes only: instant, no memory
            model = build_cifar_model(name)
            out = model(torch.empty(2, 3, 32, 32))
        row = {"#": paper.number if paper else 0, "paper": paper.name if paper else "baseline (slides' CNN)",
               "model": name, "params": count_params(model), "macs": count_macs(model),
               "forward": f"(2, 3, 32, 32) -> {tuple(out.shape)}",
               "paper_says": paper.paper_says if paper else "notebook 01: 315,722 parameters",
               "reference": paper.reference if paper else "", "anchor": paper.cifar_anchor if paper else ""}
        if imagenet and paper:
            row["imagenet_params"], row["imagenet_macs"] = _imagenet_counts(paper)
        rows.append(row)
    return rows


def _short(n: float) -> str:
    """12,345,678 -> '12.35M'; 4,200 -> '4.2k'."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.3g}{unit}" if n / size < 100 else f"{n / size:.0f}{unit}"
    return str(int(n))


def format_table(rows: list[dict]) -> str:
    """The model table as aligned text (what the notebook and `python -m course_utils.midterm models` print)."""
    cols = [("#", 2), ("paper", 22), ("model", 16), ("params", 11), ("MACs", 8), ("forward", 29)]
    with_imagenet = "imagenet_params" in rows[-1]
    if with_imagenet:
        cols += [("ImageNet params / MACs (counted)", 33)]
    cols += [("the paper says", 0)]
    lines = ["  ".join(f"{c:<{w}}" if w else c for c, w in cols)]
    for r in rows:
        cells = [str(r["#"] or "-"), r["paper"], r["model"], f"{r['params']:,}", _short(r["macs"]), r["forward"]]
        if with_imagenet:
            cells.append(f"{r['imagenet_params']:,} / {_short(r['imagenet_macs'])}" if "imagenet_params" in r else "")
        cells.append(r["paper_says"])
        lines.append("  ".join(f"{c:<{w}}" if w else c for c, (_, w) in zip(cells, cols)))
    return "\n".join(lines)


def assign_papers(choices: dict[str, str], seed: int = 0, max_per_paper: int | None = None) -> dict[str, str]:
    """Student -> paper. Everyone keeps their choice while the paper has room (at most ceil(students / 11) each,
    or max_per_paper); the others, drawn at random, get a random paper that still has room (slides S3)."""
    names = {p.name.lower(): p.name for p in PAPERS}
    for student, choice in choices.items():
        if not isinstance(choice, str) or choice.lower() not in names:
            raise ValueError(f"{student!r} chose {choice!r}: choose one of {[p.name for p in PAPERS]}")
    cap = max_per_paper or math.ceil(len(choices) / len(PAPERS))
    rng = random.Random(seed)
    order = sorted(choices)
    rng.shuffle(order)  # who keeps a crowded paper is decided by lot, not by the order of the form
    counts = {p.name: 0 for p in PAPERS}
    result, moved = {}, []
    for student in order:
        paper = names[choices[student].lower()]
        if counts[paper] < cap:
            result[student], counts[paper] = paper, counts[paper] + 1
        else:
            moved.append(student)
    for student in moved:
        free = [p for p, n in counts.items() if n < cap]
        if not free:
            raise ValueError(f"max_per_paper={cap} leaves no room for {len(moved)} students: raise it")
        paper = rng.choice(free)
        result[student], counts[paper] = paper, counts[paper] + 1
    return dict(sorted(result.items()))
