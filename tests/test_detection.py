"""Detection building blocks from scratch, each against torchvision (or the slides' worked examples)."""
import math

import pytest
import torch
import torchvision

from course_utils import detection as D


def random_boxes(n, g, size=100.0):
    xy = torch.rand(n, 2, generator=g) * size
    wh = torch.rand(n, 2, generator=g) * size / 2 + 1
    return torch.cat([xy, xy + wh], 1)


def test_sliding_windows():
    assert D.sliding_windows(160, 32, 8) == 17 * 17
    assert D.sliding_windows((100, 200), 50, 50) == 2 * 4
    with pytest.raises(ValueError, match="window"):
        D.sliding_windows(32, 64, 8)


def test_iou_slides_example_and_torchvision():
    a, b = torch.tensor([[0.0, 0, 2, 2]]), torch.tensor([[1.0, 1, 3, 3]])
    assert D.box_iou(a, b).item() == pytest.approx(1 / 7)
    g = torch.Generator().manual_seed(0)
    x, y = random_boxes(30, g), random_boxes(20, g)
    assert torch.allclose(D.box_iou(x, y), torchvision.ops.box_iou(x, y), atol=1e-6)
    assert torch.allclose(D.box_area(x), torchvision.ops.box_area(x))
    with pytest.raises(ValueError, match="shape"):
        D.box_iou(torch.zeros(4), torch.zeros(1, 4))


@pytest.mark.parametrize("fmt_in", ["xyxy", "xywh", "cxcywh"])
@pytest.mark.parametrize("fmt_out", ["xyxy", "xywh", "cxcywh"])
def test_box_convert(fmt_in, fmt_out):
    x = random_boxes(10, torch.Generator().manual_seed(1))
    assert torch.allclose(D.box_convert(x, fmt_in, fmt_out), torchvision.ops.box_convert(x, fmt_in, fmt_out), atol=1e-5)


def test_encode_decode_slides_example_and_round_trip():
    p = torch.tensor([[50.0, 50, 20, 40]])
    d = torch.tensor([[0.1, -0.2, math.log(2), 0]])
    assert torch.allclose(D.decode(p, d), torch.tensor([[52.0, 42, 40, 40]]))
    g = torch.Generator().manual_seed(2)
    props = D.box_convert(random_boxes(50, g), "xyxy", "cxcywh")
    gts = D.box_convert(random_boxes(50, g), "xyxy", "cxcywh")
    assert torch.allclose(D.decode(props, D.encode(gts, props)), gts, atol=1e-4)
    coder = torchvision.models.detection._utils.BoxCoder(weights=(1.0, 1.0, 1.0, 1.0))
    tv = coder.encode_single(D.box_convert(gts, "cxcywh", "xyxy"), D.box_convert(props, "cxcywh", "xyxy"))
    assert torch.allclose(D.encode(gts, props), tv, atol=1e-4)


def test_nms_against_torchvision_on_many_random_cases():
    g = torch.Generator().manual_seed(3)
    for case in range(60):
        n = int(torch.randint(1, 40, (1,), generator=g))
        boxes = random_boxes(n, g, size=60)
        scores = torch.rand(n, generator=g)
        thr = float(torch.rand(1, generator=g)) * 0.8 + 0.1
        assert torch.equal(D.nms(boxes, scores, thr), torchvision.ops.nms(boxes, scores, thr)), case
        labels = torch.randint(0, 3, (n,), generator=g)
        assert torch.equal(D.batched_nms(boxes, scores, labels, thr),
                           torchvision.ops.batched_nms(boxes, scores, labels, thr)), case


def test_nms_score_threshold_and_empty():
    boxes = torch.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]])
    scores = torch.tensor([0.9, 0.8, 0.05])
    assert D.nms(boxes, scores, 0.5).tolist() == [0, 2]
    assert D.nms(boxes, scores, 0.5, score_threshold=0.1).tolist() == [0]
    assert D.nms(torch.zeros(0, 4), torch.zeros(0)).numel() == 0


def test_anchor_table_matches_the_slides_numbers():
    wh = D.anchor_shapes((64, 128, 256), (0.5, 1.0, 1.5))
    assert wh.shape == (9, 2)
    assert torch.allclose(wh[0], torch.tensor([45.25, 90.51]), atol=0.01)
    assert torch.allclose(wh[8], torch.tensor([313.5, 209.0]), atol=0.1)
    assert torch.allclose(wh.prod(1), torch.tensor([64.0, 64, 64, 128, 128, 128, 256, 256, 256]) ** 2)


def test_grid_anchors_match_torchvision_anchor_generator():
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.image_list import ImageList

    sizes, ratios = (16, 32, 64), (0.5, 1.0, 1.5)
    gen = AnchorGenerator(sizes=(sizes,), aspect_ratios=(D.torchvision_ratios(ratios),))
    images = ImageList(torch.zeros(1, 3, 64, 96), [(64, 96)])
    tv = gen(images, [torch.zeros(1, 8, 4, 6)])[0]
    ours = D.grid_anchors((4, 6), 16, sizes, ratios)
    assert torch.allclose(ours, tv)


def test_match_anchors_against_torchvision_matcher():
    from torchvision.models.detection._utils import Matcher

    g = torch.Generator().manual_seed(4)
    anchors = D.grid_anchors((5, 5), 16, (16, 32), (0.5, 1.0, 2.0))
    gt = random_boxes(4, g, size=60)
    labels, matched = D.match_anchors(anchors, gt, 0.7, 0.3)
    m = Matcher(0.7, 0.3, allow_low_quality_matches=True)(torchvision.ops.box_iou(gt, anchors))
    assert torch.equal(labels == 1, m >= 0)
    assert torch.equal(labels == 0, m == Matcher.BELOW_LOW_THRESHOLD)
    assert torch.equal(matched[m >= 0], m[m >= 0])
    assert (labels == 1).sum() >= len(gt)  # every box has at least its best anchor


def test_roi_pool_and_align_against_torchvision():
    g = torch.Generator().manual_seed(5)
    feats = torch.randn(3, 12, 14, generator=g)
    boxes = torch.tensor([[1.3, 2.7, 9.6, 8.2], [0.0, 0.0, 5.5, 3.1], [4.2, 4.9, 13.0, 11.4], [7.5, 1.25, 8.0, 3.0]])
    idx = torch.cat([torch.zeros(len(boxes), 1), boxes], 1)
    for out, scale in [(2, 1.0), (3, 0.5), (4, 1.0)]:
        assert torch.allclose(D.roi_pool(feats, boxes, out, scale),
                              torchvision.ops.roi_pool(feats[None], idx, out, scale), atol=1e-6)
        for aligned in (False, True):
            assert torch.allclose(D.roi_align(feats, boxes, out, scale, 2, aligned),
                                  torchvision.ops.roi_align(feats[None], idx, out, scale, 2, aligned), atol=1e-5)


def test_yolo_output_size_and_encoding_shape():
    assert D.yolo_output_size(7, 2, 20) == 1470
    boxes = torch.tensor([[10.0, 20, 50, 60], [100, 100, 150, 140]])
    t = D.yolo_encode(boxes, torch.tensor([0, 3]), S=7, B=2, C=20, image_size=224)
    assert t.shape == (7, 7, 30)
    row, col = 40 // 32, 30 // 32  # centre (30, 40) in cells of 32 px
    assert t[row, col, 4] == 1 and t[row, col, 9] == 1 and t[row, col, 10] == 1
    assert torch.allclose(t[row, col, :4], torch.tensor([30 / 32 - col, 40 / 32 - row, 40 / 224, 40 / 224]))
    assert t[..., 4].sum() == 2 and t[..., 10:].sum() == 2
    batch = torch.stack([t, t])
    assert batch.shape == (2, 7, 7, 30)


def test_yolo_loss_is_zero_for_a_perfect_prediction_and_has_the_paper_weights():
    boxes = torch.tensor([[16.0, 16, 48, 80]])
    t = D.yolo_encode(boxes, torch.tensor([1]), S=4, B=2, C=3, image_size=128)[None]
    pred = t.clone()
    pred[..., [2, 3, 7, 8]] = t[..., [2, 3, 7, 8]].sqrt()  # the network predicts sqrt(w), sqrt(h)
    pred[..., 9] = 0  # the second box is not responsible (ties: the first one is): its confidence target is 0
    losses = D.yolo_loss(pred, t, B=2, C=3)
    assert losses["loss"].item() == pytest.approx(0.0, abs=1e-6)
    empty = torch.zeros_like(t)
    empty[..., 4] = 1.0  # confidence 1 everywhere, no objects: only the no-object term, weighted 0.5
    losses = D.yolo_loss(empty, torch.zeros_like(t), B=2, C=3)
    assert losses["loss_noobj"].item() == pytest.approx(0.5 * 16)
    shifted = pred.clone()
    shifted[..., [0, 5]] += 0.1  # move the x of both boxes: only the responsible one counts, times 5
    assert D.yolo_loss(shifted, t, B=2, C=3)["loss_xy"].item() == pytest.approx(5 * 0.01, rel=1e-4)
    shifted[..., 0] += 0.1  # now box 2 fits better and becomes the responsible one
    assert D.yolo_loss(shifted, t, B=2, C=3)["loss_xy"].item() == pytest.approx(5 * 0.01, rel=1e-4)


def test_yolo_decode_recovers_the_encoded_boxes():
    boxes = torch.tensor([[16.0, 16, 48, 80], [70, 60, 120, 100]])
    t = D.yolo_encode(boxes, torch.tensor([1, 2]), S=4, B=2, C=3, image_size=128)
    t[..., [2, 3, 7, 8]] = t[..., [2, 3, 7, 8]].sqrt()
    out = D.yolo_decode(t, B=2, C=3, image_size=128)
    assert len(out["boxes"]) == 2
    order = torch.argsort(out["boxes"][:, 0])
    assert torch.allclose(out["boxes"][order], boxes, atol=1e-3)
    assert out["labels"][order].tolist() == [2, 3]
