"""AP / mAP from scratch on hand-made cases, and against torchmetrics (pycocotools backend) on random ones."""
import math

import numpy as np
import pytest
import torch

from course_utils import detection_eval as E


def T(boxes, labels, scores=None):
    d = {"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4), "labels": torch.tensor(labels, dtype=torch.int64)}
    if scores is not None:
        d["scores"] = torch.tensor(scores, dtype=torch.float32)
    return d


GT = [T([[0, 0, 10, 10], [20, 20, 40, 40]], [1, 1]), T([[5, 5, 25, 25]], [2])]


def test_perfect_detections_give_ap_one():
    preds = [T([[0, 0, 10, 10], [20, 20, 40, 40]], [1, 1], [0.9, 0.8]), T([[5, 5, 25, 25]], [2], [0.7])]
    r = E.evaluate(preds, GT, num_classes=3)
    assert r["map_50"] == pytest.approx(1.0) and r["map"] == pytest.approx(1.0)


def test_no_detections_give_zero():
    preds = [T([], [], []), T([], [], [])]
    r = E.evaluate(preds, GT, num_classes=3)
    assert r["map_50"] == 0.0 and r["map"] == 0.0


def test_all_false_positives_give_zero():
    preds = [T([[50, 50, 60, 60]], [1], [0.9]), T([[5, 5, 25, 25]], [1], [0.8])]  # wrong place, wrong class
    r = E.evaluate(preds, GT, num_classes=3)
    assert r["map_50"] == 0.0


def test_class_absent_from_ground_truth_is_left_out():
    preds = [T([[0, 0, 10, 10], [20, 20, 40, 40], [1, 1, 9, 9]], [1, 1, 3], [0.9, 0.8, 0.95]),
             T([[5, 5, 25, 25]], [2], [0.7])]
    r = E.evaluate(preds, GT, num_classes=4)
    assert math.isnan(r["ap50_per_class"][2])  # class 3 has no ground truth: AP undefined
    assert r["map_50"] == pytest.approx(1.0)   # and it does not pull the mean down


def test_half_recall_and_a_false_positive_first():
    # class 1: a false positive ranked first, then one of the two boxes found: precision 1/2 at recall 1/2
    preds = [T([[50, 50, 60, 60], [0, 0, 10, 10]], [1, 1], [0.9, 0.8]), T([[5, 5, 25, 25]], [2], [0.7])]
    curve = E.pr_curve(preds, GT, label=1)
    assert curve["precision"].tolist() == [0.0, 0.5] and curve["recall"].tolist() == [0.0, 0.5]
    # 101-point interpolation: recalls 0..0.5 (51 points) read precision 0.5, the rest 0
    assert E.average_precision(curve["precision"], curve["recall"]) == pytest.approx(51 * 0.5 / 101)


def test_ties_in_score_keep_the_image_order_like_pycocotools():
    gt = [T([[0, 0, 10, 10]], [1]), T([[0, 0, 10, 10]], [1])]
    preds = [T([[50, 50, 60, 60]], [1], [0.5]), T([[0, 0, 10, 10]], [1], [0.5])]  # same score: FP first
    ours = E.evaluate(preds, gt, num_classes=2)["map_50"]
    assert ours == pytest.approx(E.torchmetrics_map(preds, gt)["map_50"], abs=1e-6)
    assert ours == pytest.approx(51 * 0.5 / 101)


def test_duplicate_detection_is_a_false_positive():
    preds = [T([[0, 0, 10, 10], [0, 0, 10, 11]], [1, 1], [0.9, 0.8])]
    gt = [T([[0, 0, 10, 10]], [1])]
    curve = E.pr_curve(preds, gt, label=1)
    assert curve["is_tp"].tolist() == [True, False]
    kinds = E.error_kinds(preds, gt, score_threshold=0.0)
    assert kinds["correct"] == 1 and kinds["duplicate"] == 1 and kinds["missed"] == 0


def test_error_kinds():
    gt = [T([[0, 0, 20, 20], [40, 40, 60, 60], [70, 0, 90, 20]], [1, 2, 1])]
    preds = [T([[0, 0, 20, 20], [40, 40, 60, 60], [70, 0, 80, 10], [100, 100, 120, 120], [0, 0, 19, 20]],
               [1, 1, 1, 2, 1], [0.9, 0.8, 0.7, 0.6, 0.5])]
    k = E.error_kinds(preds, gt, score_threshold=0.0)
    assert k == {"correct": 1, "wrong class": 1, "poor box": 1, "background": 1, "duplicate": 1, "missed": 2}
    op = E.operating_point(preds, gt, score_threshold=0.75)
    assert op["detections"] == 2 and op["precision"] == 0.5 and op["recall"] == pytest.approx(1 / 3)


def random_case(seed, n_images=12, n_classes=4):
    g = torch.Generator().manual_seed(seed)
    preds, targets = [], []
    for _ in range(n_images):
        k = int(torch.randint(0, 5, (1,), generator=g))
        xy = torch.rand(k, 2, generator=g) * 80
        gt = torch.cat([xy, xy + 10 + torch.rand(k, 2, generator=g) * 30], 1)
        labels = torch.randint(1, n_classes, (k,), generator=g)
        m = int(torch.randint(0, 8, (1,), generator=g))
        src = torch.randint(0, max(k, 1), (m,), generator=g)
        boxes = (gt[src] if k else torch.zeros(m, 4)) + torch.randn(m, 4, generator=g) * 4
        boxes = torch.cat([boxes[:, :2], torch.maximum(boxes[:, 2:], boxes[:, :2] + 1)], 1)
        p_labels = labels[src] if k else torch.randint(1, n_classes, (m,), generator=g)
        flip = torch.rand(m, generator=g) < 0.2
        p_labels = torch.where(flip, torch.randint(1, n_classes, (m,), generator=g), p_labels)
        scores = torch.round(torch.rand(m, generator=g) * 10) / 10  # many ties
        preds.append({"boxes": boxes, "scores": scores, "labels": p_labels})
        targets.append({"boxes": gt, "labels": labels})
    return preds, targets


@pytest.mark.parametrize("seed", range(6))
def test_agrees_with_torchmetrics_pycocotools(seed):
    preds, targets = random_case(seed)
    ours = E.evaluate(preds, targets, num_classes=4)
    coco = E.pycocotools_map(preds, targets, num_classes=4)
    for key in ("map_50", "map_75", "map"):
        assert ours[key] == pytest.approx(coco[key], abs=1e-9)  # the same algorithm, the same ties
    tm = E.torchmetrics_map(preds, targets)  # ties in score may be ordered differently: within 0.005
    for key in ("map_50", "map_75", "map"):
        assert ours[key] == pytest.approx(tm[key], abs=5e-3)


def test_apply_nms_and_errors():
    p = [T([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10]], [1, 1, 2], [0.9, 0.8, 0.3])]
    assert E.apply_nms(p, 0.5)[0]["labels"].tolist() == [1, 2]
    assert E.apply_nms(p, 0.5, score_threshold=0.5)[0]["labels"].tolist() == [1]
    with pytest.raises(ValueError, match="one prediction"):
        E.evaluate(p, GT, num_classes=3)


def test_evaluate_shapes():
    preds, targets = random_case(0)
    r = E.evaluate(preds, targets, num_classes=4)
    assert r["ap"].shape == (10, 3) and np.allclose(r["iou_thresholds"], np.arange(0.5, 0.96, 0.05))
