"""Instant feedback for exercises: each check prints a tick or a hint, and returns True/False."""
from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch


def _report(ok: bool, what: str, hint: str = "") -> bool:
    """Print one line of feedback."""
    print(f"✅ {what}: correct!" if ok else f"❌ {what}: not yet. {hint}".rstrip())
    return ok


def _as_array(value) -> np.ndarray:
    """Tensors, lists and numbers -> a float NumPy array."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def check_value(answer, expected, what: str = "answer", rtol: float = 1e-5, atol: float = 1e-8,
                hint: str = "") -> bool:
    """Is `answer` equal to `expected` (numbers, arrays or tensors, within a tolerance)?"""
    if answer is None or answer is Ellipsis:
        return _report(False, what, "Replace the ... with your answer.")
    a, e = _as_array(answer), _as_array(expected)
    if a.shape != e.shape:
        return _report(False, what, f"Expected shape {e.shape}, got {a.shape}. {hint}")
    return _report(bool(np.allclose(a, e, rtol=rtol, atol=atol)), what, hint)


def check_function(fn: Callable, reference: Callable, cases: Iterable[tuple], what: str = "your function",
                   rtol: float = 1e-5, atol: float = 1e-7, hint: str = "") -> bool:
    """Does `fn(*case)` agree with `reference(*case)` on every case? Reports the first that differs."""
    for i, case in enumerate(cases):
        try:
            got = fn(*case)
        except NotImplementedError:
            return _report(False, what, "It still raises NotImplementedError: write the code first.")
        except Exception as err:  # show students their own error briefly, not a long traceback
            return _report(False, what, f"It raised {type(err).__name__}: {err}")
        want = reference(*case)
        g, w = _as_array(got), _as_array(want)
        if g.shape != w.shape or not np.allclose(g, w, rtol=rtol, atol=atol):
            return _report(False, what, f"Case {i} gives {np.round(g, 4).tolist()} but should give "
                                        f"{np.round(w, 4).tolist()}. {hint}")
    return _report(True, what)


def check_model_output(model: torch.nn.Module, input_shape: tuple, expected_shape: tuple,
                       what: str = "your model") -> bool:
    """Does `model` map a zero batch of `input_shape` to `expected_shape`?"""
    try:
        with torch.no_grad():
            out = model(torch.zeros(input_shape))
    except Exception as err:
        return _report(False, what, f"The forward pass raised {type(err).__name__}: {err}")
    return _report(tuple(out.shape) == tuple(expected_shape), what,
                   f"Output shape is {tuple(out.shape)}, expected {tuple(expected_shape)}.")
