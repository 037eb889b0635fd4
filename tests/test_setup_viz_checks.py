"""setup(), the plots and the exercise checks."""
import random

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")

from course_utils import checks, config, env as S, toydata, viz, widgets  # noqa: E402


def test_setup_seeds_and_reports(capsys):
    dev = S.setup(seed=7)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    S.setup(seed=7, quiet=True)
    assert a == (random.random(), np.random.rand(), torch.rand(1).item())
    line = capsys.readouterr().out
    assert dev.type in {"cpu", "cuda", "mps"}
    assert "torch " in line and "torchvision " in line and "mode: " in line and line.count("\n") == 1


def test_setup_bad_seed():
    with pytest.raises(ValueError, match="seed"):
        S.seed_everything(-1)


def test_fast_flag_is_read_from_env_in_one_place():
    assert config.FAST is True  # the test command sets COURSE_FAST=1
    assert config.pick(full=10, fast=1) == 1


def test_show_images_and_mistakes():
    imgs = torch.rand(6, 1, 8, 8)
    fig = viz.show_images(imgs, torch.arange(6), classes=list("abcdef"), predictions=[0, 1, 2, 0, 0, 0], ncols=3)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 6 and titles[3].startswith("pred a")
    logits = torch.eye(6)[[0, 1, 2, 0, 0, 0]] * 5
    fig = viz.show_mistakes(imgs, torch.arange(6), logits, n=2)
    assert "2 most confident mistakes (of 3)" in fig._suptitle.get_text()
    assert viz.show_mistakes(imgs, torch.arange(6), torch.eye(6)) is None
    with pytest.raises(ValueError, match="images is empty"):
        viz.show_images([])


def test_confusion_matrix_plot():
    fig = viz.plot_confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2], classes=["a", "b", "c"])
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts.count("1") == 4 and texts.count("0") == 5
    with pytest.raises(ValueError, match="same shape"):
        viz.plot_confusion_matrix([0, 1], [0])


def test_check_value(capsys):
    assert checks.check_value(0.5, 0.5 + 1e-9, "p")
    assert not checks.check_value(0.4, 0.5, "p", hint="Think TP / (TP + FP).")
    assert not checks.check_value(..., 0.5)
    assert not checks.check_value([1, 2], [1, 2, 3])
    out = capsys.readouterr().out
    assert "✅ p" in out and "TP / (TP + FP)" in out and "Replace the ..." in out and "shape" in out


def test_check_function(capsys):
    ref = lambda a: a * 2
    assert checks.check_function(lambda a: a + a, ref, [(1,), (np.arange(3),)])
    assert not checks.check_function(lambda a: a + 1, ref, [(1,), (2,)])
    def todo(a):
        raise NotImplementedError
    assert not checks.check_function(todo, ref, [(1,)])
    assert not checks.check_function(lambda a: 1 / 0, ref, [(1,)])
    out = capsys.readouterr().out
    assert "Case 1 gives" in out and "NotImplementedError" in out and "ZeroDivisionError" in out


def test_check_model_output(capsys):
    assert checks.check_model_output(torch.nn.Linear(4, 2), (3, 4), (3, 2))
    assert not checks.check_model_output(torch.nn.Linear(4, 2), (3, 5), (3, 2))
    assert not checks.check_model_output(torch.nn.Linear(4, 3), (3, 4), (3, 2))


def test_widgets_fallback_draws_once(capsys):
    import ipywidgets as W
    calls = []
    assert widgets.interactive(lambda lr: calls.append(lr), {"lr": W.FloatSlider(value=0.1)}) is None
    assert calls == [0.1] and "Widgets cannot render here" in capsys.readouterr().out
    with pytest.raises(ValueError, match="controls is empty"):
        widgets.interactive(lambda: None, {})


def _threshold_figure(threshold):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 2))
    fig.subplots().axvline(threshold)
    return fig


def test_widget_redraws_a_figure_on_change(monkeypatch):
    import ipywidgets as W
    monkeypatch.setattr(widgets, "widgets_available", lambda: True)
    monkeypatch.setattr("IPython.display.display", lambda *a, **kw: None)
    slider = W.FloatSlider(value=0.2, min=0, max=1)
    calls = []
    box = widgets.interactive(lambda threshold: calls.append(threshold) or _threshold_figure(threshold),
                              {"threshold": slider})
    image = box.children[-2]
    first = bytes(image.value)
    assert first.startswith(b"\x89PNG") and calls == [0.2]
    slider.value = 0.9
    assert box.wait_redrawn(10)
    assert calls == [0.2, 0.9] and bytes(image.value) != first


def test_widget_shows_errors_and_wrong_returns_under_the_image(monkeypatch):
    import ipywidgets as W
    monkeypatch.setattr(widgets, "widgets_available", lambda: True)
    monkeypatch.setattr("IPython.display.display", lambda *a, **kw: None)
    slider = W.IntSlider(value=1)
    box = widgets.interactive(lambda n: _threshold_figure(n) if n == 1 else "not a figure", {"n": slider})
    slider.value = 2
    assert box.wait_redrawn(10)
    assert "must return a matplotlib.figure.Figure" in box.children[-1].value
    slider.value = 3
    box.wait_redrawn(10)
    assert "must return a matplotlib.figure.Figure" in box.children[-1].value


def test_widget_draws_only_the_latest_of_quick_changes(monkeypatch):
    import threading
    import time

    import ipywidgets as W
    monkeypatch.setattr(widgets, "widgets_available", lambda: True)
    monkeypatch.setattr("IPython.display.display", lambda *a, **kw: None)
    slider = W.IntSlider(value=0, max=100)
    calls, gate = [], threading.Event()

    def slow(n):
        calls.append(n)
        if n:
            gate.wait(5)  # the first redraw is still drawing while the slider moves on
        return _threshold_figure(n / 100)
    box = widgets.interactive(slow, {"n": slider})
    assert "cu-interactive" in box._dom_classes
    for n in range(1, 6):
        slider.value = n
        time.sleep(0.05)
    assert "cu-busy" in box._dom_classes
    gate.set()
    assert box.wait_redrawn(10) and "cu-busy" not in box._dom_classes
    assert calls[0] == 0 and calls[1] == 1 and calls[-1] == 5 and len(calls) < 6  # 2, 3, 4 skipped


def test_toydata():
    x, y = toydata.cricket()
    assert len(x) == 13 and np.polyfit(x, y, 1) == pytest.approx([2.9057, 32.5128], abs=1e-4)
    X, h = toydata.height()
    assert X.shape == (10, 2) and h.shape == (10, 1)
    for name in ["rings", "xor", "gaussian", "spiral"]:
        X, y = toydata.make_2d(name, n=100)
        assert X.shape == (100, 2) and set(np.unique(y)) == {0, 1}
    with pytest.raises(ValueError, match="'rings'"):
        toydata.make_2d("moons")


def test_single_thread_restores_the_thread_count():
    before = torch.get_num_threads()
    with S.single_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_animation_is_an_animated_png_of_the_frames():
    import io

    from matplotlib.figure import Figure
    from PIL import Image as PILImage

    def frames():
        fig = Figure(figsize=(2, 1), dpi=50)
        ax = fig.subplots()
        for x in range(3):
            ax.clear()
            ax.axvline(x)
            ax.set_xlim(0, 2)
            yield fig
    img = viz.animation(frames(), duration=200)
    with PILImage.open(io.BytesIO(img.data)) as im:
        assert im.is_animated and im.n_frames == 3 and im.size == (100, 50) and im.info["duration"] == 200
    red = np.zeros((4, 6, 3), np.uint8)
    red[..., 0] = 255
    assert PILImage.open(io.BytesIO(viz.animation_png([red, red[::-1].copy() * 0], 100))).n_frames == 2
    with pytest.raises(ValueError, match="same size"):
        viz.animation_png([red, np.zeros((5, 6, 3), np.uint8)])
    with pytest.raises(ValueError, match="frames is empty"):
        viz.animation_png([])
    with pytest.raises(ValueError, match="duration"):
        viz.animation_png([red], duration=0)
