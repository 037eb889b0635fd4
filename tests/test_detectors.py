"""The two detectors: construction, one training step through fit's step functions, prediction format."""
import pytest
import torch

from course_utils import detection, detectors, scenes


@pytest.fixture(scope="module")
def batch():
    ds = scenes.SceneDataset("val", 4, masks=False)
    return ds, scenes.collate([ds[i] for i in range(4)])


def test_backbone_is_the_stride_16_cut():
    b = detectors.mobilenet_backbone(pretrained=False)
    out = b(torch.zeros(1, 3, 160, 160))
    assert out.shape == (1, 96, 10, 10) and b.out_channels == 96
    assert not any(p.requires_grad for p in b.parameters())  # the whole cut is frozen by default
    assert any(p.requires_grad for p in detectors.mobilenet_backbone(pretrained=False, frozen=11)[11].parameters())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in b.modules())


def test_faster_rcnn_losses_and_predictions(batch):
    ds, (images, targets) = batch
    torch.manual_seed(0)
    model = detectors.faster_rcnn(len(scenes.CLASSES), pretrained=False)
    assert 1_000_000 < detectors.count_params(model) < 3_000_000
    gen = model.rpn.anchor_generator
    assert gen.num_anchors_per_location() == [12]
    model.train()
    losses = detectors.frcnn_step(model, (images, targets))
    assert set(losses) == {"loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"}
    sum(losses.values()).backward()
    preds = detectors.detect(model, ds, batch_size=2)
    assert len(preds) == 4 and set(preds[0]) == {"boxes", "scores", "labels"}
    with pytest.raises(ValueError, match="num_classes"):
        detectors.faster_rcnn(1, pretrained=False)


def test_faster_rcnn_uses_the_slides_ratios_as_width_over_height():
    model = detectors.faster_rcnn(3, sizes=(32,), ratios=(0.5, 1.0, 1.5), pretrained=False)
    cell = model.rpn.anchor_generator.cell_anchors[0]
    wh = torch.stack([cell[:, 2] - cell[:, 0], cell[:, 3] - cell[:, 1]], 1)
    assert torch.allclose(wh[:, 0] / wh[:, 1], torch.tensor([0.5, 1.0, 1.5]), atol=0.06)


def test_tiny_yolo_shapes_loss_and_learning(batch):
    ds, (images, targets) = batch
    torch.manual_seed(0)
    model = detectors.TinyYolo(len(scenes.CLASSES) - 1, pretrained=False)
    out = model(images)
    assert out.shape == (4, 10, 10, 2 * 5 + 6)
    assert detection.yolo_output_size(10, 2, 6) == out[0].numel()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], 1e-2)
    first = None
    model.train()
    for _ in range(15):
        losses = detectors.yolo_step(model, (images, targets))
        assert set(losses) >= {"loss_xy", "loss_wh", "loss_obj", "loss_noobj", "loss_class", "loss"}
        opt.zero_grad()
        losses["loss"].backward()
        opt.step()
        first = first if first is not None else losses["loss"].item()
    assert losses["loss"].item() < 0.8 * first  # it can fit one batch
    preds = detectors.detect(model, ds, batch_size=2)
    assert len(preds) == 4 and preds[0]["boxes"].shape[1] == 4
    assert ((preds[0]["labels"] >= 1) & (preds[0]["labels"] <= 6)).all()


@pytest.mark.parametrize("kind,upscale,frozen", [("frcnn", 1, 14), ("yolo", 1, 14), ("frcnn", 2, 11), ("yolo", 2, 14)])
def test_cached_training_step_and_detection_equal_the_full_model(batch, kind, upscale, frozen):
    ds, (images, targets) = batch
    torch.manual_seed(0)
    model = (detectors.faster_rcnn(len(scenes.CLASSES), pretrained=False, upscale=upscale, frozen=frozen)
             if kind == "frcnn" else detectors.TinyYolo(len(scenes.CLASSES) - 1, pretrained=False, upscale=upscale))
    feats = detectors.cache_features(model, ds)
    assert feats.shape[0] == 4 and feats.shape[2:] == (10 * upscale, 10 * upscale)
    model.train()
    full_step = detectors.frcnn_step if kind == "frcnn" else detectors.yolo_step
    torch.manual_seed(1)
    full = full_step(model, (images, targets))
    torch.manual_seed(1)
    cached = detectors.cached_step(model, (feats, targets))
    for key in full:
        assert torch.allclose(full[key], cached[key], atol=1e-4), key
    a = detectors.detect(model, ds)
    b = detectors.detect_features(model, feats)
    for p, q in zip(a, b):
        assert torch.allclose(p["scores"], q["scores"], atol=1e-4) and torch.allclose(p["boxes"], q["boxes"], atol=1e-3)


def test_upscaled_predictions_come_back_in_image_pixels_and_caches_compose(batch):
    ds, _ = batch
    torch.manual_seed(0)
    frcnn = detectors.faster_rcnn(len(scenes.CLASSES), pretrained=False, upscale=2, frozen=11)
    assert frcnn.transform.min_size == (320,) and frcnn.rpn.anchor_generator.sizes == ((32, 64, 128, 256),)
    preds = detectors.detect(frcnn, ds)
    assert all(float(p["boxes"].max()) <= 160 for p in preds if len(p["boxes"]))
    # TinyYolo's 14-block cache = its blocks 11-13 on the block-11 cache (same pretrained=False weights by seed)
    torch.manual_seed(0)
    yolo = detectors.TinyYolo(len(scenes.CLASSES) - 1, pretrained=False, upscale=2)
    yolo.backbone[:11].load_state_dict(frcnn.backbone[:11].state_dict())
    extended = detectors.extend_features(yolo, detectors.cache_features(frcnn, ds), start=11)
    assert torch.allclose(extended, detectors.cache_features(yolo, ds), atol=1e-4)


@pytest.mark.parametrize("bad", [0, 1.5, -2, True])
def test_upscale_must_be_a_positive_whole_number(bad):
    with pytest.raises(ValueError, match="upscale must be a whole number"):
        detectors.faster_rcnn(len(scenes.CLASSES), pretrained=False, upscale=bad)
    with pytest.raises(ValueError, match="upscale must be a whole number"):
        detectors.TinyYolo(len(scenes.CLASSES) - 1, pretrained=False, upscale=bad)
