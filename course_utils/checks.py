"""Instant feedback for exercises: each check prints a tick or a hint, and returns True/False.

A check never raises on a student's answer: an unsolved one (the `...` of the student copy, None, or a
function whose body is still `...` and so returns None) gets "not done yet" and a hint; a wrong one gets
"not yet" and a hint; an answer that raises gets its error in one line.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch

__all__ = ["check_value", "check_function", "check_model_output", "is_unsolved", "not_done"]


def _report(ok: bool, what: str, hint: str = "") -> bool:
    """Print one line of feedback."""
    print(f"✅ {what}: correct!" if ok else f"❌ {what}: not yet. {hint}".rstrip())
    return ok


def not_done(what: str, hint: str = "") -> bool:
    """Print that the exercise is not done yet (with a hint) and return False."""
    print(f"⏳ {what}: not done yet. {hint}".rstrip())
    return False


def is_unsolved(answer) -> bool:
    """True for the placeholders of an unsolved exercise: `...`, None, or a tuple/list/dict that holds one."""
    if answer is None or answer is Ellipsis:
        return True
    if isinstance(answer, (list, tuple)):
        return any(a is None or a is Ellipsis for a in answer)
    if isinstance(answer, dict):
        return any(a is None or a is Ellipsis for a in answer.values())
    return False


def _as_array(value) -> np.ndarray:
    """Tensors, lists and numbers -> a float NumPy array."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, (list, tuple)) and any(isinstance(v, torch.Tensor) for v in value):
        value = [v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v for v in value]
    return np.asarray(value, dtype=np.float64)


def check_value(answer, expected, what: str = "answer", rtol: float = 1e-5, atol: float = 1e-8,
                hint: str = "") -> bool:
    """Is `answer` equal to `expected` (numbers, arrays or tensors, within a tolerance)?"""
    if is_unsolved(answer):
        return not_done(what, f"Replace the ... with your answer. {hint}")
    e = _as_array(expected)
    try:
        a = _as_array(answer)
    except (TypeError, ValueError):
        return _report(False, what, f"Expected numbers shaped {e.shape}, got a {type(answer).__name__}. {hint}")
    if a.shape != e.shape:
        return _report(False, what, f"Expected shape {e.shape}, got {a.shape}. {hint}")
    return _report(bool(np.allclose(a, e, rtol=rtol, atol=atol)), what, hint)


def check_function(fn: Callable, reference: Callable, cases: Iterable[tuple], what: str = "your function",
                   rtol: float = 1e-5, atol: float = 1e-7, hint: str = "") -> bool:
    """Does `fn(*case)` agree with `reference(*case)` on every case? Reports the first that differs."""
    if fn is None or fn is Ellipsis:
        return not_done(what, f"Replace the ... with your function. {hint}")
    if not callable(fn):
        return _report(False, what, f"Expected a function, got a {type(fn).__name__}.")
    for i, case in enumerate(cases):
        try:
            got = fn(*case)
        except NotImplementedError:
            return not_done(what, f"It still raises NotImplementedError: write the code first. {hint}")
        except Exception as err:  # show students their own error briefly, not a long traceback
            return _report(False, what, f"It raised {type(err).__name__}: {err}")
        if is_unsolved(got):
            return not_done(what, f"It returns {'...' if got is Ellipsis else 'None'}: write its body "
                                  f"(replace the ...) and return the result. {hint}")
        want = reference(*case)
        try:
            g = _as_array(got)
        except (TypeError, ValueError):
            return _report(False, what, f"Case {i} returns a {type(got).__name__}, not numbers. {hint}")
        w = _as_array(want)
        if g.shape != w.shape or not np.allclose(g, w, rtol=rtol, atol=atol):
            return _report(False, what, f"Case {i} gives {np.round(g, 4).tolist()} but should give "
                                        f"{np.round(w, 4).tolist()}. {hint}")
    return _report(True, what)


def check_model_output(model: torch.nn.Module, input_shape: tuple, expected_shape: tuple,
                       what: str = "your model") -> bool:
    """Does `model` map a zero batch of `input_shape` to `expected_shape`?"""
    if model is None or model is Ellipsis:
        return not_done(what, "Replace the ... with your model (an nn.Module).")
    try:
        with torch.no_grad():
            out = model(torch.zeros(input_shape))
    except Exception as err:
        return _report(False, what, f"The forward pass raised {type(err).__name__}: {err}")
    if out is None:
        return not_done(what, "Its forward returns None: return the output tensor.")
    if not isinstance(out, torch.Tensor):
        return _report(False, what, f"The forward pass returned a {type(out).__name__}, not a tensor.")
    return _report(tuple(out.shape) == tuple(expected_shape), what,
                   f"Output shape is {tuple(out.shape)}, expected {tuple(expected_shape)}.")
