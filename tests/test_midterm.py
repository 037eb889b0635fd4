"""The training command of the mid-term kit: --help, a 1-epoch run on the stand-in, resume, offline errors,
the GPU code paths on the CPU, and DistributedDataParallel (torchrun, gloo, 2 processes) = one process."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from course_utils.data import DatasetUnavailableError
from course_utils.midterm import leaderboard as LB  # noqa: N812
from course_utils.midterm import train as MT
from course_utils.midterm.__main__ import main as cli

REPO = Path(__file__).resolve().parent.parent
TINY = ["--data", "standin", "--limit", "128", "--batch-size", "32", "--quiet"]


def run(tmp_path, name, *args):
    """Run `train` in this process; return (result dict, final weights)."""
    out = tmp_path / name
    assert cli(["train", *TINY, "--out", str(out), *args]) == 0
    result = json.loads((out / "result.json").read_text())
    return result, torch.load(out / "model.pt", weights_only=True)["model"]


def test_help_explains_every_option(capsys):
    parser = MT.build_parser()
    options = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    assert len(options) >= 25
    assert all(a.help and len(a.help) > 10 for a in options), [a.dest for a in options if not a.help]
    with pytest.raises(SystemExit) as stop:
        cli(["train", "--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    for a in options:
        assert a.option_strings[0] in text
    assert "torchrun" in text and "resnet18" in text and "inception_v4" in text
    assert cli([]) == 2 and "leaderboard" in capsys.readouterr().out


def test_one_epoch_on_the_standin_writes_a_result_and_weights(tmp_path, capsys):
    result, weights = run(tmp_path, "r", "--model", "resnet", "--model-option", "width=8", "--epochs", "1",
                          "--group", "G03")
    printed = capsys.readouterr().out
    assert "STAND-IN, not CIFAR-10" in printed and "test accuracy" in printed
    for name, kind in LB.FIELDS.items():
        assert LB._type_ok(result[name], kind), name
    assert result["group"] == "G03" and result["paper"] == "ResNet" and result["model"] == "resnet18"
    assert result["model_options"] == {"width": 8} and result["epochs"] == 1 and result["stand_in"] is True
    assert result["test_images"] == 128 and 0 <= result["test_accuracy"] <= 1
    assert result["versions"]["torch"] == torch.__version__ and result["device"].startswith("CPU")
    assert len(result["history"]) == 1 and result["checkpoint"] == "model.pt"
    model = MT.build_cifar_model("resnet18", width=8)
    model.load_state_dict(weights)
    assert result["params"] == MT.count_params(model)
    assert LB.check_result_fields(result) == []
    assert "stand-in" in LB.check_submission(tmp_path / "r").reason   # never ranked


def test_resume_gives_the_same_weights_as_one_run(tmp_path):
    common = ["--model", "slides_cnn", "--schedule", "constant", "--lr", "0.05", "--ema", "0.9"]
    _, straight = run(tmp_path, "a", *common, "--epochs", "2")
    run(tmp_path, "b", *common, "--epochs", "1")
    result, resumed = run(tmp_path, "b", *common, "--epochs", "2", "--resume")
    assert len(result["history"]) == 2
    for k in straight:
        torch.testing.assert_close(straight[k], resumed[k], rtol=0, atol=0)
    with pytest.raises(SystemExit, match="trained with other lr"):
        run(tmp_path, "b", *common[:-4], "--lr", "0.01", "--ema", "0.9", "--epochs", "3", "--resume")


def test_amp_channels_last_and_compile_on_the_cpu(tmp_path):
    """The GPU user's options on the CPU (torch.compile with the eager backend: tracing without code generation)."""
    result, weights = run(tmp_path, "amp", "--model", "resnet20", "--model-option", "width=4", "--epochs", "1",
                          "--amp", "--channels-last", "--tta", "--compile", "--compile-backend", "eager")
    assert result["recipe"]["amp"] and result["recipe"]["channels_last"] and result["tta"] and result["recipe"]["compile"]
    assert not any(k.startswith("_orig_mod") for k in weights)   # the plain model's names, loadable without compile
    assert all(v.dtype == torch.float32 or not v.is_floating_point() for v in weights.values())
    assert all(v.is_contiguous() for v in weights.values())   # saved in the plain layout


def test_clear_errors(tmp_path, monkeypatch):
    def offline(**_):
        raise DatasetUnavailableError("Could not download CIFAR-10 (URLError: no network).")
    monkeypatch.setattr(MT, "load_cifar10", offline)
    with pytest.raises(SystemExit, match="--data standin.*NOT CIFAR-10"):
        cli(["train", "--model", "vgg", "--out", str(tmp_path / "x")])
    assert MT.load_data("auto", limit=64, quiet=True).source == MT.STANDIN
    with pytest.raises(SystemExit, match="neither a paper nor a kit model"):
        cli(["train", "--model", "alexnet2", *TINY])
    with pytest.raises(SystemExit, match="does not fit"):
        cli(["train", "--model", "vgg", "--model-option", "depth_mult=2", *TINY, "--out", str(tmp_path / "y")])
    with pytest.raises(SystemExit):
        cli(["train", "--model", "vgg", "--model-option", "width_mult", *TINY])
    with pytest.raises(ValueError, match="divisible by the number of processes"):
        MT.ShardedBatches(torch.zeros(8, 3, 4, 4), torch.zeros(8), 5, world=2)


def test_sharded_batches_split_the_global_batch():
    x, y = torch.arange(40.0).view(10, 1, 2, 2).repeat(1, 3, 1, 1), torch.arange(10)
    one = MT.ShardedBatches(x, y, 4, shuffle=True, augment=True, crop_padding=1, seed=3, drop_last=True)
    two = [MT.ShardedBatches(x, y, 4, shuffle=True, augment=True, crop_padding=1, seed=3, drop_last=True,
                             rank=r, world=2) for r in range(2)]
    for epoch in (1, 2):
        for b in (one, *two):
            b.set_epoch(epoch)
        for (xa, ya), (x0, y0), (x1, y1) in zip(one, *two):
            assert torch.equal(ya, torch.cat([y0, y1])) and torch.equal(xa, torch.cat([x0, x1]))
    assert len(one) == 2
    first = [yb.tolist() for _, yb in one]
    one.set_epoch(3)
    assert [yb.tolist() for _, yb in one] != first   # another epoch, another order


def test_torchrun_ddp_two_processes_equal_one_process(tmp_path):
    """The same global batch of 32 on 1 process and on 2 gloo processes of 16: the same final weights."""
    args = ["--model", "slides_cnn", "--epochs", "2", *TINY]
    _, single = run(tmp_path, "one", *args[:4])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "course_utils.midterm", "train", *args, "--out", str(tmp_path / "two")]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "two" / "result.json").read_text())
    assert result["world_size"] == 2 and result["device"].endswith("x 2")
    double = torch.load(tmp_path / "two" / "model.pt", weights_only=True)["model"]
    for k in single:
        torch.testing.assert_close(single[k], double[k], rtol=1e-5, atol=1e-6)
