"""The mid-term leaderboard: check every submission, recompute its accuracy, rank the groups, give the rank mark.

Results folder (one sub-folder per submission; any names):

    results/
      received.csv            optional, kept by the instructor: submission,received_at[,verified_accuracy]
      g03-alice/result.json   written by `python -m course_utils.midterm train`
      g03-alice/model.pt      the weights it names in "checkpoint"
      g07-bob/...

Rules (the slides fix none of them; these are the kit's, stated once here and in the notebook):
- A submission is ranked only if its result.json has every field with the right type, it was trained on
  CIFAR-10 (not the stand-in), its checkpoint loads with torch.load(weights_only=True) (no pickled code), the
  weights fit the named kit model and have the claimed number of parameters, and, when the instructor passes
  the test set, the recomputed test accuracy is within `tolerance` of the claim. Anything else is listed with
  the reason and not ranked; one bad submission never stops the others.
- A group's best ranked submission counts. Groups are ordered by test accuracy (rounded to 4 decimals, i.e.
  one image in 10,000); ties go to fewer parameters, then to the earlier submission (received.csv's received_at,
  else the JSON's submitted_at), then to the group name.
- Rank mark (the 10% criterion): rank 1 of N gets 10, the last 5, linearly in between
  (5 + 5 (N - rank) / (N - 1)); a group with no ranked submission gets 0.
"""
from __future__ import annotations

import csv
import datetime
import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ..models import CIFAR_MODELS, build_cifar_model, count_params
from .papers import BASELINE, PAPERS, paper_of
from .train import _sha256, evaluate_accuracy

__all__ = ["FIELDS", "Submission", "check_result_fields", "check_submission", "rank_mark", "rank_groups",
           "build_leaderboard", "format_leaderboard", "write_leaderboard"]

#: Required fields of result.json and their types (float accepts int; neither accepts True/False).
FIELDS: dict[str, type] = {"group": str, "paper": str, "model": str, "test_accuracy": float, "params": int,
                           "macs": int, "epochs": int, "seed": int, "wall_time_s": float, "device": str,
                           "versions": dict, "checkpoint": str, "submitted_at": str}
MAX_JSON_BYTES = 1_000_000
MAX_CHECKPOINT_BYTES = 2_000_000_000
MAX_PARAMS = 500_000_000
TEST_IMAGES = 10_000


@dataclass
class Submission:
    """What the checks found about one submission folder."""

    folder: str
    status: str = "invalid"            # "ranked", "flagged" (a claim that does not hold) or "invalid"
    reason: str = ""
    group: str = ""
    paper: str = ""
    model: str = ""
    claimed: float | None = None
    verified: float | None = None      # recomputed on the test set (or entered by the instructor)
    params: int | None = None
    submitted_at: str = ""
    notes: list = field(default_factory=list)

    @property
    def accuracy(self) -> float | None:
        """The accuracy that ranks: the recomputed one when there is one, else the claim."""
        return self.verified if self.verified is not None else self.claimed


class _Refused(Exception):
    """A check failed: the message says which and why."""


def _type_ok(value, kind: type) -> bool:
    """isinstance with JSON's rules: bool is not a number, int counts as float, floats must be finite."""
    if isinstance(value, bool):
        return kind is bool
    if kind is float:
        return isinstance(value, (int, float)) and math.isfinite(value)
    return isinstance(value, kind)


def check_result_fields(result) -> list[str]:
    """Every problem with a parsed result.json (an empty list if it is well formed)."""
    if not isinstance(result, dict):
        return [f"result.json must hold a JSON object, not {type(result).__name__}"]
    problems = []
    for name, kind in FIELDS.items():
        if name not in result:
            problems.append(f"missing field {name!r}")
        elif not _type_ok(result[name], kind):
            problems.append(f"{name!r} must be {'a number' if kind is float else kind.__name__}, "
                            f"got {type(result[name]).__name__} {str(result[name])[:40]!r}")
    if problems:
        return problems
    if not 0.0 <= result["test_accuracy"] <= 1.0:
        problems.append(f"'test_accuracy' must be a fraction in [0, 1], got {result['test_accuracy']}")
    for name, low in (("params", 1), ("macs", 0), ("epochs", 1), ("wall_time_s", 0)):
        if result[name] < low:
            problems.append(f"{name!r} must be >= {low}, got {result[name]}")
    if not result["group"].strip():
        problems.append("'group' is empty: train with --group NAME")
    if paper_of(result["paper"]) is None or paper_of(result["paper"]).name.lower() != result["paper"].lower():
        problems.append(f"'paper' must be one of {[p.name for p in PAPERS]}, got {result['paper'][:40]!r}")
    try:
        datetime.datetime.fromisoformat(result["submitted_at"])
    except ValueError:
        problems.append(f"'submitted_at' must be an ISO date-time, got {result['submitted_at'][:40]!r}")
    options = result.get("model_options", {})
    if not isinstance(options, dict) or not all(
            isinstance(k, str) and k.isidentifier() and isinstance(v, (bool, int, float, str)) for k, v in options.items()):
        problems.append("'model_options' must map names to numbers, true/false or words")
    return problems


def _safe_checkpoint_path(folder: Path, name: str) -> Path:
    """The checkpoint's path inside the submission folder, refusing names that leave it."""
    if Path(name).name != name or name.startswith(".") or not name.endswith((".pt", ".pth")):
        raise _Refused(f"'checkpoint' must be a file name in the submission folder ending in .pt, got {name[:60]!r}")
    path = folder / name
    if not path.is_file():
        raise _Refused(f"the checkpoint {name!r} named in result.json is not in the folder")
    if not path.resolve().is_relative_to(folder.resolve()):
        raise _Refused(f"the checkpoint {name!r} is a link that points outside the submission folder")
    if path.stat().st_size > MAX_CHECKPOINT_BYTES:
        raise _Refused(f"the checkpoint is {path.stat().st_size / 1e9:.1f} GB, over the {MAX_CHECKPOINT_BYTES / 1e9:.0f} GB limit")
    return path


def _load_weights(path: Path) -> dict:
    """The state dict of a checkpoint, loaded with weights_only=True (never runs pickled code)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises several types for hostile or broken files
        text = str(err)
        found = re.search(r"Unsupported global: GLOBAL (\S+)", text)
        if found:
            raise _Refused("the checkpoint contains pickled Python objects, not only tensors: refused by "
                           f"torch.load(weights_only=True) (it names {found.group(1)})") from None
        detail = re.search(r"WeightsUnpickler error: ([^\n]*\n*[^\n]*)", text)
        detail = " ".join(detail.group(1).split()) if detail else text[:100]
        raise _Refused(f"the checkpoint is not a readable PyTorch file ({type(err).__name__}: {detail[:100]})") from None
    weights = state.get("model", state) if isinstance(state, dict) else None
    if not isinstance(weights, dict) or not weights or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items()):
        raise _Refused("the checkpoint must hold a state dict (names -> tensors), alone or under 'model'")
    return weights


def check_submission(folder: str | Path, test_data: tuple | None = None, tolerance: float = 0.0025,
                     received: dict | None = None, allow_stand_in: bool = False) -> Submission:
    """Check one submission folder; never raises. test_data: (x, y) normalised test images and labels, to
    recompute the accuracy; received: this folder's row of received.csv (received_at, verified_accuracy);
    allow_stand_in: accept runs on the offline stand-in (only to demonstrate the leaderboard offline)."""
    folder = Path(folder)
    sub = Submission(folder.name)
    received = received or {}
    try:
        path = folder / "result.json"
        if not path.is_file():
            raise _Refused("no result.json in the folder")
        if path.stat().st_size > MAX_JSON_BYTES:
            raise _Refused(f"result.json is {path.stat().st_size:,} bytes, over the {MAX_JSON_BYTES:,}-byte limit")
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise _Refused(f"result.json is not valid JSON ({err})") from None
        problems = check_result_fields(result)
        if isinstance(result, dict):
            for name in ("group", "paper", "model"):
                if isinstance(result.get(name), str):
                    setattr(sub, name, result[name][:60])
        if problems:
            raise _Refused("; ".join(problems))
        sub.claimed, sub.params = float(result["test_accuracy"]), result["params"]
        sub.submitted_at = str(received.get("received_at") or result["submitted_at"])
        try:
            datetime.datetime.fromisoformat(sub.submitted_at)
        except ValueError:
            raise _Refused(f"received.csv gives received_at {sub.submitted_at[:40]!r}, not an ISO date-time") from None
        if not allow_stand_in and (result.get("stand_in") is True or "STAND-IN" in str(result.get("data", "")).upper()):
            raise _Refused("trained and tested on the offline stand-in, not on CIFAR-10")
        if result["model"] == BASELINE:
            raise _Refused("the slides' baseline CNN is the bar to beat, not a submission")
        weights = _load_weights(_safe_checkpoint_path(folder, result["checkpoint"]))
        if result.get("checkpoint_sha256") and _sha256(folder / result["checkpoint"]) != result["checkpoint_sha256"]:
            sub.notes.append("the checkpoint's SHA-256 differs from the one the training run wrote")
        if received.get("verified_accuracy") not in (None, ""):
            sub.verified = float(received["verified_accuracy"])
            sub.notes.append("accuracy verified by the instructor (received.csv)")
        elif result["model"] not in CIFAR_MODELS:
            raise _Refused(f"custom model {result['model'][:40]!r}: it cannot be rebuilt from the kit, so the claim "
                           "cannot be re-verified automatically (the instructor can check it and enter "
                           "verified_accuracy in received.csv)")
        else:
            _verify(sub, result, weights, test_data, tolerance)
        if sub.status == "flagged":
            return sub
        if sub.verified is None and result.get("test_images", TEST_IMAGES) != TEST_IMAGES and not allow_stand_in:
            raise _Refused(f"the claim was measured on {result.get('test_images')} test images, not CIFAR-10's "
                           f"{TEST_IMAGES:,}")
        sub.status = "ranked"
        if sub.verified is None:
            sub.notes.append("claimed accuracy, not re-verified (no test set given)")
    except _Refused as err:
        sub.status, sub.reason = "invalid", str(err)
    except Exception as err:  # noqa: BLE001 - a hostile file must never stop the ranking of the others
        sub.status, sub.reason = "invalid", f"could not be checked ({type(err).__name__}: {str(err)[:120]})"
    return sub


def _verify(sub: Submission, result: dict, weights: dict, test_data, tolerance: float) -> None:
    """Rebuild the kit model, load the weights, compare the parameters and (with test data) the accuracy."""
    paper = paper_of(result["model"])
    if paper is not None and paper.name.lower() != result["paper"].lower():
        raise _Refused(f"model {result['model']!r} belongs to {paper.name}, not to {result['paper']}")
    options = result.get("model_options", {})
    try:
        with torch.device("meta"):  # first on the meta device: hostile options cannot make us allocate a giant model
            size = count_params(build_cifar_model(result["model"], **options))
    except (TypeError, ValueError) as err:
        raise _Refused(f"model_options {options} do not fit {result['model']}: {err}") from None
    stored = sum(t.numel() for name, t in weights.items() if not name.endswith(("running_mean", "running_var",
                                                                                 "num_batches_tracked")))
    if size > MAX_PARAMS or size != stored:
        raise _Refused(f"the weights do not fit {result['model']} {options or ''}: it has {size:,} parameters, "
                       f"the checkpoint {stored:,}")
    model = build_cifar_model(result["model"], **options)
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as err:
        detail = " ".join(str(err).split())[:160]
        raise _Refused(f"the weights do not fit {result['model']} {result.get('model_options') or ''}: {detail}") from None
    if count_params(model) != result["params"]:
        sub.status, sub.reason = "flagged", (f"claims {result['params']:,} parameters, the weights have "
                                             f"{count_params(model):,}")
        return
    if test_data is None:
        return
    x, y = test_data
    sub.verified = evaluate_accuracy(model, x, y, tta=bool(result.get("tta", False)))
    if abs(sub.verified - sub.claimed) > tolerance:
        sub.status, sub.reason = "flagged", (f"claims test accuracy {sub.claimed:.4f}, the checkpoint gives "
                                             f"{sub.verified:.4f} (tolerance {tolerance})")


def rank_mark(rank: int, n: int) -> float:
    """The 10% rank criterion: rank 1 of n -> 10, rank n -> 5, linear in between; n = 1 -> 10."""
    if not (isinstance(rank, int) and isinstance(n, int) and 1 <= rank <= n):
        raise ValueError(f"rank must be an int from 1 to n={n}, got {rank!r}")
    return 10.0 if n == 1 else 5.0 + 5.0 * (n - rank) / (n - 1)


def _order(sub: Submission) -> tuple:
    """Sort key: higher accuracy (to 1 image in 10,000), fewer parameters, earlier submission, group name."""
    when = datetime.datetime.fromisoformat(sub.submitted_at)
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return (-round(sub.accuracy, 4), sub.params, when, sub.group)


def rank_groups(submissions: list[Submission]) -> list[dict]:
    """One row per group with a ranked submission (its best), in rank order, with the rank mark."""
    best: dict[str, Submission] = {}
    for sub in sorted((s for s in submissions if s.status == "ranked"), key=_order):
        best.setdefault(sub.group, sub)
    rows = sorted(best.values(), key=_order)
    return [{"rank": i, "group": s.group, "paper": s.paper, "model": s.model, "accuracy": s.accuracy,
             "verified": s.verified is not None, "params": s.params, "submitted_at": s.submitted_at,
             "submission": s.folder, "rank_mark": rank_mark(i, len(rows))} for i, s in enumerate(rows, 1)]


def _read_received(results: Path) -> dict[str, dict]:
    """received.csv as {submission folder: row}, or {} if there is none."""
    path = results / "received.csv"
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        return {row["submission"]: row for row in csv.DictReader(f) if row.get("submission")}


def build_leaderboard(results: str | Path, test_data: tuple | None = None, tolerance: float = 0.0025,
                      allow_stand_in: bool = False) -> tuple[list[dict], list[Submission]]:
    """Check every sub-folder of `results`; return (the ranked groups, every submission with its status).
    allow_stand_in=True only for demonstrations on the offline stand-in (never for the real ranking)."""
    results = Path(results)
    if not results.is_dir():
        raise FileNotFoundError(f"no results folder at {results}: make one sub-folder per submission")
    received = _read_received(results)
    subs = [check_submission(d, test_data, tolerance, received.get(d.name), allow_stand_in)
            for d in sorted(results.iterdir()) if d.is_dir() and not d.name.startswith(".")]
    ranked = rank_groups(subs)
    groups = {r["group"] for r in ranked}
    for sub in subs:
        if sub.status == "ranked" and sub.group in groups and not any(r["submission"] == sub.folder for r in ranked):
            sub.notes.append("not the group's best: the better one counts")
    return ranked, subs


def format_leaderboard(ranked: list[dict], subs: list[Submission]) -> str:
    """The ranking and the list of submissions that were not ranked, as text."""
    lines = [f"{'rank':<5}{'group':<14}{'paper':<14}{'model':<17}{'accuracy':>9}  {'verified':<9}{'params':>12}  "
             f"{'submitted':<26}{'rank mark':>9}"]
    for r in ranked:
        lines.append(f"{r['rank']:<5}{r['group'][:13]:<14}{r['paper']:<14}{r['model'][:16]:<17}{r['accuracy']:>9.4f}  "
                     f"{'yes' if r['verified'] else 'claimed':<9}{r['params']:>12,}  {r['submitted_at'][:25]:<26}"
                     f"{r['rank_mark']:>9.2f}")
    others = [s for s in subs if s.status != "ranked"]
    if others:
        lines += ["", "Not ranked:"]
        lines += [f"  {s.folder}: {s.status.upper()}: {s.reason}" for s in others]
    return "\n".join(lines)


def write_leaderboard(ranked: list[dict], subs: list[Submission], path: str | Path) -> Path:
    """leaderboard CSV (ranked groups) and, beside it, <name>_submissions.csv (every submission and its status)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = ["rank", "group", "paper", "model", "accuracy", "verified", "params", "submitted_at", "submission",
            "rank_mark"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, cols)
        w.writeheader()
        w.writerows(ranked)
    with open(path.with_name(path.stem + "_submissions.csv"), "w", newline="", encoding="utf-8") as f:
        rows = [{**asdict(s), "notes": "; ".join(s.notes)} for s in subs]
        w = csv.DictWriter(f, list(rows[0]) if rows else ["folder"])
        w.writeheader()
        w.writerows(rows)
    return path
