"""Scoring a detector: precision-recall curves per class, AP, mAP@0.5 and COCO mAP@[0.5:0.95], error kinds.

Predictions and ground truth are lists (one entry per image) of dicts of tensors in torchvision's format:
pred {"boxes" (k, 4) xyxy, "scores" (k,), "labels" (k,)}, target {"boxes", "labels"}.

    match_image(pred, target, label, iou_threshold)   one image, one class: COCO's greedy matching
    pr_curve(preds, targets, label, iou_threshold)     precision and recall over the ranked detections
    average_precision(precision, recall)               COCO's 101-point interpolated AP
    evaluate(preds, targets, num_classes)              AP per class and IoU threshold, mAP@0.5, mAP@0.75, COCO mAP
    torchmetrics_map(preds, targets)                   the same figures from torchmetrics (pycocotools backend)
    pycocotools_map(preds, targets, num_classes)       the same figures from pycocotools' COCOeval directly
    apply_nms(preds, iou_threshold, score_threshold)   re-run per-class NMS on raw predictions
    error_kinds(preds, targets, score_threshold)       correct / duplicate / wrong class / poor box / background / missed
    operating_point(preds, targets, score_threshold)   precision, recall and F1 of the detections kept

The matching follows pycocotools exactly (detections by decreasing score, stable on ties, each one takes
the unmatched ground-truth box of its class with the highest IoU >= threshold, at most 100 detections per
image and class), so `evaluate` gives pycocotools' numbers. torchmetrics' MeanAveragePrecision (pycocotools
backend) can differ in the third decimal when detections tie in score: it hands them over in another order.
A detection PR curve is notebook 02's PR curve over the ranked detections (TP = matched), except that
recall divides by the number of ground-truth boxes: objects that no detection found never get a score.
"""
from __future__ import annotations

import numpy as np
import torch

from .detection import batched_nms, box_iou

__all__ = ["COCO_IOUS", "match_image", "pr_curve", "average_precision", "evaluate", "torchmetrics_map", "pycocotools_map",
           "apply_nms", "error_kinds", "operating_point"]

COCO_IOUS = np.round(np.arange(0.5, 0.951, 0.05), 2)  # 0.50, 0.55, ..., 0.95
RECALL_POINTS = np.linspace(0, 1, 101)
MAX_DETS = 100


def _class_view(d: dict, label: int, with_scores: bool):
    """The boxes (and scores) of one class in one image's dict."""
    keep = d["labels"] == label
    boxes = d["boxes"][keep].reshape(-1, 4).float()
    return (boxes, d["scores"][keep].float()) if with_scores else boxes


def match_image(pred: dict, target: dict, label: int, iou_threshold: float = 0.5,
                max_dets: int = MAX_DETS) -> tuple[np.ndarray, np.ndarray, int]:
    """(scores, is_tp, n_gt) for one class in one image: detections by decreasing score, each matched
    greedily to the not-yet-matched ground-truth box with the highest IoU >= iou_threshold."""
    boxes, scores = _class_view(pred, label, True)
    gt = _class_view(target, label, False)
    order = torch.argsort(scores, descending=True, stable=True)[:max_dets]
    boxes, scores = boxes[order], scores[order]
    is_tp = np.zeros(len(boxes), bool)
    if len(gt) and len(boxes):
        iou = box_iou(boxes, gt).numpy()
        taken = np.zeros(len(gt), bool)
        for d in range(len(boxes)):
            best, best_iou = -1, min(iou_threshold, 1 - 1e-10)
            for g in range(len(gt)):
                if taken[g] or iou[d, g] < best_iou:
                    continue
                best, best_iou = g, iou[d, g]
            if best >= 0:
                taken[best], is_tp[d] = True, True
    return scores.numpy(), is_tp, len(gt)


def pr_curve(preds: list[dict], targets: list[dict], label: int, iou_threshold: float = 0.5
             ) -> dict[str, np.ndarray | int]:
    """Precision and recall after each detection of class `label`, ranked by score over all images."""
    _check_lists(preds, targets)
    scores, tps, n_gt = [], [], 0
    for p, t in zip(preds, targets):
        s, tp, n = match_image(p, t, label, iou_threshold)
        scores.append(s)
        tps.append(tp)
        n_gt += n
    scores, tps = np.concatenate(scores), np.concatenate(tps)
    order = np.argsort(-scores, kind="mergesort")  # stable: ties keep the image order, as pycocotools
    scores, tps = scores[order], tps[order]
    tp_cum, fp_cum = np.cumsum(tps), np.cumsum(~tps)
    recall = tp_cum / n_gt if n_gt else np.zeros(len(tps))
    precision = tp_cum / np.maximum(tp_cum + fp_cum, np.finfo(np.float64).eps)
    return {"precision": precision, "recall": recall, "scores": scores, "is_tp": tps, "n_gt": n_gt}


def average_precision(precision: np.ndarray, recall: np.ndarray) -> float:
    """COCO's AP: the precision made non-increasing (the best precision at any higher recall), read at the
    101 recalls 0, 0.01, ..., 1 (0 beyond the last recall reached), averaged."""
    if len(precision) == 0:
        return 0.0
    envelope = np.maximum.accumulate(np.asarray(precision, float)[::-1])[::-1]
    idx = np.searchsorted(recall, RECALL_POINTS, side="left")
    reached = idx < len(recall)
    return float(np.where(reached, envelope[np.minimum(idx, len(recall) - 1)], 0.0).mean())


def evaluate(preds: list[dict], targets: list[dict], num_classes: int,
             iou_thresholds=COCO_IOUS) -> dict:
    """AP for every class 1..num_classes-1 and IoU threshold; mAP@0.5, mAP@0.75 and COCO mAP@[.5:.95].
    A class absent from the ground truth gets AP = nan and is left out of the means (as in COCO)."""
    _check_lists(preds, targets)
    ious = np.asarray(iou_thresholds, float)
    ap = np.full((len(ious), num_classes - 1), np.nan)
    for c in range(1, num_classes):
        for i, thr in enumerate(ious):
            curve = pr_curve(preds, targets, c, float(thr))
            if curve["n_gt"] > 0:
                ap[i, c - 1] = average_precision(curve["precision"], curve["recall"])
    col = lambda t: int(np.argmin(np.abs(ious - t)))  # noqa: E731
    present = ~np.isnan(ap[0])
    mean = lambda row: float(np.nanmean(row)) if present.any() else float("nan")  # noqa: E731
    return {"ap": ap, "iou_thresholds": ious, "ap50_per_class": ap[col(0.5)],
            "map_50": mean(ap[col(0.5)]), "map_75": mean(ap[col(0.75)]) if np.isclose(ious, 0.75).any() else None,
            "map": float(np.nanmean(ap[:, present])) if present.any() else float("nan")}


def torchmetrics_map(preds: list[dict], targets: list[dict]) -> dict[str, float]:
    """mAP@0.5, mAP@0.75 and COCO mAP from torchmetrics' MeanAveragePrecision (pycocotools backend)."""
    from torchmetrics.detection import MeanAveragePrecision

    metric = MeanAveragePrecision(iou_type="bbox", backend="pycocotools", class_metrics=True)
    metric.warn_on_many_detections = False  # like ours, it keeps each image's 100 best per class
    metric.update([{k: p[k] for k in ("boxes", "scores", "labels")} for p in preds],
                  [{k: t[k] for k in ("boxes", "labels")} for t in targets])
    r = metric.compute()
    return {"map_50": r["map_50"].item(), "map_75": r["map_75"].item(), "map": r["map"].item(),
            "map_per_class": r["map_per_class"].tolist(), "classes": r["classes"].tolist()}


def pycocotools_map(preds: list[dict], targets: list[dict], num_classes: int) -> dict[str, float]:
    """mAP@0.5, mAP@0.75 and COCO mAP from pycocotools' COCOeval itself (detections in image order)."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    _check_lists(preds, targets)
    gt = {"images": [{"id": i} for i in range(len(targets))], "annotations": [],
          "categories": [{"id": c} for c in range(1, num_classes)]}
    dts = []
    for i, (p, t) in enumerate(zip(preds, targets)):
        for (x1, y1, x2, y2), label in zip(t["boxes"].tolist(), t["labels"].tolist()):
            gt["annotations"].append({"id": len(gt["annotations"]) + 1, "image_id": i, "category_id": label,
                                      "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1),
                                      "iscrowd": 0})
        for (x1, y1, x2, y2), label, score in zip(p["boxes"].tolist(), p["labels"].tolist(), p["scores"].tolist()):
            dts.append({"image_id": i, "category_id": label, "bbox": [x1, y1, x2 - x1, y2 - y1], "score": score})
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(dts) if dts else COCO(), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {"map": float(ev.stats[0]), "map_50": float(ev.stats[1]), "map_75": float(ev.stats[2])}


def apply_nms(preds: list[dict], iou_threshold: float = 0.5, score_threshold: float = 0.0) -> list[dict]:
    """Keep the detections with score >= score_threshold, then per-class NMS at iou_threshold."""
    out = []
    for p in preds:
        keep = torch.nonzero(p["scores"] >= score_threshold).flatten()
        keep = keep[batched_nms(p["boxes"][keep], p["scores"][keep], p["labels"][keep], iou_threshold)]
        out.append({k: p[k][keep] for k in ("boxes", "scores", "labels")})
    return out


KINDS = ("correct", "duplicate", "wrong class", "poor box", "background", "missed")


def error_kinds(preds: list[dict], targets: list[dict], score_threshold: float = 0.5,
                iou_threshold: float = 0.5, poor_iou: float = 0.1) -> dict[str, int]:
    """Count each kept detection (score >= score_threshold, in decreasing score order per image) as:
    correct (its class, IoU >= iou_threshold with a box not yet found), duplicate (such a box already
    found), wrong class (IoU >= iou_threshold with a box of another class), poor box (its class,
    poor_iou <= IoU < iou_threshold) or background; and count the ground-truth boxes never found as missed."""
    _check_lists(preds, targets)
    counts = dict.fromkeys(KINDS, 0)
    for p, t in zip(preds, targets):
        keep = torch.nonzero(p["scores"] >= score_threshold).flatten()
        keep = keep[torch.argsort(p["scores"][keep], descending=True, stable=True)]
        gt_boxes, gt_labels = t["boxes"].reshape(-1, 4).float(), t["labels"]
        found = torch.zeros(len(gt_boxes), dtype=torch.bool)
        iou = box_iou(p["boxes"][keep].reshape(-1, 4).float(), gt_boxes) if len(gt_boxes) else None
        for row, d in enumerate(keep.tolist()):
            counts[_kind(iou[row] if iou is not None else None, p["labels"][d], gt_labels, found,
                         iou_threshold, poor_iou)] += 1
        counts["missed"] += int((~found).sum())
    return counts


def _kind(iou: torch.Tensor | None, label, gt_labels, found, iou_threshold: float, poor_iou: float) -> str:
    """The error kind of one detection given its IoU with every ground-truth box (updates `found`)."""
    if iou is None:
        return "background"
    same = gt_labels == label
    if same.any():
        free = torch.where(same & ~found, iou, torch.tensor(-1.0))
        if free.max() >= iou_threshold:
            found[int(free.argmax())] = True
            return "correct"
        if torch.where(same, iou, torch.tensor(-1.0)).max() >= iou_threshold:
            return "duplicate"
    if (~same).any() and torch.where(~same, iou, torch.tensor(-1.0)).max() >= iou_threshold:
        return "wrong class"
    if same.any() and torch.where(same, iou, torch.tensor(-1.0)).max() >= poor_iou:
        return "poor box"
    return "background"


def operating_point(preds: list[dict], targets: list[dict], score_threshold: float = 0.5,
                    iou_threshold: float = 0.5) -> dict[str, float]:
    """Precision, recall and F1 of the detections with score >= score_threshold (all classes pooled)."""
    k = error_kinds(preds, targets, score_threshold, iou_threshold)
    kept = sum(k[name] for name in KINDS[:-1])
    n_gt = sum(len(t["labels"]) for t in targets)
    precision = k["correct"] / kept if kept else 0.0
    recall = k["correct"] / n_gt if n_gt else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"detections": kept, "precision": precision, "recall": recall, "f1": f1}


def _check_lists(preds: list[dict], targets: list[dict]) -> None:
    """One prediction dict per target dict, or a clear error."""
    if len(preds) != len(targets):
        raise ValueError(f"preds has {len(preds)} images but targets has {len(targets)}: give one prediction "
                         "dict per image, in the same order")
