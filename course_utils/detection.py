"""Object detection's building blocks from scratch, each one checkable against torchvision.

Boxes are float tensors (k, 4). "xyxy" = (x1, y1, x2, y2) corners (torchvision's default), "cxcywh" =
(centre x, centre y, width, height) as in the slides' P = (Px, Py, Pw, Ph), "xywh" = COCO (x1, y1, w, h).

    sliding_windows(image_size, window, stride)        how many windows a sliding-window detector classifies
    box_area, box_iou, box_convert                      vs torchvision.ops.box_area / box_iou / box_convert
    encode(gt, proposals), decode(proposals, deltas)    the slides' box regression: G = (Pw dx + Px, ..., Pw exp(dw), ...)
    nms(boxes, scores, iou_threshold, score_threshold)  the slides' three steps, vs torchvision.ops.nms
    batched_nms(boxes, scores, labels, iou_threshold)   NMS per class, vs torchvision.ops.batched_nms
    anchor_shapes(sizes, ratios)                        the (width, height) table of the k = len(sizes) x len(ratios) anchors
    grid_anchors(feature_size, stride, sizes, ratios)   every anchor over an image, in AnchorGenerator's order
    match_anchors(anchors, gt, high, low)               RPN labels 1 / 0 / -1 (object / background / ignored)
    roi_pool(features, boxes, output_size, scale)       Fast R-CNN's RoI max pooling (coordinates rounded)
    roi_align(features, boxes, output_size, scale, sampling_ratio)   Mask R-CNN's RoI Align (bilinear, no rounding)
    yolo_output_size(S, B, C), yolo_encode, yolo_loss, yolo_decode   YOLO v1's grid, targets and loss

Anchor ratios here are width / height, as in the slides; torchvision's `aspect_ratios` are height / width,
so the slides' ratio r is torchvision's 1 / r.
"""
from __future__ import annotations

import math

import torch

__all__ = ["sliding_windows", "box_area", "box_iou", "box_convert", "encode", "decode", "nms", "batched_nms",
           "anchor_shapes", "grid_anchors", "torchvision_ratios", "match_anchors", "roi_pool", "roi_align",
           "yolo_output_size", "yolo_encode", "yolo_loss", "yolo_decode", "check_iou", "check_decode"]


# ---------------------------------------------------------------- sliding windows
def sliding_windows(image_size: int | tuple[int, int], window: int, stride: int) -> int:
    """Number of window positions of a square `window` moved by `stride` over an image (H, W)."""
    h, w = (image_size, image_size) if isinstance(image_size, int) else image_size
    if window > min(h, w) or stride < 1:
        raise ValueError(f"window ({window}) must fit in the image {h}x{w} and stride ({stride}) must be >= 1")
    return ((h - window) // stride + 1) * ((w - window) // stride + 1)


# ---------------------------------------------------------------- boxes
def _check_boxes(boxes: torch.Tensor, name: str = "boxes") -> torch.Tensor:
    """A (k, 4) float tensor, or a clear error."""
    boxes = torch.as_tensor(boxes, dtype=torch.float32) if not isinstance(boxes, torch.Tensor) else boxes
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{name} must have shape (k, 4), got {tuple(boxes.shape)}: use boxes.reshape(-1, 4)")
    return boxes


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """Area (x2 - x1) * (y2 - y1) of each xyxy box."""
    boxes = _check_boxes(boxes)
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU = area of overlap / area of union, for every pair: (len(a), len(b))."""
    a, b = _check_boxes(a, "a"), _check_boxes(b, "b")
    left_top = torch.maximum(a[:, None, :2], b[None, :, :2])      # corners of the overlap
    right_bottom = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = (right_bottom - left_top).clamp(min=0)                    # no overlap -> width or height 0
    overlap = wh[..., 0] * wh[..., 1]
    union = box_area(a)[:, None] + box_area(b)[None, :] - overlap
    return overlap / union


def box_convert(boxes: torch.Tensor, in_fmt: str, out_fmt: str) -> torch.Tensor:
    """Convert between "xyxy", "xywh" and "cxcywh" (torchvision's names)."""
    boxes = _check_boxes(boxes)
    formats = ("xyxy", "xywh", "cxcywh")
    if in_fmt not in formats or out_fmt not in formats:
        raise ValueError(f"in_fmt and out_fmt must be among {formats}, got {in_fmt!r} and {out_fmt!r}")
    a, b, c, d = boxes.unbind(1)
    if in_fmt == "xywh":
        a, b, c, d = a, b, a + c, b + d
    elif in_fmt == "cxcywh":
        a, b, c, d = a - c / 2, b - d / 2, a + c / 2, b + d / 2
    # now (a, b, c, d) = (x1, y1, x2, y2)
    if out_fmt == "xywh":
        return torch.stack([a, b, c - a, d - b], 1)
    if out_fmt == "cxcywh":
        return torch.stack([(a + c) / 2, (b + d) / 2, c - a, d - b], 1)
    return torch.stack([a, b, c, d], 1)


# ---------------------------------------------------------------- box regression
def encode(gt: torch.Tensor, proposals: torch.Tensor) -> torch.Tensor:
    """Regression targets t = ((Gx-Px)/Pw, (Gy-Py)/Ph, log(Gw/Pw), log(Gh/Ph)); boxes in cxcywh."""
    gt, p = _check_boxes(gt, "gt"), _check_boxes(proposals, "proposals")
    return torch.stack([(gt[:, 0] - p[:, 0]) / p[:, 2], (gt[:, 1] - p[:, 1]) / p[:, 3],
                        torch.log(gt[:, 2] / p[:, 2]), torch.log(gt[:, 3] / p[:, 3])], 1)


def decode(proposals: torch.Tensor, deltas: torch.Tensor) -> torch.Tensor:
    """The slides' G^ = (Pw dx + Px, Ph dy + Py, Pw exp(dw), Ph exp(dh)); boxes in cxcywh."""
    p, d = _check_boxes(proposals, "proposals"), _check_boxes(deltas, "deltas")
    return torch.stack([p[:, 2] * d[:, 0] + p[:, 0], p[:, 3] * d[:, 1] + p[:, 1],
                        p[:, 2] * torch.exp(d[:, 2]), p[:, 3] * torch.exp(d[:, 3])], 1)


# ---------------------------------------------------------------- non-maximum suppression
def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float = 0.5,
        score_threshold: float | None = None) -> torch.Tensor:
    """Indices of the boxes kept, highest score first (the boxes are of one class)."""
    boxes = _check_boxes(boxes)
    # 1. sort all boxes by confidence score
    order = torch.argsort(scores, descending=True, stable=True)
    # 2. discard the boxes with a low confidence score
    if score_threshold is not None:
        order = order[scores[order] >= score_threshold]
    # 3. while boxes remain: keep the best one, skip the rest that overlap it by IoU > iou_threshold
    keep = []
    while len(order) > 0:
        best = order[0]
        keep.append(int(best))
        ious = box_iou(boxes[best][None], boxes[order[1:]])[0]
        order = order[1:][ious <= iou_threshold]
    return torch.tensor(keep, dtype=torch.int64)


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor,
                iou_threshold: float = 0.5) -> torch.Tensor:
    """NMS separately for each class; indices kept, sorted by decreasing score."""
    keep = [torch.nonzero(labels == c).flatten()[nms(boxes[labels == c], scores[labels == c], iou_threshold)]
            for c in torch.unique(labels)]
    keep = torch.cat(keep) if keep else torch.zeros(0, dtype=torch.int64)
    return keep[torch.argsort(scores[keep], descending=True, stable=True)]


# ---------------------------------------------------------------- anchors
def anchor_shapes(sizes=(64, 128, 256), ratios=(0.5, 1.0, 1.5)) -> torch.Tensor:
    """(width, height) of each anchor: area = size^2 and width / height = ratio; rows size-major."""
    rows = [(s * math.sqrt(r), s / math.sqrt(r)) for s in sizes for r in ratios]
    return torch.tensor(rows, dtype=torch.float32)


def torchvision_ratios(ratios) -> tuple[float, ...]:
    """The slides' width/height ratios as torchvision's AnchorGenerator aspect_ratios (height/width)."""
    return tuple(1.0 / r for r in ratios)


def grid_anchors(feature_size: tuple[int, int], stride: int, sizes=(64, 128, 256),
                 ratios=(0.5, 1.0, 1.5)) -> torch.Tensor:
    """All anchors (H*W*k, 4) xyxy: k anchors centred on the top-left corner of each feature-map cell,
    in AnchorGenerator's order (rows, then columns, then ratio-major anchors) and with its rounding."""
    shapes = [(s * math.sqrt(r), s / math.sqrt(r)) for r in ratios for s in sizes]  # torchvision: ratio-major
    base = torch.tensor([[-w / 2, -h / 2, w / 2, h / 2] for w, h in shapes]).round()
    rows = []
    for y in range(feature_size[0]):
        for x in range(feature_size[1]):
            shift = torch.tensor([x * stride, y * stride, x * stride, y * stride], dtype=torch.float32)
            rows.append(base + shift)
    return torch.cat(rows)


def match_anchors(anchors: torch.Tensor, gt: torch.Tensor, high: float = 0.7,
                  low: float = 0.3) -> tuple[torch.Tensor, torch.Tensor]:
    """(labels, matched): 1 = object (IoU >= high, or the best anchor of some box), 0 = background
    (IoU < low), -1 = ignored; matched[i] = the ground-truth box anchor i is matched to."""
    iou = box_iou(gt, anchors)                       # (n_gt, n_anchors)
    best_iou, matched = iou.max(dim=0)
    labels = torch.full((len(anchors),), -1, dtype=torch.int64)
    labels[best_iou < low] = 0
    labels[best_iou >= high] = 1
    # every ground-truth box gets its best anchor(s), even below `high` (Faster R-CNN's low-quality matches)
    best_per_gt = iou.max(dim=1, keepdim=True).values
    _, anchor_idx = torch.nonzero((iou == best_per_gt) & (best_per_gt > 0), as_tuple=True)
    labels[anchor_idx] = 1  # (it stays matched to the box it overlaps most, as in torchvision's Matcher)
    return labels, matched


# ---------------------------------------------------------------- RoI pooling
def _round(v: float) -> int:
    """Round half away from zero (C's round; Python's round() sends 6.5 to 6)."""
    return int(math.copysign(math.floor(abs(v) + 0.5), v))


def roi_pool(features: torch.Tensor, boxes: torch.Tensor, output_size: int = 2,
             spatial_scale: float = 1.0) -> torch.Tensor:
    """RoI max pooling of (C, H, W) features over xyxy boxes (image coordinates) -> (k, C, out, out).
    The box is rounded to whole feature cells, then cut into out x out bins with floor / ceil edges."""
    C, H, W = features.shape
    out = torch.zeros(len(boxes), C, output_size, output_size)
    for k, box in enumerate(boxes):
        x1, y1, x2, y2 = (_round(float(v) * spatial_scale) for v in box)  # the quantisation step
        bin_h, bin_w = max(y2 - y1 + 1, 1) / output_size, max(x2 - x1 + 1, 1) / output_size
        for i in range(output_size):
            for j in range(output_size):
                ys = min(max(math.floor(i * bin_h) + y1, 0), H), min(max(math.ceil((i + 1) * bin_h) + y1, 0), H)
                xs = min(max(math.floor(j * bin_w) + x1, 0), W), min(max(math.ceil((j + 1) * bin_w) + x1, 0), W)
                if ys[1] > ys[0] and xs[1] > xs[0]:
                    out[k, :, i, j] = features[:, ys[0]:ys[1], xs[0]:xs[1]].amax(dim=(1, 2))
    return out


def _bilinear(features: torch.Tensor, y: float, x: float) -> torch.Tensor:
    """Features (C, H, W) at the fractional point (y, x), by bilinear interpolation (0 far outside)."""
    C, H, W = features.shape
    if y < -1 or y > H or x < -1 or x > W:
        return torch.zeros(C)
    y, x = max(y, 0.0), max(x, 0.0)
    y0, x0 = int(y), int(x)
    if y0 >= H - 1:
        y0 = y1 = H - 1
        y = float(y0)
    else:
        y1 = y0 + 1
    if x0 >= W - 1:
        x0 = x1 = W - 1
        x = float(x0)
    else:
        x1 = x0 + 1
    ly, lx = y - y0, x - x0
    return ((1 - ly) * (1 - lx) * features[:, y0, x0] + (1 - ly) * lx * features[:, y0, x1]
            + ly * (1 - lx) * features[:, y1, x0] + ly * lx * features[:, y1, x1])


def roi_align(features: torch.Tensor, boxes: torch.Tensor, output_size: int = 2, spatial_scale: float = 1.0,
              sampling_ratio: int = 2, aligned: bool = False) -> torch.Tensor:
    """RoI Align of (C, H, W) features: no rounding; each bin averages sampling_ratio^2 bilinear samples."""
    C = features.shape[0]
    out = torch.zeros(len(boxes), C, output_size, output_size)
    offset = 0.5 if aligned else 0.0
    for k, box in enumerate(boxes):
        x1, y1, x2, y2 = (float(v) * spatial_scale - offset for v in box)
        w, h = (x2 - x1, y2 - y1) if aligned else (max(x2 - x1, 1.0), max(y2 - y1, 1.0))
        bin_h, bin_w = h / output_size, w / output_size
        for i in range(output_size):
            for j in range(output_size):
                acc = torch.zeros(C)
                for a in range(sampling_ratio):
                    for b in range(sampling_ratio):
                        y = y1 + i * bin_h + (a + 0.5) * bin_h / sampling_ratio
                        x = x1 + j * bin_w + (b + 0.5) * bin_w / sampling_ratio
                        acc += _bilinear(features, y, x)
                out[k, :, i, j] = acc / sampling_ratio ** 2
    return out


# ---------------------------------------------------------------- YOLO v1
def yolo_output_size(S: int = 7, B: int = 2, C: int = 20) -> int:
    """Number of outputs of YOLO v1: S x S x (B*5 + C) (7 x 7 x 30 = 1,470 in the paper)."""
    return S * S * (B * 5 + C)


def yolo_encode(boxes: torch.Tensor, labels: torch.Tensor, S: int, B: int, C: int,
                image_size: int) -> torch.Tensor:
    """Targets (S, S, B*5 + C) of one image: the cell holding a box's centre gets, in each of its B slots,
    (x, y) = the centre's offset in the cell, (w, h) relative to the image, confidence 1, and the one-hot
    class (labels are 0..C-1). One object per cell: when two centres share a cell, the larger box wins."""
    boxes = _check_boxes(boxes)
    target = torch.zeros(S, S, B * 5 + C)
    cell = image_size / S
    for k in torch.argsort(box_area(boxes)).tolist():  # small first, so the largest is written last
        x1, y1, x2, y2 = boxes[k].tolist()
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        col, row = min(int(cx // cell), S - 1), min(int(cy // cell), S - 1)
        slot = torch.tensor([cx / cell - col, cy / cell - row, (x2 - x1) / image_size, (y2 - y1) / image_size, 1.0])
        target[row, col, :B * 5] = slot.repeat(B)
        target[row, col, B * 5:] = 0
        target[row, col, B * 5 + int(labels[k])] = 1
    return target


def _cell_boxes_xyxy(t: torch.Tensor, S: int, sqrt_wh: bool) -> torch.Tensor:
    """(..., S, S, 4) cell-relative (x, y, w, h) -> xyxy boxes in image units (0..1)."""
    rows = torch.arange(S, dtype=t.dtype, device=t.device).view(S, 1)
    cols = torch.arange(S, dtype=t.dtype, device=t.device).view(1, S)
    cx, cy = (t[..., 0] + cols) / S, (t[..., 1] + rows) / S
    w, h = (t[..., 2] ** 2, t[..., 3] ** 2) if sqrt_wh else (t[..., 2], t[..., 3])
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)


def _pairwise_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Elementwise IoU of two box tensors (..., 4) of the same shape."""
    lt, rb = torch.maximum(a[..., :2], b[..., :2]), torch.minimum(a[..., 2:], b[..., 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area = lambda x: (x[..., 2] - x[..., 0]).clamp(min=0) * (x[..., 3] - x[..., 1]).clamp(min=0)  # noqa: E731
    return inter / (area(a) + area(b) - inter + 1e-9)


def yolo_loss(pred: torch.Tensor, target: torch.Tensor, B: int, C: int, lambda_coord: float = 5.0,
              lambda_noobj: float = 0.5) -> dict[str, torch.Tensor]:
    """The YOLO v1 loss (sum of squared errors, per image), as a dict of its five terms and "loss".

    pred (N, S, S, B*5 + C): per box x, y, sqrt(w), sqrt(h), confidence; then class probabilities.
    target: yolo_encode's layout (w and h plain; the loss takes their square root).
    In a cell with an object, the predicted box with the highest IoU is "responsible": it gets the
    coordinate terms and confidence target = that IoU; every other box gets the no-object term.
    """
    if pred.shape != target.shape or pred.shape[-1] != B * 5 + C:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} must both be "
                         f"(N, S, S, B*5 + C) = (N, S, S, {B * 5 + C})")
    N, S = pred.shape[0], pred.shape[1]
    p = pred[..., :B * 5].reshape(N, S, S, B, 5)
    t = target[..., :B * 5].reshape(N, S, S, B, 5)
    obj = target[..., 4] > 0                                              # (N, S, S): cell holds an object
    with torch.no_grad():
        iou = _pairwise_iou(_cell_boxes_xyxy(p[..., :4].movedim(3, 0), S, True),
                            _cell_boxes_xyxy(t[..., :4].movedim(3, 0), S, False)).movedim(0, 3)  # (N, S, S, B)
        best = iou.argmax(-1, keepdim=True)
        responsible = torch.zeros_like(iou, dtype=torch.bool).scatter_(-1, best, True) & obj[..., None]
    r = responsible.float()
    xy = ((p[..., 0] - t[..., 0]) ** 2 + (p[..., 1] - t[..., 1]) ** 2) * r
    wh = ((p[..., 2] - t[..., 2].sqrt()) ** 2 + (p[..., 3] - t[..., 3].sqrt()) ** 2) * r
    conf_obj = (p[..., 4] - iou) ** 2 * r
    conf_noobj = p[..., 4] ** 2 * (1 - r)
    classes = ((pred[..., B * 5:] - target[..., B * 5:]) ** 2).sum(-1) * obj.float()
    terms = {"loss_xy": lambda_coord * xy.sum() / N, "loss_wh": lambda_coord * wh.sum() / N,
             "loss_obj": conf_obj.sum() / N, "loss_noobj": lambda_noobj * conf_noobj.sum() / N,
             "loss_class": classes.sum() / N}
    return {**terms, "loss": sum(terms.values())}


def yolo_decode(out: torch.Tensor, B: int, C: int, image_size: int, score_thresh: float = 0.01,
                iou_thresh: float = 0.5) -> dict[str, torch.Tensor]:
    """One image's (S, S, B*5 + C) output -> {"boxes" xyxy pixels, "scores", "labels" 1..C} after NMS.
    Score = confidence x class probability of the cell's most likely class."""
    from torchvision.ops import batched_nms as tv_batched_nms

    S = out.shape[0]
    p = out[..., :B * 5].reshape(S, S, B, 5)
    boxes = _cell_boxes_xyxy(p[..., :4].movedim(2, 0), S, True).movedim(0, 2).reshape(-1, 4) * image_size
    prob, cls = out[..., B * 5:].max(-1)                                          # (S, S)
    scores = (p[..., 4] * prob[..., None]).reshape(-1)
    labels = cls[..., None].expand(S, S, B).reshape(-1) + 1
    keep = scores >= score_thresh
    boxes, scores, labels = boxes[keep].clamp(0, image_size), scores[keep], labels[keep]
    keep = tv_batched_nms(boxes, scores, labels, iou_thresh)
    return {"boxes": boxes[keep], "scores": scores[keep], "labels": labels[keep]}


# ---------------------------------------------------------------- exercise checks
def _try(fn, *args):
    """fn(*args), or (None, a hint) when it is not written yet or fails."""
    try:
        out = fn(*args)
    except NotImplementedError:
        return None, "It still raises NotImplementedError: write the code first."
    except Exception as err:  # show the student's own error briefly
        return None, f"It raised {type(err).__name__}: {err}"
    if out is None or out is Ellipsis:
        return None, "Replace the ... with your code and return the result."
    return out, ""


def check_iou(fn) -> bool:
    """Exercise check: fn(a, b) -> IoU of two boxes (x1, y1, x2, y2) given as lists, a float."""
    from .checks import _report, is_unsolved, not_done

    if is_unsolved(fn):
        return not_done("your IoU", "Write the function, then pass it (not its result) to the check.")
    cases = [([0, 0, 2, 2], [1, 1, 3, 3]), ([0, 0, 10, 10], [0, 0, 10, 10]), ([0, 0, 1, 1], [2, 2, 3, 3]),
             ([0, 0, 4, 2], [1, -1, 3, 5]), ([10, 20, 40, 60], [25, 30, 70, 50])]
    for a, b in cases:
        got, hint = _try(fn, a, b)
        if got is None:
            return not_done("your IoU", hint) if hint.startswith("Replace") else _report(False, "your IoU", hint)
        want = float(box_iou(torch.tensor([a], dtype=torch.float32), torch.tensor([b], dtype=torch.float32)))
        if not math.isclose(float(got), want, rel_tol=1e-5, abs_tol=1e-7):
            return _report(False, "your IoU", f"IoU({a}, {b}) should be {want:.4f}, got {float(got):.4f}. "
                                              "Overlap width = max(0, min(x2) - max(x1)); union = areas - overlap.")
    return _report(True, "your IoU")


def check_decode(fn) -> bool:
    """Exercise check: fn(P, d) -> G^ = (Px + Pw dx, Py + Ph dy, Pw exp(dw), Ph exp(dh)) as 4 numbers."""
    from .checks import _report, is_unsolved, not_done

    if is_unsolved(fn):
        return not_done("your decode", "Write the function, then pass it (not its result) to the check.")
    cases = [((50, 50, 20, 40), (0.1, -0.2, math.log(2), 0.0)), ((10, 20, 30, 40), (0.0, 0.0, 0.0, 0.0)),
             ((100, 80, 64, 32), (-0.5, 0.25, -math.log(2), math.log(3)))]
    for p, d in cases:
        got, hint = _try(fn, p, d)
        if got is None:
            return not_done("your decode", hint) if hint.startswith("Replace") else _report(False, "your decode", hint)
        want = decode(torch.tensor([p], dtype=torch.float32), torch.tensor([d], dtype=torch.float32))[0]
        got = torch.as_tensor([float(v) for v in got])
        if got.shape != (4,) or not torch.allclose(got, want, atol=1e-4):
            return _report(False, "your decode", f"decode({p}, {d}) should be {[round(v, 3) for v in want.tolist()]}, "
                                                 f"got {[round(v, 3) for v in got.tolist()]}. Centre: P + P_size * d; "
                                                 "size: P_size * exp(d).")
    return _report(True, "your decode")
