"""Segmentation losses and metrics against hand-made masks, torch, torchmetrics and scikit-learn."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from course_utils import segmentation as seg


def test_pixel_cross_entropy_matches_torch_with_and_without_weights():
    torch.manual_seed(0)
    logits, target = torch.randn(2, 4, 5, 7), torch.randint(0, 4, (2, 5, 7))
    assert torch.allclose(seg.pixel_cross_entropy(logits, target), F.cross_entropy(logits, target), atol=1e-6)
    w = torch.tensor([0.1, 1.0, 2.0, 5.0])
    assert torch.allclose(seg.pixel_cross_entropy(logits, target, weight=w),
                          F.cross_entropy(logits, target, weight=w), atol=1e-6)
    target[0, 0, 0] = -100
    assert torch.allclose(seg.pixel_cross_entropy(logits, target), F.cross_entropy(logits, target), atol=1e-6)


def test_pixel_cross_entropy_explains_bad_shapes():
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        seg.pixel_cross_entropy(torch.randn(2, 3, 4, 4), torch.zeros(2, 1, 4, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="long"):
        seg.pixel_cross_entropy(torch.randn(2, 3, 4, 4), torch.zeros(2, 4, 4))


def test_class_weights_median_frequency():
    masks = torch.tensor([[0] * 6 + [1] * 3 + [2]])            # frequencies 0.6, 0.3, 0.1
    w = seg.class_weights(masks, 4)
    assert torch.allclose(w, torch.tensor([0.5, 1.0, 3.0, 0.0]))   # median 0.3; class 3 absent -> 0
    inv = seg.class_weights(masks, 4, kind="inverse")
    assert torch.allclose(inv[:3], 1 / (4 * torch.tensor([0.6, 0.3, 0.1])))
    with pytest.raises(ValueError, match="kind"):
        seg.class_weights(masks, 4, kind="sqrt")


def test_dice_loss_is_zero_for_perfect_logits_and_large_for_wrong_ones():
    target = torch.tensor([[[0, 1], [2, 2]]])
    perfect = 100 * F.one_hot(target, 3).permute(0, 3, 1, 2).float()
    assert seg.dice_loss(perfect, target, eps=0).item() == pytest.approx(0, abs=1e-6)
    wrong = 100 * F.one_hot((target + 1) % 3, 3).permute(0, 3, 1, 2).float()
    assert seg.dice_loss(wrong, target, eps=0).item() == pytest.approx(1, abs=1e-6)


def test_confusion_matrix_matches_sklearn():
    rng = np.random.default_rng(0)
    pred, target = rng.integers(0, 4, (3, 8, 9)), rng.integers(0, 4, (3, 8, 9))
    ours = seg.confusion_matrix(torch.tensor(pred), torch.tensor(target), 4).numpy()
    assert (ours == sk_confusion_matrix(target.ravel(), pred.ravel(), labels=range(4))).all()


def test_metrics_on_a_hand_made_mask():
    target = torch.tensor([[0, 0, 1, 1],
                           [0, 0, 1, 1],
                           [0, 0, 0, 2],
                           [0, 0, 0, 2]])
    pred = torch.tensor([[0, 0, 1, 1],
                         [0, 0, 0, 1],
                         [0, 0, 0, 0],
                         [0, 0, 0, 2]])
    s = seg.scores(seg.confusion_matrix(pred, target, 4))
    assert s["pixel_accuracy"] == pytest.approx(14 / 16)
    assert s["iou"][0] == pytest.approx(10 / 12)                # TP 10, FP 2, FN 0
    assert s["iou"][1] == pytest.approx(3 / 4)
    assert s["iou"][2] == pytest.approx(1 / 2)
    assert math.isnan(s["iou"][3])                              # class 3: absent from truth and prediction
    assert s["miou"] == pytest.approx((3 / 4 + 1 / 2) / 2)      # background and the absent class left out
    assert s["dice"][1] == pytest.approx(2 * 3 / (2 * 3 + 1))
    assert seg.scores(seg.confusion_matrix(pred, target, 4), exclude_background=False)["miou"] == \
        pytest.approx((10 / 12 + 3 / 4 + 1 / 2) / 3)


def test_all_correct_and_empty_prediction():
    target = torch.tensor([[0, 1, 1], [2, 2, 0]])
    s = seg.scores(seg.confusion_matrix(target, target, 3))
    assert s["pixel_accuracy"] == 1 and s["miou"] == 1 and s["mean_dice"] == 1
    empty = torch.zeros_like(target)                            # the model predicts background everywhere
    s = seg.scores(seg.confusion_matrix(empty, target, 3))
    assert s["iou"][1:] == [0.0, 0.0] and s["miou"] == 0
    assert s["pixel_accuracy"] == pytest.approx(2 / 6)
    assert s["iou"][0] == pytest.approx(2 / 6)


def test_pixel_accuracy_trap_background_only():
    target = torch.zeros(20, 20, dtype=torch.long)
    target[:2, :2] = 1                                          # one small object: 1 % of the pixels
    s = seg.scores(seg.confusion_matrix(torch.zeros_like(target), target, 2))
    assert s["pixel_accuracy"] == pytest.approx(0.99) and s["miou"] == 0


def test_metrics_match_torchmetrics_including_absent_classes():
    rng = np.random.default_rng(1)
    target = torch.tensor(rng.integers(0, 3, (4, 16, 16)))      # class 3 and 4 never in the truth
    pred = torch.tensor(rng.integers(0, 4, (4, 16, 16)))        # class 4 never predicted either
    ours = seg.scores(seg.confusion_matrix(pred, target, 5))
    theirs = seg.torchmetrics_scores(pred, target, 5)
    assert np.allclose(ours["iou"], theirs["iou"], equal_nan=True)
    assert ours["miou"] == pytest.approx(theirs["miou"])
    assert ours["pixel_accuracy"] == pytest.approx(theirs["pixel_accuracy"], abs=1e-6)
    assert math.isnan(ours["iou"][4]) and ours["iou"][3] == 0   # predicted but absent: IoU 0


def test_confusion_matrix_errors():
    with pytest.raises(ValueError, match="same shape"):
        seg.confusion_matrix(torch.zeros(2, 3), torch.zeros(3, 2), 2)
    with pytest.raises(ValueError, match="0..1"):
        seg.confusion_matrix(torch.tensor([0, 2]), torch.tensor([0, 1]), 2)
    cm = seg.confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([0, 255, 1]), 2, ignore_index=255)
    assert cm.sum() == 2


def test_per_image_iou_and_batch_metrics():
    target = torch.tensor([[[0, 1], [1, 1]], [[0, 2], [2, 0]]])
    pred = torch.tensor([[[0, 1], [1, 1]], [[0, 0], [0, 0]]])
    assert seg.per_image_iou(pred, target, 3).tolist() == [1.0, 0.0]
    logits = F.one_hot(pred, 3).permute(0, 3, 1, 2).float()
    assert seg.batch_pixel_accuracy(logits, target).item() == pytest.approx(6 / 8)


def test_semantic_mask_from_instances_and_loader():
    masks = torch.zeros(2, 4, 5, dtype=torch.uint8)
    masks[0, :2, :2] = 1
    masks[1, 1:3, 1:3] = 1
    sem = seg.semantic_mask({"masks": masks, "labels": torch.tensor([2, 1])}, (4, 5))
    assert sem[0, 0] == 2 and sem[1, 1] == 1 and sem[2, 2] == 1 and sem[3, 4] == 0
    with pytest.raises(ValueError, match="masks"):
        seg.semantic_mask({"boxes": torch.zeros(0, 4)}, (4, 5))
    images, y = torch.rand(5, 3, 4, 5), torch.randint(0, 3, (5, 4, 5))
    loader = seg.SegLoader(images, y, batch_size=2, shuffle=True)
    batches = list(loader)
    assert len(loader) == len(batches) == 3 and sum(len(b[0]) for b in batches) == 5
    x0, y0 = next(iter(seg.SegLoader(images, y, batch_size=5)))
    assert torch.equal(x0, images) and torch.equal(y0, y)


def test_evaluate_segmentation_counts_every_pixel():
    class Const(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            out = torch.zeros(x.shape[0], 3, *x.shape[2:])
            out[:, 1] = 1
            return out + self.w
    y = torch.randint(0, 3, (6, 4, 4))
    cm, ms = seg.evaluate_segmentation(Const(), seg.SegLoader(torch.rand(6, 3, 4, 4), y, batch_size=4), 3)
    assert cm.sum() == 96 and cm[:, 1].sum() == 96 and ms >= 0


def test_feature_loader_keeps_features_and_masks_together():
    feats = (torch.arange(8.0).view(8, 1, 1, 1), torch.arange(8.0).view(8, 1) * 10)   # row i holds i and 10 i
    masks = torch.arange(8).view(8, 1, 1).expand(8, 2, 3)                             # mask i is all i
    loader = seg.FeatureLoader(feats, masks, batch_size=3)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    seen = torch.cat([y[:, 0, 0] for _, y in batches])
    assert sorted(seen.tolist()) == list(range(8)) and seen.tolist() != list(range(8))   # shuffled, each once
    for (a, b), y in batches:
        assert torch.equal(a.view(-1).long(), y[:, 0, 0]) and torch.equal(b.view(-1).long(), 10 * y[:, 0, 0])
    with pytest.raises(ValueError, match="one row per mask"):
        seg.FeatureLoader((torch.zeros(3, 1),), masks)


def test_resolution_ceiling_loses_thin_objects_at_coarse_strides():
    masks = torch.zeros(2, 32, 32, dtype=torch.long)
    masks[:, 8:24, 8:24] = 1                       # a 16 x 16 square: aligned with every grid up to 8
    masks[:, 2:30, 28:30] = 2                      # a 2-pixel-wide bar
    fine = seg.resolution_ceiling(masks, 3, 1)
    assert fine["miou"] == 1.0                     # stride 1 is the truth itself
    at8 = seg.resolution_ceiling(masks, 3, 8)
    assert at8["iou"][1] > 0.8 and at8["iou"][2] < 0.2   # the square survives, the thin bar is lost
    coarse = [seg.resolution_ceiling(masks, 3, s)["miou"] for s in (1, 2, 4, 8, 16)]
    assert all(a >= b for a, b in zip(coarse, coarse[1:]))
    with pytest.raises(ValueError, match="stride"):
        seg.resolution_ceiling(masks, 3, 0)


def test_forgive_confusions_moves_mixups_inside_the_group_only():
    #               truth 0   1   2   3  (rows), predictions (columns)
    cm = torch.tensor([[50, 1, 1, 2],
                       [3, 10, 4, 1],
                       [2, 6, 8, 0],
                       [1, 0, 0, 9]])
    out = seg.forgive_confusions(cm, [1, 2])
    assert out.tolist() == [[50, 1, 1, 2], [3, 14, 0, 1], [2, 0, 14, 0], [1, 0, 0, 9]]
    assert out.sum() == cm.sum() and cm[1, 2] == 4          # every pixel kept; the input is not changed
    iou_before, iou_after = seg.iou_per_class(cm), seg.iou_per_class(out)
    assert iou_after[1] > iou_before[1] and iou_after[2] > iou_before[2]
    assert iou_after[3] == iou_before[3]                   # a class outside the group keeps its IoU
    with pytest.raises(ValueError, match="group"):
        seg.forgive_confusions(cm, [1])
    with pytest.raises(ValueError, match="group"):
        seg.forgive_confusions(cm, [1, 4])


def test_evaluate_segmentation_on_cached_features_equals_the_full_model():
    from course_utils import segnets

    torch.manual_seed(0)
    model = segnets.DeepLabV3(3, pretrained=False, decoder=True).eval()
    images, masks = torch.rand(5, 3, 32, 32), torch.randint(0, 3, (5, 32, 32))
    cached = segnets.cache_features(model, images, 7)
    head = segnets.CachedHead(model, 7, (32, 32))
    cm_head, _ = seg.evaluate_segmentation(head, seg.FeatureLoader(cached, masks, 2, shuffle=False), 3)
    cm_full, _ = seg.evaluate_segmentation(model, seg.SegLoader(images, masks, 2), 3)
    assert cm_head.sum() == 5 * 32 * 32 and torch.equal(cm_head, cm_full)
