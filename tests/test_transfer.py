"""Transfer learning helpers: honest target data, hook features, probes, freezing, schedules, BatchNorm."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import TensorDataset  # noqa: E402
from torchvision.models import mobilenet_v2  # noqa: E402
from torchvision.models.feature_extraction import create_feature_extractor  # noqa: E402

from course_utils import transfer as T  # noqa: E402
from course_utils import transfer_viz as TV  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def untrained(monkeypatch):
    """mobilenet_v2_classifier without weight files: an untrained torchvision MobileNetV2 with our classifier."""
    from course_utils import pretrained

    monkeypatch.setattr(pretrained, "mobilenet_v2", lambda pretrained=True: mobilenet_v2(weights=None))
    torch.manual_seed(0)
    return T.mobilenet_v2_classifier


# ---------------------------------------------------------------- data
def test_textures_are_balanced_and_reproducible():
    a, b = T.load_textures(), T.load_textures()
    assert a.classes == ["brick", "grass", "gravel", "tissue"]
    assert a.train.tensors[0].shape[1:] == (1, 64, 64)
    for split in ("train", "val", "test"):
        ya = getattr(a, split).tensors[1]
        assert len(set(torch.bincount(ya).tolist())) == 1  # the same count for every class
        assert torch.equal(getattr(a, split).tensors[0], getattr(b, split).tensors[0])
    assert 0.0 <= a.train.tensors[0].min() and a.train.tensors[0].max() <= 1.0
    assert not torch.equal(T.load_textures(seed=1).test.tensors[0], a.test.tensors[0])


def test_texture_splits_share_no_pixel(monkeypatch):
    """Photos whose pixel values encode their position: every patch then says which pixels it covers."""
    h = w = 512
    position = (np.arange(h * w, dtype=np.float64).reshape(h, w))
    monkeypatch.setattr(T, "texture_photos", lambda: {name: position + k * h * w for k, name in
                                                      enumerate(T.TEXTURE_PHOTOS)})
    data = T.load_textures()
    covered = {s: set(getattr(data, s).tensors[0].double().flatten().tolist()) for s in ("train", "val", "test")}
    assert covered["train"] and covered["val"] and covered["test"]
    assert not covered["train"] & covered["test"]
    assert not covered["train"] & covered["val"]
    assert not covered["val"] & covered["test"]


def test_texture_blocks_and_patches():
    blocks = T.texture_blocks(16, 3, 4, seed=0)
    assert sorted(blocks["train"] + blocks["val"] + blocks["test"]) == list(range(16))
    assert (len(blocks["val"]), len(blocks["test"])) == (3, 4)
    with pytest.raises(ValueError, match="val_blocks"):
        T.texture_blocks(4, 2, 2)
    assert T.cut_patches(np.zeros((128, 128)), 64, 32).shape == (9, 64, 64)
    with pytest.raises(ValueError, match="at least"):
        T.cut_patches(np.zeros((32, 32)), 64, 32)
    with pytest.raises(ValueError, match="patch_size"):
        T.load_textures(patch_size=256)


def test_faces_and_digits():
    faces = T.load_faces()
    assert len(faces.train) + len(faces.val) + len(faces.test) == 200
    assert faces.classes == ["non-face", "face"]
    assert torch.bincount(faces.test.tensors[1]).tolist() == [30, 30]  # stratified
    digits = T.load_digits_target(train_size=300, val_size=100, test_size=200)
    assert (len(digits.train), len(digits.val), len(digits.test)) == (300, 100, 200)


def test_per_class_subset():
    ds = TensorDataset(torch.arange(30), torch.arange(30) % 3)
    sub = T.per_class_subset(ds, 4, seed=0)
    assert torch.bincount(sub.tensors[1]).tolist() == [4, 4, 4]
    assert torch.equal((sub.tensors[0] % 3), sub.tensors[1])  # images still match their labels
    assert not torch.equal(sub.tensors[0], T.per_class_subset(ds, 4, seed=1).tensors[0])
    assert T.per_class_subset(ds, None) is ds
    with pytest.raises(ValueError, match="only 10"):
        T.per_class_subset(ds, 11)


def test_imagenet_inputs():
    x = torch.full((2, 1, 28, 28), 0.485)
    out = T.imagenet_inputs(x, 64)
    assert out.shape == (2, 3, 64, 64)
    assert out[:, 0].abs().max() < 1e-5  # the mean of the red channel maps to 0
    assert torch.allclose(out[:, 1], torch.full_like(out[:, 1], (0.485 - 0.456) / 0.224), atol=1e-5)
    with pytest.raises(ValueError, match="batch"):
        T.imagenet_inputs(torch.zeros(3, 8, 8), 16)


# ---------------------------------------------------------------- features and probes
def test_hook_features_match_create_feature_extractor():
    torch.manual_seed(0)
    model = mobilenet_v2(weights=None).eval()
    layers = list(T.MOBILENET_V2_STAGES.values())
    x = torch.randn(5, 3, 64, 64)
    ours = T.extract_features(model, layers + [layers[0]], x, batch_size=2, grid=None)
    with torch.no_grad():
        theirs = create_feature_extractor(model, return_nodes=layers)(x)
    for layer in layers:
        assert torch.allclose(ours[layer], theirs[layer], atol=1e-5)
    pooled = T.extract_features(model, layers, x, grid=1)
    assert torch.allclose(pooled["features.18"], theirs["features.18"].mean((2, 3)), atol=1e-5)
    assert all(not m._forward_hooks for m in model.modules())  # every hook removed
    with pytest.raises(ValueError, match="not submodules"):
        T.extract_features(model, ["features.99"], x)


def test_linear_probe_matches_scikit_learn():
    from sklearn.linear_model import LogisticRegression

    g = torch.Generator().manual_seed(0)
    x = torch.randn(150, 12, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    W, b = T.linear_probe(x, y, C=0.3)
    sk = LogisticRegression(C=0.3, max_iter=10_000, tol=1e-10).fit(x.numpy(), y.numpy())
    assert np.abs(W.numpy() - sk.coef_).max() < 1e-3
    assert np.abs(b.numpy() - sk.intercept_).max() < 1e-3
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = x[:, :3].argmax(1)  # linearly separable classes
    acc = T.probe_accuracy(x[:100], y[:100], x[100:], y[100:], C=0.3)
    sk_acc = make_pipeline(StandardScaler(), LogisticRegression(C=0.3, max_iter=10_000)).fit(
        x[:100].numpy(), y[:100].numpy()).score(x[100:].numpy(), y[100:].numpy())
    assert acc == pytest.approx(sk_acc) and acc > 0.8
    with pytest.raises(ValueError, match="features"):
        T.linear_probe(x[:, 0], y)


def test_nearest_neighbours_match_scikit_learn():
    from sklearn.neighbors import NearestNeighbors

    g = torch.Generator().manual_seed(0)
    gallery, queries = torch.randn(40, 6, generator=g), torch.randn(7, 6, generator=g)
    ours = T.nearest_neighbours(queries, gallery, k=4)
    theirs = NearestNeighbors(n_neighbors=4, metric="cosine").fit(gallery.numpy()).kneighbors(
        queries.numpy(), return_distance=False)
    assert (ours.numpy() == theirs).all()


def test_standardize_uses_training_statistics():
    a, b = torch.tensor([[0.0, 1.0], [2.0, 1.0]]), torch.tensor([[4.0, 3.0]])
    sa, sb = T.standardize(a, b)
    assert torch.allclose(sa, torch.tensor([[-1.0, 0.0], [1.0, 0.0]]))
    assert torch.allclose(sb, torch.tensor([[3.0, 2.0]]))


# ---------------------------------------------------------------- freezing and schedules
def test_groups_cover_every_parameter_and_set_trainable(untrained, capsys):
    model = untrained(5, neck=16)
    groups = T.group_parameters(model, T.MOBILENET_V2_GROUPS)
    assert sum(p.numel() for ps in groups.values() for p in ps) == sum(p.numel() for p in model.parameters())
    T.set_trainable(model, T.MOBILENET_V2_GROUPS, ["head"])
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 16 * 5 + 5
    rows = T.trainable_table(model, T.MOBILENET_V2_GROUPS)
    assert {r["group"]: r["trainable"] for r in rows}["head"] == 85 and "total" in capsys.readouterr().out
    with pytest.raises(ValueError, match="unknown groups"):
        T.set_trainable(model, T.MOBILENET_V2_GROUPS, ["stage9"])
    with pytest.raises(ValueError, match="in no group"):
        T.group_parameters(model, {"head": ["classifier.head"]})


def test_split_at_gives_the_same_network(untrained):
    model = untrained(3).eval()
    prefix, tail = T.split_at(model, 14)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(tail(prefix(x)), model(x), atol=1e-5)
    with pytest.raises(ValueError, match="first_trained"):
        T.split_at(model, 0)


def test_param_groups_and_warmup(untrained):
    model = untrained(3, neck=8)
    T.set_trainable(model, T.MOBILENET_V2_GROUPS, ["stage4", "neck", "head"])
    groups = T.param_groups(model, T.MOBILENET_V2_GROUPS, lr=1.0, decay=0.5)
    assert [(g["name"], g["lr"]) for g in groups] == [("head", 1.0), ("neck", 0.5), ("stage4", 0.25)]
    T.set_trainable(model, T.MOBILENET_V2_GROUPS, [])
    with pytest.raises(ValueError, match="no trainable"):
        T.param_groups(model, T.MOBILENET_V2_GROUPS, lr=1.0)
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = T.warmup_cosine(opt, warmup_steps=4, total_steps=10)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert lrs[4] == pytest.approx(1.0) and lrs[-1] < 0.1 and all(a >= b for a, b in zip(lrs[3:], lrs[4:]))
    with pytest.raises(ValueError, match="warmup_steps"):
        T.warmup_cosine(opt, 10, 10)


def test_run_stages_trains_only_the_named_groups(untrained):
    from course_utils.data import TensorLoader

    model = untrained(2, neck=8)
    g = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(8, 3, 32, 32, generator=g), torch.tensor([0, 1] * 4))
    loader = TensorLoader(data, batch_size=4)
    stem_before = model.features[0][0].weight.clone()
    stage4 = model.features[16].conv[0][0].weight.clone()
    bn_stem_before = model.features[0][1].running_mean.clone()
    stages = [T.Stage("head", ("neck", "head"), epochs=1, lr=1e-2),
              T.Stage("stage4", ("stage4", "neck", "head"), epochs=1, lr=1e-2, decay=0.5, warmup_steps=1)]
    histories = T.run_stages(model, T.MOBILENET_V2_GROUPS, stages, loader, verbose=False, live_plot=False,
                             progress=False)
    assert len(histories) == 2 and all(len(h) == 1 for h in histories)
    assert torch.equal(model.features[0][0].weight, stem_before)             # frozen throughout
    assert torch.equal(model.features[0][1].running_mean, bn_stem_before)   # frozen BN kept its statistics
    assert not torch.equal(model.features[16].conv[0][0].weight, stage4)     # trained in stage 2
    assert not model.features[0][1]._forward_pre_hooks                       # hooks removed


# ---------------------------------------------------------------- BatchNorm
def test_requires_grad_false_does_not_freeze_running_stats_but_eval_does(untrained):
    model = untrained(2)
    T.set_trainable(model, T.MOBILENET_V2_GROUPS, [])
    x = torch.randn(4, 3, 32, 32)
    before = T.bn_running_means(model)
    with torch.no_grad():
        model.train()(x)
    assert (T.bn_running_means(model) - before).abs().max() > 1e-3
    T.set_bn_eval(model)
    before = T.bn_running_means(model)
    with torch.no_grad():
        model(x)
    assert torch.equal(T.bn_running_means(model), before)
    model.train()  # undoes set_bn_eval ...
    handles = T.keep_bn_eval(model)  # ... but not keep_bn_eval
    with torch.no_grad():
        model(x)
    assert torch.equal(T.bn_running_means(model), before)
    for h in handles:
        h.remove()
    with torch.no_grad():
        model.train()(x)
    assert not torch.equal(T.bn_running_means(model), before)
    assert len(T.batchnorm_layers(model)) == 52


def test_finetune_returns_an_accuracy_and_bn_eval_keeps_stats(untrained):
    model = untrained(2)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 3, 32, 32, generator=g)
    data = TensorDataset(x, torch.tensor([0, 1] * 4))
    before = T.bn_running_means(model)
    acc = T.finetune(model, data, data, steps=2, batch_size=4, bn_eval=True)
    assert 0.0 <= acc <= 1.0
    assert torch.equal(T.bn_running_means(model), before)


def test_finetune_precise_bn_recomputes_statistics_on_the_training_set(untrained):
    from course_utils.data import TensorLoader

    model = untrained(2)
    g = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(12, 3, 32, 32, generator=g) * 2 + 1, torch.tensor([0, 1] * 6))
    T.finetune(model, data, data, steps=3, batch_size=4)
    after = T.bn_running_means(model)
    torch.optim.swa_utils.update_bn(TensorLoader(data, batch_size=12, shuffle=False), model)
    assert torch.allclose(T.bn_running_means(model), after, atol=1e-4)  # already the whole-set statistics
    moving = untrained(2)
    T.finetune(moving, data, data, steps=3, batch_size=4, precise_bn=False)
    moving_stats = T.bn_running_means(moving)  # a moving average of mini-batch statistics ...
    torch.optim.swa_utils.update_bn(TensorLoader(data, batch_size=12, shuffle=False), moving)
    assert not torch.allclose(T.bn_running_means(moving), moving_stats, atol=1e-4)  # ... not the whole-set ones


# ---------------------------------------------------------------- exercise checks
def test_check_trainable_count(untrained, capsys):
    model = untrained(4)
    assert not T.check_trainable_count(model, ...)
    assert "not done yet" in capsys.readouterr().out
    assert not T.check_trainable_count(model, 5124)  # everything is still trainable
    T.set_trainable(model, T.MOBILENET_V2_GROUPS, ["head"])
    assert T.check_trainable_count(model, 5124)
    assert not T.check_trainable_count(model, 5120)


def test_check_hook_features(capsys):
    def right(model, layer, x):
        out = {}
        h = model.get_submodule(layer).register_forward_hook(lambda m, i, o: out.update(v=o))
        with torch.no_grad():
            model(x)
        h.remove()
        return out["v"]

    def pooled(model, layer, x):
        return right(model, layer, x).mean((2, 3))

    assert T.check_hook_features(right)
    assert not T.check_hook_features(pooled)
    assert not T.check_hook_features(lambda m, layer, x: ...)
    assert "nothing" in capsys.readouterr().out


# ---------------------------------------------------------------- figures
def test_figures_draw():
    import matplotlib.pyplot as plt

    TV.show_texture_split()
    df = pd.DataFrame({"method": ["a", "a", "b", "b"], "per_class": [1, 5, 1, 5], "seed": 0,
                       "accuracy": [0.5, 0.7, 0.3, 0.4]})
    TV.plot_label_curve(df, chance=0.25)
    probes = pd.DataFrame({"target": "t", "stage": ["s1", "s2"], "seed": 0, "accuracy": [0.5, 0.6]})
    TV.plot_stage_probes(probes)
    imgs = torch.rand(5, 1, 8, 8)
    TV.show_retrieval(imgs[:2], imgs, torch.tensor([[1, 2], [3, 4]]), [0, 1], [0, 1, 0, 1, 0], ["x", "y"])
    TV.plot_embedding(np.random.default_rng(0).normal(size=(5, 2)), [0, 1, 0, 1, 0], ["x", "y"], "map")
    plt.close("all")
