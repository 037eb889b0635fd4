"""Every exercise check in course_utils answers an unsolved exercise with "not done yet" and a hint, never raises.

An unsolved answer is what a student copy holds before the student writes anything: the `...` placeholder,
None, or a function whose body is still `...` (it returns None). New check_* functions are found
automatically; one that takes more than the answer needs an entry in CALLS below.
"""
import importlib
import inspect
import pkgutil

import numpy as np
import pytest
import torch
from torch import nn

import course_utils
from course_utils import checks


def _body_left_as_dots(*args, **kwargs):
    ...


UNSOLVED_FUNCTIONS = {"None": None, "...": ..., "returns None": lambda *a, **k: None,
                      "body is ...": _body_left_as_dots}
UNSOLVED_VALUES = {"None": None, "...": ..., "[..., ...]": [..., ...]}


def _tiny_classifier():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 3))


class _WithHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Conv2d(3, 4, 3)
        self.classifier = nn.Sequential(nn.Linear(4, 2))


# name -> (kind of answer, how to call the check with that answer)
CALLS = {
    "checks.check_value": ("value", lambda a: checks.check_value(a, 3.0, "the answer", hint="N / B, rounded up.")),
    "checks.check_function": ("function", lambda f: checks.check_function(f, lambda x: 2 * x, [(1.0,), (2.0,)],
                                                                           hint="Double it.")),
    "checks.check_model_output": ("function", lambda m: checks.check_model_output(m, (1, 4), (1, 2))),
    "attribution.check_fgsm_step": ("function", lambda f: __import__("course_utils.attribution").attribution
                                    .check_fgsm_step(f, _tiny_classifier(), torch.rand(2, 1, 2, 2),
                                                     torch.tensor([0, 2]))),
    "bricks.check_backward": ("function", lambda f: __import__("course_utils.bricks").bricks
                              .check_backward(f, torch.sigmoid)),
    "bricks.check_brick": ("value", lambda b: __import__("course_utils.bricks").bricks.check_brick(b, np.zeros(3))),
    "transfer.check_trainable_count": ("value", lambda a: __import__("course_utils.transfer").transfer
                                       .check_trainable_count(_WithHead(), a)),
    "transfer.check_hook_features": ("function", lambda f: __import__("course_utils.transfer").transfer
                                     .check_hook_features(f, nn.Sequential(nn.Conv2d(3, 4, 3)), layer="0")),
}
SKIPPED_MODULES = ("course_utils.midterm",)  # validators of submission files, not exercise checks


def _check_functions() -> dict[str, object]:
    """Every check_* function defined in a course_utils module, as 'module.check_x'."""
    found = {}
    for info in pkgutil.walk_packages(course_utils.__path__, "course_utils."):
        if info.name.startswith(SKIPPED_MODULES):
            continue
        module = importlib.import_module(info.name)
        for name, fn in vars(module).items():
            if name.startswith("check_") and inspect.isfunction(fn) and fn.__module__ == info.name:
                found[f"{info.name.removeprefix('course_utils.')}.{name}"] = fn
    return found


FOUND = _check_functions()


def test_the_checks_are_found():
    assert {"checks.check_value", "checks.check_function", "optim.check_adam_step"} <= set(FOUND)


def _cases():
    for name, fn in sorted(FOUND.items()):
        if name in CALLS:
            kind, call = CALLS[name]
        else:
            required = [p for p in inspect.signature(fn).parameters.values()
                        if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            if len(required) != 1:
                yield pytest.param(name, None, None, id=f"{name}-needs-an-entry")
                continue
            kind, call = "function", fn
        answers = UNSOLVED_FUNCTIONS if kind == "function" else UNSOLVED_VALUES
        for label, answer in answers.items():
            yield pytest.param(name, call, answer, id=f"{name}-{label}")


@pytest.mark.parametrize("name, call, answer", list(_cases()))
def test_unsolved_answer_gets_not_done_yet_with_a_hint(name, call, answer, capsys):
    assert call is not None, (f"{name} takes more than the student's answer: add it to CALLS in "
                              f"tests/test_checks_unsolved.py with the other arguments")
    result = call(answer)   # must not raise
    out = capsys.readouterr().out
    assert "not done yet" in out, f"{name}({answer!r}) printed {out!r}"
    hint = out.split("not done yet", 1)[1].strip(" .\n")
    assert len(hint) > 10, f"{name}: 'not done yet' needs a hint, got {out!r}"
    if isinstance(result, dict):
        assert all(np.isnan(v) for v in result.values())
    else:
        assert result is False


def test_adam_step_left_unchanged_is_not_done():
    from course_utils import optim

    def adam_step(theta, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        ...  # YOUR CODE HERE  (the student copy keeps the function's last line)
        return theta, m, v
    assert optim.check_adam_step(adam_step) is False


def test_unsolved_answers_are_recognised():
    assert checks.is_unsolved(...) and checks.is_unsolved(None) and checks.is_unsolved((1, ...))
    assert checks.is_unsolved({"W1": None}) and not checks.is_unsolved(0) and not checks.is_unsolved([1, 2])


def test_wrong_answers_still_get_not_yet(capsys):
    assert not checks.check_value("three", 3.0, "n")
    assert not checks.check_function(lambda x: "two", lambda x: 2 * x, [(1.0,)])
    assert not checks.check_function(3, lambda x: 2 * x, [(1.0,)])
    out = capsys.readouterr().out
    assert out.count("not yet") == 3 and "not done yet" not in out
