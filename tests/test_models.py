"""course_utils.models: counters, blocks, and the parameter counts the papers report."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
from torch import nn  # noqa: E402

from course_utils import models as M  # noqa: E402


def meta(builder, *args, **kwargs):
    """Build a model on the meta device: shapes only, no memory, instant."""
    with torch.device("meta"):
        return builder(*args, **kwargs)


# ---------------------------------------------------------------- counters
def test_count_params_counts_weights_and_biases():
    layer = nn.Linear(3, 2)
    assert M.count_params(layer) == 8
    layer.bias.requires_grad_(False)
    assert M.count_params(layer, trainable_only=True) == 6
    assert M.count_params(nn.BatchNorm2d(4)) == 8  # running mean/var are buffers


def test_count_params_rejects_non_modules():
    with pytest.raises(TypeError, match="model must be"):
        M.count_params([nn.Linear(2, 2)])


def test_count_flops_and_macs_of_known_layers():
    assert M.count_flops(nn.Linear(10, 5), (1, 10)) == 2 * 10 * 5
    assert M.count_macs(nn.Linear(10, 5), (4, 10)) == 4 * 10 * 5
    conv = nn.Conv2d(3, 16, 3, padding=1)
    assert M.count_macs(conv, (1, 3, 32, 32)) == 32 * 32 * 16 * 3 * 9
    assert M.count_macs(nn.ReLU(), (1, 3, 8, 8)) == 0  # only convs and matrix products count


def test_count_flops_restores_training_mode_and_rejects_bad_shapes():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    model.train()
    M.count_flops(model, (1, 2))
    assert model.training
    with pytest.raises(ValueError, match="input_shape"):
        M.count_flops(model, (0, 2))


def test_flops_match_torchvision_metadata_on_meta_device():
    r50 = meta(torchvision.models.resnet50, weights=None)
    weights = torchvision.models.ResNet50_Weights.IMAGENET1K_V1
    assert M.count_params(r50) == weights.meta["num_params"] == 25_557_032
    assert round(M.count_macs(r50, (1, 3, 224, 224)) / 1e9, 3) == weights.meta["_ops"]  # 4.089 GMACs


def test_summary_lists_layers_params_and_macs():
    text = M.summary(M.lenet5(), (1, 1, 32, 32), depth=2)
    assert "features.0" in text and "Conv2d" in text and "(1, 6, 28, 28)" in text
    assert "61,706" in text and "416,520" in text
    assert text.index("features ") < text.index("features.0")  # parents before children
    with pytest.raises(ValueError, match="depth"):
        M.summary(M.lenet5(), (1, 1, 32, 32), depth=0)


def test_receptive_field():
    assert M.receptive_field([3, 3, 3]) == 7
    assert M.receptive_field([7]) == 7
    assert M.receptive_field([3, 3], strides=[2, 1]) == 7
    assert M.receptive_field([3], dilations=[2]) == 5
    with pytest.raises(ValueError, match="strides"):
        M.receptive_field([3, 3], strides=[1])
    with pytest.raises(ValueError, match="kernel_sizes"):
        M.receptive_field([])


def test_conv_grad_norms():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 1, 3))
    with pytest.raises(ValueError, match="backward"):
        M.conv_grad_norms(model)
    model(torch.randn(2, 1, 8, 8)).sum().backward()
    norms = M.conv_grad_norms(model)
    assert len(norms) == 2 and all(n > 0 for n in norms)
    with pytest.raises(ValueError, match="no nn.Conv2d"):
        M.conv_grad_norms(nn.Linear(2, 2))


def test_draw_block():
    fig, ax = plt.subplots()
    M.draw_block(ax, [["1x1"], ["1x1", "3x3"]], merge="concat", title="demo")
    texts = [t.get_text() for t in ax.texts]
    assert {"1x1", "3x3", "concat", "input", "output"} <= set(texts)
    with pytest.raises(ValueError, match="merge"):
        M.draw_block(ax, [["a"], ["b"]])
    with pytest.raises(ValueError, match="branches"):
        M.draw_block(ax, [])
    plt.close(fig)


# ---------------------------------------------------------------- full-size models
def test_lenet5_counts_and_input_check():
    model = M.lenet5()
    assert M.count_params(model) == 61_706
    assert model(torch.zeros(2, 1, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match="32x32"):
        model(torch.zeros(1, 1, 28, 28))


def test_alexnet_original_needs_227():
    model = meta(M.alexnet_original)
    assert M.count_params(model) == 60_965_224
    assert model(torch.zeros(1, 3, 227, 227, device="meta")).shape == (1, 1000)
    with pytest.raises(RuntimeError):
        model(torch.zeros(1, 3, 224, 224, device="meta"))  # 54x54 after conv1 -> 5x5x256 != 6x6x256


def test_mobilenet_v1_matches_the_paper():
    model = meta(M.mobilenet_v1)
    assert M.count_params(model) == 4_231_976  # paper: 4.2 million
    assert round(M.count_macs(model, (1, 3, 224, 224)) / 1e6) == 569  # paper: 569 million mult-adds


# ---------------------------------------------------------------- blocks
def test_basic_block_skip_and_plain():
    torch.manual_seed(0)
    x = torch.rand(2, 4, 8, 8)
    res, plain = M.BasicBlock(4, 4), M.BasicBlock(4, 4, skip=False)
    for block in (res, plain):
        nn.init.zeros_(block.conv2.weight)
        block.eval()
    assert torch.allclose(res(x), x)  # F(x) = 0 -> y = relu(x) = x
    assert torch.count_nonzero(plain(x)) == 0  # no identity path: nothing gets through
    assert M.count_params(M.BasicBlock(4, 8, 2, shortcut="A")) < M.count_params(M.BasicBlock(4, 8, 2))
    assert M.BasicBlock(4, 8, 2, shortcut="A")(x).shape == (2, 8, 4, 4)
    with pytest.raises(ValueError, match="shortcut"):
        M.BasicBlock(4, 4, shortcut="C")


def test_bottleneck_equals_torchvision():
    torch.manual_seed(0)
    ours = M.Bottleneck(64, 64, 256)
    ref = torchvision.models.resnet.Bottleneck(64, 64, downsample=nn.Sequential(
        nn.Conv2d(64, 256, 1, bias=False), nn.BatchNorm2d(256)))
    state = {k.replace("shortcut", "downsample"): v for k, v in ours.state_dict().items()}
    ref.load_state_dict(state)
    ours.eval(), ref.eval()
    x = torch.randn(2, 64, 8, 8)
    assert torch.allclose(ours(x), ref(x), atol=1e-5)
    with pytest.raises(ValueError, match="divisible"):
        M.Bottleneck(64, 30, 64, groups=4)


def test_resnext_block_is_grouped():
    block = M.ResNeXtBlock(256, 256, cardinality=32, group_width=4)
    assert block.conv2.groups == 32 and block.conv2.in_channels == 128
    assert M.count_params(block.conv2) == 32 * 4 * 4 * 9
    with pytest.raises(ValueError, match="cardinality"):
        M.ResNeXtBlock(64, 64, cardinality=0)


def test_inception_dense_and_depthwise_blocks():
    inc = M.Inception(192, 64, 96, 128, 16, 32, 32)
    assert inc.out_channels == 256
    assert inc(torch.zeros(1, 192, 8, 8)).shape == (1, 256, 8, 8)
    assert inc.branch3[1][0].kernel_size == (5, 5)  # a true 5x5 (torchvision uses 3x3 here)
    block = M.DenseBlock(4, 16, 12)
    assert block.out_channels == 64 and block(torch.zeros(1, 16, 8, 8)).shape == (1, 64, 8, 8)
    with pytest.raises(ValueError, match="growth"):
        M.DenseBlock(4, 16, 0)
    sep = M.DepthwiseSeparable(32, 64)
    assert M.count_params(sep) == 32 * 9 + 32 * 64 + 2 * 32 + 2 * 64
    assert sep(torch.zeros(1, 32, 8, 8)).shape == (1, 64, 8, 8)


# ---------------------------------------------------------------- CIFAR-sized models
PAPER_COUNTS = {  # counts that reproduce the papers' rounded numbers (or a common reference implementation)
    ("resnet20", ()): 269_722,        # He et al.: 0.27M
    ("resnet56", ()): 853_018,        # 0.85M
    ("resnet164", ()): 1_704_154,     # 1.7M
    ("resnet18", ()): 11_173_962,     # kuangliu/pytorch-cifar ResNet-18
    ("wrn28_10", ()): 36_479_194,     # Zagoruyko & Komodakis: 36.5M
    ("resnext29_8x64d", ()): 34_426_698,  # Xie et al.: 34.4M
    ("densenet40", ()): 1_019_722,    # Huang et al.: 1.0M
    ("densenet_bc100", ()): 769_162,  # 0.8M
    ("mobilenet", ()): 3_217_226,     # kuangliu/pytorch-cifar MobileNet
    ("vgg16", ()): 14_724_042,        # VGG-16-BN for CIFAR, convs without bias
    ("lenet5", ()): 62_006,           # 61,706 + 300 for three input channels
}


@pytest.mark.parametrize("name,count", [(k[0], v) for k, v in PAPER_COUNTS.items()])
def test_cifar_parameter_counts(name, count):
    assert M.count_params(meta(M.build_cifar_model, name)) == count


@pytest.mark.parametrize("name", sorted(M.CIFAR_MODELS))
def test_cifar_models_map_32x32x3_to_classes(name):
    model = meta(M.build_cifar_model, name, num_classes=7)
    assert model(torch.zeros(2, 3, 32, 32, device="meta")).shape == (2, 7)


def test_small_cifar_models_run_for_real():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 32, 32)
    for model in (M.resnet_cifar(20, width=4), M.resnet_cifar(20, width=4, skip=False), M.vgg_cifar(11, width_mult=0.1),
                  M.mobilenet_cifar(width_mult=0.1), M.densenet_cifar(22, 4), M.googlenet_cifar(width_mult=0.05),
                  M.resnext_cifar(11, 2, 2, stem=8), M.wide_resnet(10, 1), M.alexnet_cifar(width_mult=0.1)):
        out = model(x)
        assert out.shape == (2, 10) and torch.isfinite(out).all()


def test_plain_and_residual_have_the_same_parameters():
    assert M.count_params(M.resnet_cifar(56, skip=False)) == M.count_params(M.resnet_cifar(56))


def test_builders_reject_bad_arguments():
    with pytest.raises(ValueError, match="6n\\+2"):
        M.resnet_cifar(21)
    with pytest.raises(ValueError, match="block"):
        M.resnet_cifar(20, block="wide")
    with pytest.raises(ValueError, match="skip=False"):
        M.resnet_cifar(29, block="bottleneck", skip=False)
    with pytest.raises(ValueError, match="6n\\+4"):
        M.wide_resnet(27, 2)
    with pytest.raises(ValueError, match="widen"):
        M.wide_resnet(16, 0)
    with pytest.raises(ValueError, match="9n\\+2"):
        M.resnext_cifar(30)
    with pytest.raises(ValueError, match="depth"):
        M.vgg_cifar(12)
    with pytest.raises(ValueError, match="compression"):
        M.densenet_cifar(40, 12, compression=0)
    with pytest.raises(ValueError, match="width_mult"):
        M.mobilenet_cifar(width_mult=0)
    with pytest.raises(ValueError, match="num_classes"):
        M.alexnet_cifar(num_classes=0)
    with pytest.raises(ValueError, match="dropout"):
        M.WideBasicBlock(4, 4, dropout=1.0)
    with pytest.raises(ValueError, match="unknown model"):
        M.build_cifar_model("resnet-20")
