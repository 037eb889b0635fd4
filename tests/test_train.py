"""fit / evaluate / predict / checkpoints, including every failure case a student can hit."""
import math
import threading

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_utils import train as T
from course_utils.data import TensorLoader
from course_utils.history import History


def test_fit_learns_and_returns_history(tiny_data, tiny_model):
    tr, va = tiny_data
    opt = torch.optim.Adam(tiny_model.parameters(), lr=1e-2)
    h = T.fit(tiny_model, tr, va, epochs=10, optimizer=opt, progress=False, verbose=False)
    assert isinstance(h, History) and len(h) == 10
    assert set(h.keys()) >= {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds"}
    assert h["train_loss"][-1] < h["train_loss"][0]
    assert h["val_accuracy"][-1] > 0.85


def test_fit_works_with_plain_dataloader(tiny_data, tiny_model):
    tr, _ = tiny_data
    dl = DataLoader(tr.dataset, batch_size=32, shuffle=True)
    h = T.fit(tiny_model, dl, epochs=2, progress=False, verbose=False)
    assert len(h) == 2 and "val_loss" not in h.keys()


def test_fit_matches_plain_loop_weights(tiny_data):
    """fit() does exactly the plain PyTorch loop: same seed -> same final weights."""
    tr, _ = tiny_data
    x, y = tr.dataset.tensors
    def make():
        torch.manual_seed(1)
        return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    a, b = make(), make()
    loader = TensorLoader(TensorDataset(x, y), batch_size=32, shuffle=False)
    T.fit(a, loader, epochs=3, optimizer=torch.optim.SGD(a.parameters(), lr=0.1), progress=False, verbose=False)
    opt = torch.optim.SGD(b.parameters(), lr=0.1)
    for _ in range(3):
        for i in range(0, len(x), 32):
            loss = nn.functional.cross_entropy(b(x[i:i + 32]), y[i:i + 32])
            opt.zero_grad(); loss.backward(); opt.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb)


def test_same_seed_same_history(tiny_data):
    runs = []
    for _ in range(2):
        torch.manual_seed(3)
        m = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))
        h = T.fit(m, *tiny_data, epochs=3, progress=False, verbose=False)
        runs.append([{k: v for k, v in r.items() if k != "seconds"} for r in h.rows])
    assert runs[0] == runs[1]


def test_early_stopping_restores_best_weights(tiny_data, tiny_model):
    tr, va = tiny_data
    # a huge learning rate makes validation loss get worse after the first epochs
    opt = torch.optim.SGD(tiny_model.parameters(), lr=5.0)
    h = T.fit(tiny_model, tr, va, epochs=30, optimizer=opt, early_stopping=2, clip_grad_norm=50.0,
              progress=False, verbose=False)
    best = h.best_epoch()
    assert len(h) < 30, "should have stopped early"
    assert len(h) - best == 2
    got = T.evaluate(tiny_model, va)["loss"]
    assert got == pytest.approx(min(h["val_loss"]), rel=1e-5)


def test_monitor_accuracy_higher_is_better(tiny_data, tiny_model):
    h = T.fit(tiny_model, *tiny_data, epochs=3, monitor="val_accuracy", early_stopping=5,
              progress=False, verbose=False)
    assert h.best_epoch() == max(h.rows, key=lambda r: r["val_accuracy"])["epoch"]


def test_monitor_unknown_name_is_explained(tiny_data, tiny_model):
    with pytest.raises(ValueError, match="monitor='val_f1'"):
        T.fit(tiny_model, *tiny_data, epochs=1, monitor="val_f1", progress=False, verbose=False)


def test_keyboard_interrupt_returns_history_and_best_weights(tiny_data, tiny_model):
    tr, va = tiny_data

    class StopAfter:
        """A loader that behaves like a student pressing Stop during epoch 3."""
        def __init__(self, inner, stop_epoch):
            self.inner, self.stop_epoch, self.epoch = inner, stop_epoch, 0
        def __len__(self):
            return len(self.inner)
        def __iter__(self):
            self.epoch += 1
            for i, batch in enumerate(self.inner):
                if self.epoch == self.stop_epoch and i == 2:
                    raise KeyboardInterrupt
                yield batch

    h = T.fit(tiny_model, StopAfter(tr, 3), va, epochs=10, progress=False, verbose=False)
    assert len(h) == 2  # two complete epochs come back
    assert T.evaluate(tiny_model, va)["loss"] == pytest.approx(min(h["val_loss"]), rel=1e-5)


def test_nonfinite_loss_names_epoch_and_step(tiny_data, tiny_model):
    tr, va = tiny_data
    x, y = tr.dataset.tensors
    x = x.clone()
    x[40] = float("nan")  # batch 2 of epoch 1 (no shuffling)
    bad = TensorLoader(TensorDataset(x, y), batch_size=32, shuffle=False)
    with pytest.raises(FloatingPointError, match=r"epoch 1, step 2.*lower learning rate"):
        T.fit(tiny_model, bad, va, epochs=2, progress=False, verbose=False)


def test_float_labels_of_wrong_shape_are_explained(tiny_data, tiny_model):
    x, y = tiny_data[0].dataset.tensors
    bad = TensorLoader(TensorDataset(x, y.float().unsqueeze(1)), batch_size=32)
    with pytest.raises(ValueError, match=r"targets \(labels\).*torch.long"):
        T.fit(tiny_model, bad, epochs=1, progress=False, verbose=False)


def test_labels_out_of_range_are_explained(tiny_data, tiny_model):
    x, y = tiny_data[0].dataset.tensors
    bad = TensorLoader(TensorDataset(x, y + 5), batch_size=32)
    with pytest.raises(ValueError, match="targets"):
        T.fit(tiny_model, bad, epochs=1, progress=False, verbose=False)


def test_model_and_data_on_different_devices(tiny_data):
    meta_model = nn.Linear(8, 2, device="meta")
    with pytest.raises(ValueError, match=r"train_data holds its data on cpu but the model is on meta"):
        T.fit(meta_model, tiny_data[0], epochs=1, progress=False, verbose=False)


def test_model_split_across_devices():
    model = nn.Sequential(nn.Linear(8, 2), nn.Linear(2, 2, device="meta"))
    with pytest.raises(ValueError, match="several devices"):
        T.model_device(model)


def test_empty_dataset(tiny_model):
    empty = TensorLoader(TensorDataset(torch.zeros(0, 8), torch.zeros(0, dtype=torch.long)), batch_size=4)
    with pytest.raises(ValueError, match="train_data is empty"):
        T.fit(tiny_model, empty, epochs=1, progress=False, verbose=False)


def test_empty_iterable_without_len(tiny_model):
    with pytest.raises(ValueError, match="no batches"):
        T.fit(tiny_model, iter([]), epochs=1, progress=False, verbose=False)


def test_non_scalar_loss(tiny_data, tiny_model):
    with pytest.raises(ValueError, match="not a scalar.*reduction='mean'"):
        T.fit(tiny_model, tiny_data[0], epochs=1, loss_fn=nn.CrossEntropyLoss(reduction="none"),
              progress=False, verbose=False)


def test_bad_epochs(tiny_data, tiny_model):
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        T.fit(tiny_model, tiny_data[0], epochs=0)


def test_checkpoint_resume_gives_same_result_as_uninterrupted(tiny_data, tmp_path):
    tr, va = tiny_data
    def make():
        torch.manual_seed(5)
        m = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
        opt = torch.optim.Adam(m.parameters(), lr=1e-2)
        return m, opt, torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    m1, o1, s1 = make()
    torch.manual_seed(9)
    h_full = T.fit(m1, tr, va, epochs=4, optimizer=o1, scheduler=s1, progress=False, verbose=False)

    ckpt = tmp_path / "run.pt"
    m2, o2, s2 = make()
    torch.manual_seed(9)
    T.fit(m2, tr, va, epochs=2, optimizer=o2, scheduler=s2, checkpoint_path=ckpt, progress=False, verbose=False)
    m3, o3, s3 = make()  # a fresh process: new model, optimizer and scheduler
    h_resumed = T.fit(m3, tr, va, epochs=4, optimizer=o3, scheduler=s3, checkpoint_path=ckpt, resume=True,
                      progress=False, verbose=False)
    assert len(h_resumed) == 4
    assert h_resumed["lr"] == h_full["lr"]
    for a, b in zip(m1.parameters(), m3.parameters()):
        torch.testing.assert_close(a, b)


def test_interrupted_checkpoint_write_keeps_previous(tiny_model, tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    T.save_checkpoint(path, tiny_model, epoch=1)
    before = path.read_bytes()

    def crash(obj, f, *a, **k):
        with open(f, "wb") as fh:
            fh.write(b"half a checkpoi")
        raise OSError("disk full")
    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        T.save_checkpoint(path, tiny_model, epoch=2)
    assert path.read_bytes() == before
    monkeypatch.undo()
    assert T.load_checkpoint(path, tiny_model)["epoch"] == 1


def test_load_checkpoint_is_weights_only(tiny_model, tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model": tiny_model.state_dict(), "payload": threading.Lock}, path)
    with pytest.raises(Exception, match="(?i)weights_only|unsupported|global"):
        T.load_checkpoint(path, tiny_model)


def test_load_checkpoint_missing_file(tiny_model, tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        T.load_checkpoint(tmp_path / "nope.pt", tiny_model)


def test_custom_step_fn_with_dict_of_losses(tiny_data, tiny_model):
    """A model that returns a dict of losses (like torchvision detection) trains through fit()."""
    calls = []

    def step(model, batch):
        x, y = batch
        out = model(x)
        calls.append(1)
        return {"loss_cls": nn.functional.cross_entropy(out, y), "loss_l2": 1e-3 * out.pow(2).mean()}
    h = T.fit(tiny_model, *tiny_data, epochs=3, step_fn=step, progress=False, verbose=False)
    assert {"train_loss_cls", "train_loss_l2", "train_loss", "val_loss"} <= set(h.keys())
    assert h["train_loss"][-1] < h["train_loss"][0]
    assert h["train_loss"][0] == pytest.approx(h["train_loss_cls"][0] + h["train_loss_l2"][0], rel=1e-5)


def test_scheduler_epoch_and_plateau(tiny_data, tiny_model):
    opt = torch.optim.SGD(tiny_model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0)
    h = T.fit(tiny_model, *tiny_data, epochs=6, optimizer=opt, scheduler=sched, progress=False, verbose=False)
    assert len(h) == 6 and all(lr in (0.1, 0.05, 0.025, 0.0125, 0.00625, 0.003125) for lr in h["lr"])


def test_scheduler_per_step(tiny_data, tiny_model):
    tr, va = tiny_data
    opt = torch.optim.SGD(tiny_model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=3 * len(tr))
    T.fit(tiny_model, tr, va, epochs=3, optimizer=opt, scheduler=sched, scheduler_per_step=True,
          progress=False, verbose=False)
    assert sched.last_epoch == 3 * len(tr)


def test_gradient_clipping_bounds_update(tiny_data):
    torch.manual_seed(0)
    m = nn.Linear(8, 2)
    before = m.weight.detach().clone()
    x, y = tiny_data[0].dataset.tensors
    one = TensorLoader(TensorDataset(x[:32] * 1e4, y[:32]), batch_size=32, shuffle=False)
    T.fit(m, one, epochs=1, optimizer=torch.optim.SGD(m.parameters(), lr=1.0), clip_grad_norm=0.1,
          progress=False, verbose=False)
    assert (m.weight - before).norm() <= 0.1 + 1e-6


def test_evaluate_and_predict(tiny_data, tiny_model):
    tr, va = tiny_data
    T.fit(tiny_model, tr, va, epochs=3, progress=False, verbose=False)
    stats = T.evaluate(tiny_model, va)
    logits, targets = T.predict(tiny_model, va)
    assert logits.shape == (64, 2) and targets.shape == (64,)
    acc = (logits.argmax(1) == targets).float().mean().item()
    assert acc == pytest.approx(stats["accuracy"])
    only_x = T.predict(tiny_model, va.dataset.tensors[0])[0]
    torch.testing.assert_close(only_x, logits)


def test_accuracy_metric():
    out = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert T.accuracy(out, torch.tensor([0, 1, 1])).item() == pytest.approx(2 / 3)


def test_to_device_nested():
    batch = ([torch.zeros(1)], {"boxes": torch.ones(2)}, "name")
    moved = T.to_device(batch, torch.device("cpu"))
    assert moved[2] == "name" and moved[1]["boxes"].sum() == 2


def test_history_roundtrip_and_plot(tiny_data, tiny_model):
    h = T.fit(tiny_model, *tiny_data, epochs=2, progress=False, verbose=False)
    again = History.from_dict(h.to_dict())
    assert again.rows == h.rows and again.best_epoch() == h.best_epoch()
    fig = h.plot()
    assert len(fig.axes) == 2 and fig.axes[0].get_xlabel() == "epoch"
    with pytest.raises(KeyError, match="was not logged"):
        h["val_f1"]


def test_plain_text_lines_outside_notebook(tiny_data, tiny_model, capsys):
    T.fit(tiny_model, *tiny_data, epochs=2, progress=False)
    out = capsys.readouterr().out
    assert out.count("epoch ") == 2 and "val_accuracy" in out
    assert math.isfinite(float(out.split("train_loss ")[1].split()[0]))


def test_accuracy_rejects_single_output_models():
    with pytest.raises(ValueError, match=r"\(N, classes\).*metrics=\{\}"):
        T.accuracy(torch.rand(4, 1), torch.ones(4, 1))


# ---------------------------------------------------------------- the GPU code paths, run on the CPU
class _Recorder(nn.Module):
    """A small conv net that records, on every forward, its input layout and the dtype of its output."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Linear(4, 2)
        self.seen: list[tuple[bool, torch.dtype]] = []

    def forward(self, x):
        out = self.head(torch.relu(self.conv(x)).mean((2, 3)))
        self.seen.append((x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous(), out.dtype))
        return out


@pytest.fixture
def images():
    """(train, val) loaders of 96 + 32 random 3x6x6 images whose class is the sign of the red channel's mean."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 3, 6, 6, generator=g)
    y = (x[:, 0].mean((1, 2)) > 0).long()
    return (TensorLoader(TensorDataset(x[:96], y[:96]), batch_size=32, shuffle=False),
            TensorLoader(TensorDataset(x[96:], y[96:]), batch_size=32, shuffle=False))


def _recorder():
    torch.manual_seed(0)
    return _Recorder()


def test_autocast_branches():
    from contextlib import nullcontext

    with T._autocast(torch.device("cpu"), True):
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
    assert isinstance(T._autocast(torch.device("cpu"), False), nullcontext)
    assert isinstance(T._autocast(torch.device("meta"), True), nullcontext)  # e.g. MPS: amp is ignored
    with pytest.warns(UserWarning, match="(?i)cuda"):   # the CUDA branch, short of entering it without a GPU
        ctx = T._autocast(torch.device("cuda"), True)
    assert isinstance(ctx, torch.autocast) and ctx.device == "cuda" and ctx.fast_dtype == torch.bfloat16


def test_fit_defaults_on_cpu_are_float32_and_nchw(images):
    model = _recorder()
    T.fit(model, *images, epochs=1, progress=False, verbose=False)
    assert model.seen and all(dtype == torch.float32 and not nhwc for nhwc, dtype in model.seen)
    assert model.conv.weight.is_contiguous()


def test_fit_amp_runs_bf16_autocast_in_training_and_validation(images):
    model, reference = _recorder(), _recorder()
    h = T.fit(model, *images, epochs=3, amp=True, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
              progress=False, verbose=False)
    h_ref = T.fit(reference, *images, epochs=3, optimizer=torch.optim.SGD(reference.parameters(), lr=0.1),
                  progress=False, verbose=False)
    assert {dtype for _, dtype in model.seen} == {torch.bfloat16}      # 3 train + 1 val batch per epoch, all bf16
    assert len(model.seen) == 3 * (3 + 1)
    assert model.conv.weight.dtype == torch.float32                       # the weights stay float32
    assert all(math.isfinite(v) for v in h["train_loss"] + h["val_loss"])
    assert h["train_loss"] != h_ref["train_loss"]                         # bf16 rounding changes the numbers...
    assert h["train_loss"] == pytest.approx(h_ref["train_loss"], rel=0.05)  # ...but not the training
    stats = T.evaluate(model, images[1], amp=True)
    assert model.seen[-1][1] == torch.bfloat16 and math.isfinite(stats["loss"])
    T.evaluate(model, images[1])                                          # amp=None on the CPU: float32
    assert model.seen[-1][1] == torch.float32


def test_fit_channels_last_converts_model_and_inputs(images):
    model, reference = _recorder(), _recorder()
    T.fit(model, *images, epochs=2, channels_last=True, progress=False, verbose=False)
    T.fit(reference, *images, epochs=2, progress=False, verbose=False)
    assert model.conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert model.seen and all(nhwc for nhwc, _ in model.seen)             # every train and val batch was NHWC
    for a, b in zip(model.parameters(), reference.parameters()):          # same maths, another memory layout
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    T.evaluate(model, images[1], channels_last=False)
    assert not model.seen[-1][0]


def test_channels_last_leaves_non_image_inputs_alone(tiny_data, tiny_model):
    """channels_last only applies to 4-D image batches; an MLP on vectors trains as before."""
    torch.manual_seed(0)
    reference = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    torch.manual_seed(1)  # the same shuffling for both runs
    T.fit(tiny_model, tiny_data[0], epochs=1, channels_last=True, amp=True, progress=False, verbose=False)
    torch.manual_seed(1)
    T.fit(reference, tiny_data[0], epochs=1, amp=True, progress=False, verbose=False)
    for a, b in zip(tiny_model.parameters(), reference.parameters()):
        torch.testing.assert_close(a, b)


# ---------------------------------------------------------------- review fixes (issue 15)
def test_optimizer_of_another_model_is_explained(tiny_data, tiny_model):
    other = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    with pytest.raises(ValueError, match="optimizer holds none of this model's parameters"):
        T.fit(tiny_model, tiny_data[0], epochs=1, optimizer=torch.optim.SGD(other.parameters(), lr=0.1),
              progress=False, verbose=False)


def test_optimizer_on_part_of_the_model_is_fine(tiny_data, tiny_model):
    before = tiny_model[0].weight.detach().clone()
    T.fit(tiny_model, tiny_data[0], epochs=1, optimizer=torch.optim.SGD(tiny_model[2].parameters(), lr=0.1),
          progress=False, verbose=False)
    torch.testing.assert_close(tiny_model[0].weight, before)  # only the head was handed to the optimizer


def test_not_an_optimizer_is_explained(tiny_data, tiny_model):
    with pytest.raises(TypeError, match="optimizer must be a torch.optim.Optimizer"):
        T.fit(tiny_model, tiny_data[0], epochs=1, optimizer=0.1, progress=False, verbose=False)


@pytest.mark.parametrize("metrics", [("acc",), "acc", ["accuracy", "f1"]])
def test_unknown_metric_lists_known_names(tiny_data, tiny_model, metrics):
    with pytest.raises(ValueError, match=r"metrics: unknown name.*known names are \['accuracy'\]"):
        T.fit(tiny_model, *tiny_data, epochs=1, metrics=metrics, progress=False, verbose=False)
    with pytest.raises(ValueError, match="metrics: unknown name"):
        T.evaluate(tiny_model, tiny_data[1], metrics=metrics)


def test_metric_given_as_one_string(tiny_data, tiny_model):
    h = T.fit(tiny_model, *tiny_data, epochs=1, metrics="accuracy", progress=False, verbose=False)
    assert "val_accuracy" in h.keys()


def test_list_of_tensors_instead_of_batches_is_explained(tiny_data, tiny_model):
    x, y = tiny_data[0].dataset.tensors
    with pytest.raises(TypeError, match=r"train_data is a list of 2 tensors.*TensorLoader"):
        T.fit(tiny_model, [x, y], epochs=1, progress=False, verbose=False)
    with pytest.raises(TypeError, match=r"val_data is a tuple of 2 tensors"):
        T.fit(tiny_model, tiny_data[0], (x, y), epochs=1, progress=False, verbose=False)
    with pytest.raises(TypeError, match="train_data is a single tensor"):
        T.fit(tiny_model, x, epochs=1, progress=False, verbose=False)


def test_dataset_instead_of_loader_is_explained(tiny_data, tiny_model):
    with pytest.raises(TypeError, match="train_data is a TensorDataset .*no batches"):
        T.fit(tiny_model, tiny_data[0].dataset, epochs=1, progress=False, verbose=False)


def test_not_iterable_data_is_explained(tiny_model):
    with pytest.raises(TypeError, match="train_data is a int, which cannot be iterated"):
        T.fit(tiny_model, 3, epochs=1, progress=False, verbose=False)


def test_batches_that_are_not_pairs_are_explained(tiny_data, tiny_model):
    x, y = tiny_data[0].dataset.tensors
    triples = [(x[:32], y[:32], torch.arange(32))]
    with pytest.raises(ValueError, match=r"each batch of train_data must be a pair \(inputs, targets\).*tuple of 3"):
        T.fit(tiny_model, triples, epochs=1, progress=False, verbose=False)
    with pytest.raises(ValueError, match="each batch of val_data must be a pair"):
        T.fit(tiny_model, tiny_data[0], [[x[:8]]], epochs=1, progress=False, verbose=False)


def test_a_list_of_tensors_is_fine_with_a_step_fn(tiny_model):
    batches = [torch.randn(4, 8) for _ in range(3)]          # e.g. an autoencoder's unlabelled batches
    h = T.fit(tiny_model, batches, epochs=1, step_fn=lambda m, b: m(b).pow(2).mean(), metrics={},
              progress=False, verbose=False)
    assert len(h) == 1


def _bar_state(monkeypatch):
    """Record the fit() progress bar (plain tqdm) to inspect it after the run."""
    import tqdm.auto

    bars = []

    class Recording(tqdm.auto.tqdm):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            bars.append(self)
    monkeypatch.setattr(tqdm.auto, "tqdm", Recording)
    return bars


def test_early_stopping_finishes_the_progress_bar(tiny_data, tiny_model, monkeypatch):
    bars = _bar_state(monkeypatch)
    tr, va = tiny_data
    opt = torch.optim.SGD(tiny_model.parameters(), lr=5.0)
    h = T.fit(tiny_model, tr, va, epochs=30, optimizer=opt, early_stopping=2, clip_grad_norm=50.0, verbose=False)
    assert len(h) < 30
    (bar,) = bars
    assert bar.n == len(h) * len(tr) and bar.total == bar.n   # closed at 100%, not "failed" at 93%
    assert "early stop" in bar.desc


def test_notebook_progress_bar_closes_green_after_early_stopping(tiny_data, tiny_model, monkeypatch):
    pytest.importorskip("ipywidgets")
    import tqdm.auto
    import tqdm.notebook

    bars = []

    class Recording(tqdm.notebook.tqdm):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            bars.append(self)
    monkeypatch.setattr(tqdm.notebook, "display", lambda *a, **k: None)   # no frontend in a test
    monkeypatch.setattr(tqdm.auto, "tqdm", Recording)
    tr, va = tiny_data
    opt = torch.optim.SGD(tiny_model.parameters(), lr=5.0)
    h = T.fit(tiny_model, tr, va, epochs=30, optimizer=opt, early_stopping=2, clip_grad_norm=50.0, verbose=False,
              live_plot=False)
    (bar,) = bars
    progress = bar.container.children[1]
    assert len(h) < 30 and progress.value == progress.max == len(h) * len(tr)
    assert progress.bar_style == "success"


def test_interrupted_run_still_marks_the_bar_unfinished(tiny_data, tiny_model, monkeypatch):
    bars = _bar_state(monkeypatch)
    tr, va = tiny_data

    class StopInEpoch2:
        def __len__(self):
            return len(tr)
        def __iter__(self):
            self.epoch = getattr(self, "epoch", 0) + 1
            for i, batch in enumerate(tr):
                if self.epoch == 2 and i == 1:
                    raise KeyboardInterrupt
                yield batch
    T.fit(tiny_model, StopInEpoch2(), va, epochs=5, verbose=False)
    assert bars[0].n < bars[0].total   # a stop by the user is not a finished run
