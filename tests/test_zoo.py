"""course_utils.zoo and the mid-term model table: every paper's model, its shape, and its parameter count
against the paper (full-size build) and against a well-known CIFAR implementation (their number, our code)."""
import pytest
import torch
import torchvision
from torch import nn

from course_utils import models as M
from course_utils import zoo as Z
from course_utils.midterm import papers as P


def meta(builder, *args, **kwargs):
    """Build on the meta device: shapes only, instant."""
    with torch.device("meta"):
        return builder(*args, **kwargs)


def n_params(builder, *args, **kwargs) -> int:
    return M.count_params(meta(builder, *args, **kwargs))


# ---------------------------------------------------------------- the 11 papers
def test_every_paper_has_a_kit_model_and_the_list_is_the_slides():
    assert [p.name for p in P.PAPERS] == ["VGG", "MobileNet", "ResNet", "ShuffleNet", "GoogLeNet", "Inception-v3",
                                          "Inception-v4", "Xception", "ResNeXt", "DenseNet", "EfficientNet"]
    assert [p.week for p in P.PAPERS] == [6] * 7 + [7] * 4
    for paper in P.PAPERS:
        for name in (paper.model, *paper.alternatives):
            assert name in M.CIFAR_MODELS, name
            assert P.paper_of(name) is paper
        assert P.resolve_model(paper.name) == paper.model
    assert P.resolve_model("resnet") == "resnet18" and P.resolve_model("Inception-v4") == "inception_v4"
    assert P.paper_of(P.BASELINE) is None


def test_baseline_is_the_slides_cnn():
    assert n_params(Z.slides_cnn) == 315_722          # notebook 01 and the slides
    assert n_params(Z.slides_cnn, in_channels=1, image_size=28) == 225_034


# Their numbers: the public implementation's parameter count, measured by running its code (10 classes).
KUANGLIU = {"VGG16": 14_728_266, "MobileNet": 3_217_226, "ResNet18": 11_173_962, "ShuffleNetG3": 862_768,
            "GoogLeNet": 6_166_250, "ResNeXt29_32x4d": 4_774_218, "DenseNet121": 6_956_298,
            "EfficientNetB0": 3_599_686}
HUYVNPHAN = {"googlenet": 5_490_986, "inception_v3": 21_638_954}


def test_counts_equal_the_reference_implementations():
    assert n_params(M.build_cifar_model, "mobilenet") == KUANGLIU["MobileNet"]
    assert n_params(M.build_cifar_model, "resnet18") == KUANGLIU["ResNet18"]
    assert n_params(M.build_cifar_model, "densenet121") == KUANGLIU["DenseNet121"]
    assert n_params(M.build_cifar_model, "inception_v3") == HUYVNPHAN["inception_v3"]


def test_counts_differ_from_references_exactly_where_the_designs_differ():
    # VGG-16: kuangliu's convs keep a bias before BatchNorm (13 conv layers, 4,224 output channels); ours drop it
    vgg = meta(M.build_cifar_model, "vgg16")
    conv_biases = sum(m.out_channels for m in vgg.modules() if isinstance(m, nn.Conv2d))
    assert M.count_params(vgg) == KUANGLIU["VGG16"] - conv_biases == KUANGLIU["VGG16"] - 4_224
    # ResNeXt-29 (32x4d): kuangliu's stem is a 1x1 conv (3 -> 64), ours the paper's 3x3
    assert n_params(M.build_cifar_model, "resnext29_32x4d") == KUANGLIU["ResNeXt29_32x4d"] + 64 * 3 * (9 - 1)
    # GoogLeNet: huyvnphan (torchvision's layout) uses 3x3 kernels in the "5x5" branches; ours are true 5x5
    extra = sum(c5r * c5 * (25 - 9) for _, _, _, c5r, c5, _ in M._INCEPTION.values())
    assert n_params(M.build_cifar_model, "googlenet") == HUYVNPHAN["googlenet"] + extra
    # EfficientNet-B0: kuangliu has no 1x1 head to 1280 channels and builds an unused expansion conv in block 1
    head, classifier, unused = 320 * 1280 + 2 * 1280, (1280 - 320) * 10, 32 * 32 + 2 * 32
    assert n_params(M.build_cifar_model, "efficientnet_b0") == KUANGLIU["EfficientNetB0"] + head + classifier - unused


def test_shufflenet_against_kuangliu():
    """kuangliu's ShuffleNetG3 (after fixing its Python 3 float division): a 1x1 stem, bottlenecks of a quarter of
    the *branch* output in the stride-2 units, and a classifier bias; ours follow the authors' code (megvii)."""
    def unit(c_in, c_out, mid, g1, g):   # conv-BN 1x1 (g1 groups), depthwise 3x3-BN, conv-BN 1x1 (g groups)
        return c_in * mid // g1 + 2 * mid + 9 * mid + 2 * mid + mid * c_out // g + 2 * c_out
    delta = 24 * 3 * (9 - 1) - 10          # 3x3 stem instead of 1x1; no classifier bias
    for c_in, c_out, g1 in ((24, 240, 1), (240, 480, 3), (480, 960, 3)):
        delta += unit(c_in, c_out - c_in, c_out // 4, g1, 3) - unit(c_in, c_out - c_in, (c_out - c_in) // 4, g1, 3)
    assert n_params(M.build_cifar_model, "shufflenet_g3") == KUANGLIU["ShuffleNetG3"] + delta


# ---------------------------------------------------------------- full-size builds against the papers
@pytest.mark.parametrize("builder,size,expected", [
    (lambda: Z.xception_cifar(1000, imagenet=True), 299, 22_855_952),               # Chollet, Table 3
    (lambda: Z.inception_v4_cifar(1000, imagenet=True), 299, 42_679_816),           # Cadene/pretrained-models
    (lambda: Z.shufflenet_cifar(1000, groups=3, imagenet=True), 224, 1_864_728),    # megvii (the authors' code)
    (lambda: Z.shufflenet_cifar(1000, groups=8, imagenet=True), 224, 2_433_768),
], ids=["xception", "inception_v4", "shufflenet_g3", "shufflenet_g8"])
def test_full_size_builds_match_the_papers_code(builder, size, expected):
    model = meta(builder)
    assert M.count_params(model) == expected
    assert model(torch.empty(1, 3, size, size, device="meta")).shape == (1, 1000)


def test_full_size_builds_match_torchvision_and_the_paper_figures():
    inc = meta(Z.inception_v3_cifar, 1000, imagenet=True)
    tv = meta(torchvision.models.inception_v3, weights=None, aux_logits=False, init_weights=False)
    assert M.count_params(inc) == M.count_params(tv) == 23_834_568
    assert M.count_macs(inc, (1, 3, 299, 299)) == M.count_macs(tv, (1, 3, 299, 299))  # "5 billion multiply-adds"
    eff = meta(Z.efficientnet_cifar, 1000, imagenet=True)
    assert M.count_params(eff) == M.count_params(meta(torchvision.models.efficientnet_b0)) == 5_288_548
    assert round(M.count_macs(eff, (1, 3, 224, 224)) / 1e9, 2) == 0.39                # paper: 0.39B FLOPs
    shuffle = meta(Z.shufflenet_cifar, 1000, imagenet=True)
    assert 130e6 < M.count_macs(shuffle, (1, 3, 224, 224)) < 141e6                  # paper: 140 MFLOPs


def _copy_in_order(src: nn.Module, dst: nn.Module) -> None:
    """Load src's tensors into dst position by position (same layers in the same order, other names)."""
    values, target = list(src.state_dict().values()), dst.state_dict()
    assert [v.shape for v in values] == [v.shape for v in target.values()]
    dst.load_state_dict(dict(zip(target, values)))


@pytest.mark.parametrize("ours,theirs,size", [
    (lambda: Z.efficientnet_cifar(1000, imagenet=True), lambda: torchvision.models.efficientnet_b0(), 64),
    (lambda: Z.inception_v3_cifar(1000, imagenet=True),
     lambda: torchvision.models.inception_v3(aux_logits=False, init_weights=False), 96),
], ids=["efficientnet_b0", "inception_v3"])
def test_outputs_equal_torchvision_with_the_same_weights(ours, theirs, size):
    torch.manual_seed(0)
    ref, net = theirs(), ours()
    for m in ref.modules():  # non-trivial running statistics, so that eval mode tests them too
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2.0)
    _copy_in_order(ref, net)
    eps = next(m.eps for m in ref.modules() if isinstance(m, nn.BatchNorm2d))
    for m in net.modules():  # torchvision's conventions: its BatchNorm eps, and avg pools that count the padding
        if isinstance(m, nn.BatchNorm2d):
            m.eps = eps
        if isinstance(m, nn.AvgPool2d):
            m.count_include_pad = True
    ref.eval(), net.eval()
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        torch.testing.assert_close(net(x), ref(x), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- blocks and small real forward passes
def test_channel_shuffle_interleaves_groups():
    x = torch.arange(6.0).view(1, 6, 1, 1)          # groups of 3: [0 1 2] [3 4 5]
    assert Z.channel_shuffle(x, 2).flatten().tolist() == [0, 3, 1, 4, 2, 5]
    assert torch.equal(Z.channel_shuffle(Z.channel_shuffle(x, 2), 3), x)  # shuffling back with c/g groups


def test_channel_shuffle_exercise_check(capsys):
    assert Z.check_channel_shuffle(Z.channel_shuffle)
    assert not Z.check_channel_shuffle(lambda x, g: None)
    assert "not done yet" in capsys.readouterr().out
    assert not Z.check_channel_shuffle(lambda x, g: x)                       # forgot to shuffle
    assert not Z.check_channel_shuffle(lambda x, g: x.view(-1, 3)[0])        # raises on other shapes
    assert "position j * groups + i" in capsys.readouterr().out


def test_mixed_concatenates_branches_and_splits():
    m = Z.Mixed(8, [[(4, 1)], [(2, 1), [[(3, (1, 3))], [(5, (3, 1))]]], [("avg", 1), (6, 1)], [("max", 2)]])
    assert m.out_channels == 4 + 8 + 6 + 8
    with pytest.raises(RuntimeError):   # the stride-2 pool branch does not fit the others
        m(torch.zeros(1, 8, 9, 9))
    same = Z.Mixed(8, [[(4, 1)], [(2, 1), [[(3, (1, 3))], [(5, (3, 1))]]], [("avg", 1), (6, 1)]])
    assert same(torch.zeros(1, 8, 9, 9)).shape == (1, 18, 9, 9)


def test_mbconv_and_xception_block_shapes_and_skip():
    block = Z.MBConv(16, 16, 6, 3, 1, drop_path=0.5)
    assert block.skip and block(torch.zeros(2, 16, 8, 8)).shape == (2, 16, 8, 8)
    block.eval()
    x = torch.randn(2, 16, 8, 8)
    assert torch.equal(block(x), block(x))  # stochastic depth only while training
    assert Z.MBConv(16, 24, 6, 5, 2)(torch.zeros(1, 16, 8, 8)).shape == (1, 24, 4, 4)
    assert Z.XceptionBlock(8, [16, 16], 2)(torch.zeros(1, 8, 8, 8)).shape == (1, 16, 4, 4)


def test_small_versions_run_for_real_and_learn():
    torch.manual_seed(0)
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    for model in (Z.shufflenet_cifar(width_mult=0.1), Z.inception_v3_cifar(width_mult=0.05),
                  Z.inception_v4_cifar(width_mult=0.05), Z.xception_cifar(width_mult=0.05),
                  Z.efficientnet_cifar(width_mult=0.25), Z.resnet9(width_mult=0.1), Z.slides_cnn()):
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        losses = []
        for _ in range(3):
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad(), loss.backward(), opt.step()
            losses.append(loss.item())
        assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0], type(model)


def test_resnet9_is_pages_network():
    assert n_params(Z.resnet9) == 6_573_120
    model = meta(Z.resnet9)
    assert model[-1].factor == 0.125 and model[-2].bias is None


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="groups must be one of"):
        Z.shufflenet_cifar(groups=5)
    with pytest.raises(ValueError, match="divisible by groups"):
        Z.ShuffleUnit(24, 30, 3)
    with pytest.raises(ValueError, match="num_classes"):
        Z.xception_cifar(num_classes=0)
    with pytest.raises(ValueError, match="width_mult"):
        Z.efficientnet_cifar(width_mult=0)


# ---------------------------------------------------------------- the table and paper choice
def test_model_table_rows_forward_shapes():
    """The notebook's 11-row table (+ the baseline): every model maps (2, 3, 32, 32) to (2, 10) and beats the
    baseline's size (tests/test_models.py also runs every registered model with 7 classes)."""
    rows = P.model_table(imagenet=False)
    assert len(rows) == 12 and rows[0]["model"] == P.BASELINE and rows[0]["params"] == 315_722
    assert all(r["forward"] == "(2, 3, 32, 32) -> (2, 10)" for r in rows)
    assert all(r["params"] > rows[0]["params"] and r["macs"] > rows[0]["macs"] for r in rows[1:])
    text = P.format_table(rows)
    assert "Inception-v4" in text and "315,722" in text and len(text.splitlines()) == 13


def test_assign_papers_keeps_choices_with_room_and_balances_the_rest():
    choices = {f"s{i:02d}": "ResNet" for i in range(6)} | {"t1": "VGG", "t2": "vgg"}
    got = P.assign_papers(choices, seed=1, max_per_paper=2)
    assert len(got) == 8 and sum(p == "ResNet" for p in got.values()) == 2
    assert got["t1"] == got["t2"] == "VGG"
    assert max(list(got.values()).count(p) for p in set(got.values())) <= 2
    assert got == P.assign_papers(choices, seed=1, max_per_paper=2)  # reproducible
    with pytest.raises(ValueError, match="choose one of"):
        P.assign_papers({"a": "AlexNet"})
    with pytest.raises(ValueError, match="no room"):
        P.assign_papers({f"s{i}": "VGG" for i in range(30)}, max_per_paper=2)
