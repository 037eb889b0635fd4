"""The generated detection / segmentation scenes: determinism, labels that match the pixels, COCO export."""
import json

import numpy as np
import pytest
import torch

from course_utils import scenes


@pytest.fixture(scope="module")
def val_ds():
    return scenes.SceneDataset("val", 24)


def test_same_seed_same_scene_and_independent_of_n():
    a = scenes.make_scene("train", 5, seed=3)
    b = scenes.SceneDataset("train", 6, seed=3).scenes[5]
    assert np.array_equal(a.image, b.image) and np.array_equal(a.instance_map, b.instance_map)
    assert np.array_equal(a.labels, b.labels) and np.array_equal(a.boxes, b.boxes)
    c = scenes.make_scene("train", 5, seed=4)
    assert not np.array_equal(a.image, c.image)


def test_start_picks_later_images_of_the_split():
    ds = scenes.SceneDataset("train", 2, seed=3, start=5)
    assert np.array_equal(ds.scenes[0].image, scenes.make_scene("train", 5, seed=3).image)
    assert ds.image_id(1) == scenes.SceneDataset("train", 7, seed=3).image_id(6)
    with pytest.raises(ValueError, match="start"):
        scenes.SceneDataset("train", 2, start=-1)


def test_splits_differ():
    assert not np.array_equal(scenes.make_scene("train", 0).image, scenes.make_scene("test", 0).image)
    cuts = [set(range(500)[s]) for s in scenes.DIGIT_CUT.values()]
    assert sum(len(c) for c in cuts) == len(set().union(*cuts)) == 500  # disjoint digit images


def test_scene_properties(val_ds):
    counts = []
    for s in val_ds.scenes:
        h, w, c = s.image.shape
        assert (h, w, c) == (160, 160, 3) and s.image.dtype == np.uint8
        k = len(s.labels)
        counts.append(k)
        assert 1 <= k <= scenes.MAX_OBJECTS
        assert ((s.labels >= 1) & (s.labels < len(scenes.CLASSES))).all()
        masks = s.masks
        assert masks.shape == (k, h, w) and masks.sum(0).max() <= 1  # disjoint instance masks
        for m, box in zip(masks, s.boxes):
            rows, cols = np.nonzero(m)
            assert np.array_equal(box, [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1])
        sem = s.semantic
        assert set(np.unique(sem)) <= {0, *s.labels.tolist()}
        assert np.array_equal(sem > 0, masks.any(0))
        for m, label in zip(masks, s.labels):
            assert (sem[m] == label).all()
    assert len(set(counts)) > 2  # the number of objects varies


def test_object_sizes_span_the_range():
    ds = scenes.SceneDataset("train", 40)
    boxes = np.concatenate([s.boxes for s in ds.scenes])
    side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    assert side.min() < 25 and side.max() > 75 and side.max() <= scenes.MAX_SIDE
    labels = np.concatenate([s.labels for s in ds.scenes])
    assert set(labels.tolist()) == set(range(1, len(scenes.CLASSES)))


def test_occlusion_happens_and_is_reflected_in_masks():
    ds = scenes.SceneDataset("train", 40)
    touching = 0
    for s in ds.scenes:
        for i in range(len(s.labels)):
            for j in range(i + 1, len(s.labels)):
                a, b = s.boxes[i], s.boxes[j]
                if min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1]):
                    touching += 1
    assert touching >= 5  # boxes overlap in the data set: it is not one object per free spot


def test_dataset_format_and_collate(val_ds):
    image, target = val_ds[0]
    k = len(val_ds.scenes[0].labels)
    assert image.shape == (3, 160, 160) and image.dtype == torch.float32 and 0 <= image.min() and image.max() <= 1
    assert target["boxes"].shape == (k, 4) and target["boxes"].dtype == torch.float32
    assert target["labels"].dtype == torch.int64 and target["masks"].shape == (k, 160, 160)
    assert target["masks"].dtype == torch.uint8 and target["semantic"].shape == (160, 160)
    images, targets = scenes.collate([val_ds[0], val_ds[1]])
    assert isinstance(images, list) and len(images) == 2 and len(targets) == 2
    x, sem = val_ds.tensors()
    assert x.shape == (24, 3, 160, 160) and torch.equal(x[0], image) and torch.equal(sem[0], target["semantic"])
    assert "masks" not in scenes.SceneDataset("val", 2, masks=False)[0][1]


def test_torchvision_accepts_the_targets(val_ds):
    from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_320_fpn

    torch.manual_seed(0)
    model = fasterrcnn_mobilenet_v3_large_320_fpn(weights=None, weights_backbone=None, num_classes=7,
                                                  min_size=160, max_size=160)
    images, targets = scenes.collate([val_ds[0], val_ds[1]])
    losses = model(images, targets)
    assert set(losses) >= {"loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"}
    assert all(torch.isfinite(v) for v in losses.values())


def test_coco_export_loads_in_pycocotools(val_ds, tmp_path):
    from pycocotools.coco import COCO

    path = scenes.save_coco(val_ds, tmp_path / "val.json")
    coco = COCO(str(path))
    assert len(coco.getImgIds()) == len(val_ds)
    assert len(coco.getCatIds()) == len(scenes.CLASSES) - 1
    img_id = val_ds.image_id(3)
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[img_id]))
    s = val_ds.scenes[3]
    assert len(anns) == len(s.labels)
    for ann, m, box, label in zip(anns, s.masks, s.boxes, s.labels):
        assert np.array_equal(coco.annToMask(ann).astype(bool), m)
        x, y, w, h = ann["bbox"]
        assert np.allclose([x, y, x + w, y + h], box) and ann["category_id"] == label
    assert json.loads(path.read_text())["categories"][0] == {"id": 1, "name": scenes.CLASSES[1]}


def test_bad_arguments_say_what_to_fix():
    with pytest.raises(ValueError, match="split"):
        scenes.SceneDataset("training", 2)
    with pytest.raises(ValueError, match="size"):
        scenes.make_scene("train", 0, size=64)
    with pytest.raises(ValueError, match="n must"):
        scenes.SceneDataset("train", 0)


def test_draw_and_gallery(val_ds):
    image, target = val_ds[0]
    out = scenes.draw(image, target)
    assert out.shape == (3, 160, 160) and out.dtype == torch.uint8
    pred = {**target, "scores": torch.linspace(1, 0.1, len(target["labels"]))}
    assert scenes.draw(image, pred, score_min=0.5, masks=False).shape == (3, 160, 160)
    fig = scenes.gallery(val_ds, n=4, cols=2)
    assert len(fig.axes) == 4
