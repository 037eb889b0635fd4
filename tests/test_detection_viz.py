"""detection_viz.show_detections draws masks only when asked (notebook 10's Mask R-CNN panel asks)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from course_utils import scenes  # noqa: E402
from course_utils.detection_viz import show_detections  # noqa: E402


def test_show_detections_draws_masks_only_when_asked():
    ds = scenes.SceneDataset("val", n=2, size=128)
    preds = [{**target, "scores": torch.ones(len(target["labels"]))} for _, target in (ds[0], ds[1])]
    plain = show_detections(ds, preds, range(2))
    with_masks = show_detections(ds, preds, range(2), masks=True)
    for row in range(2):           # ground truth, then detections
        a = plain.axes[row * 2].images[0].get_array()
        b = with_masks.axes[row * 2].images[0].get_array()
        assert a.shape == b.shape and not np.array_equal(a, b)
    plt.close("all")
