"""The mid-term leaderboard (checks, ties, malformed and hostile submissions) and the marking arithmetic."""
import csv
import json
import pathlib

import pytest
import torch

from course_utils.midterm import leaderboard as LB  # noqa: N812
from course_utils.midterm import marking as MK  # noqa: N812
from course_utils.midterm.__main__ import main as cli
from course_utils.midterm.train import evaluate_accuracy
from course_utils.models import build_cifar_model, count_params

MODEL, OPTIONS = "resnet20", {"width": 2}   # a real kit model, tiny: 4,492 parameters


def small_model(seed=0, **options):
    torch.manual_seed(seed)
    return build_cifar_model(MODEL, **(options or OPTIONS))


@pytest.fixture(scope="module")
def test_set():
    g = torch.Generator().manual_seed(0)
    return torch.randn(64, 3, 32, 32, generator=g), torch.randint(0, 10, (64,), generator=g)


def submit(root, folder, group="G03", accuracy=0.5, net=None, when="2026-11-01T10:00:00+00:00", **fields):
    """Write a submission folder: result.json (fields override the defaults) and model.pt (unless net=False)."""
    d = root / folder
    d.mkdir(parents=True)
    net = net if net is not None else small_model()
    if net is not False:
        torch.save({"model": net.state_dict()}, d / "model.pt")
    result = {"group": group, "paper": "ResNet", "model": MODEL, "model_options": OPTIONS, "test_accuracy": accuracy,
              "test_images": 10_000, "params": count_params(net) if net is not False else 1000, "macs": 1,
              "epochs": 30, "seed": 0, "wall_time_s": 12.5, "device": "CPU", "versions": {"torch": "2"},
              "checkpoint": "model.pt", "submitted_at": when, "stand_in": False}
    result.update(fields)
    (d / "result.json").write_text(json.dumps(result) if not isinstance(fields.get("raw"), str) else fields["raw"])
    return d


# ---------------------------------------------------------------- ranking rules
def test_rank_mark_mapping():
    assert LB.rank_mark(1, 1) == 10
    assert [LB.rank_mark(r, 3) for r in (1, 2, 3)] == [10, 7.5, 5]
    assert [round(LB.rank_mark(r, 11), 2) for r in (1, 6, 11)] == [10, 7.5, 5]
    for bad in ((0, 3), (4, 3), (1.0, 3)):
        with pytest.raises(ValueError, match="rank must be"):
            LB.rank_mark(*bad)


def test_ties_fewer_parameters_then_earlier_submission(tmp_path):
    wide, narrow = small_model(width=4), small_model(width=2)
    submit(tmp_path, "a", "A", 0.91, wide, model_options={"width": 4})
    submit(tmp_path, "b", "B", 0.91, narrow, when="2026-11-02T10:00:00+00:00")   # same accuracy, fewer params
    submit(tmp_path, "c", "C", 0.91, narrow, when="2026-11-01T09:00:00+00:00")   # ... and earlier
    submit(tmp_path, "d", "D", 0.90004, narrow)          # 0.9000 < 0.9100
    submit(tmp_path, "e", "E", 0.91004, wide, model_options={"width": 4}, when="2026-10-01T00:00:00")  # = 0.9100
    ranked, subs = LB.build_leaderboard(tmp_path)
    assert all(s.status == "ranked" for s in subs)
    assert [r["group"] for r in ranked] == ["C", "B", "E", "A", "D"]
    assert [r["rank_mark"] for r in ranked] == [10, 8.75, 7.5, 6.25, 5]
    assert not any(r["verified"] for r in ranked)


def test_received_csv_sets_the_submission_time(tmp_path):
    submit(tmp_path, "x", "X", 0.8, when="2026-11-01T10:00:00+00:00")
    submit(tmp_path, "y", "Y", 0.8, when="2026-11-02T10:00:00+00:00")
    (tmp_path / "received.csv").write_text("submission,received_at\nx,2026-11-03T00:00:00\ny,2026-11-02T12:00:00\n")
    ranked, _ = LB.build_leaderboard(tmp_path)
    assert [r["group"] for r in ranked] == ["Y", "X"]


def test_a_groups_best_submission_counts(tmp_path):
    submit(tmp_path, "g1-alice", "G1", 0.70)
    submit(tmp_path, "g1-bob", "G1", 0.80)
    submit(tmp_path, "g2", "G2", 0.75)
    ranked, subs = LB.build_leaderboard(tmp_path)
    assert [(r["group"], r["submission"]) for r in ranked] == [("G1", "g1-bob"), ("G2", "g2")]
    alice = next(s for s in subs if s.folder == "g1-alice")
    assert alice.status == "ranked" and "not the group's best" in " ".join(alice.notes)


# ---------------------------------------------------------------- recomputing the accuracy
def test_accuracy_is_recomputed_and_a_false_claim_is_flagged(tmp_path, test_set):
    net = small_model()
    true = evaluate_accuracy(net, *test_set)
    honest = LB.check_submission(submit(tmp_path, "honest", accuracy=true, net=net), test_set)
    assert honest.status == "ranked" and honest.verified == true
    close = LB.check_submission(submit(tmp_path, "close", accuracy=true + 0.002, net=net), test_set)
    assert close.status == "ranked" and close.accuracy == true       # ranked on the recomputed value
    inflated = LB.check_submission(submit(tmp_path, "inflated", accuracy=min(1.0, true + 0.3), net=net), test_set)
    assert inflated.status == "flagged" and "the checkpoint gives" in inflated.reason
    tta = LB.check_submission(submit(tmp_path, "tta", accuracy=evaluate_accuracy(net, *test_set, tta=True),
                                     net=net, tta=True), test_set)
    assert tta.status == "ranked"
    wrong_params = LB.check_submission(submit(tmp_path, "params", params=123), test_set)
    assert wrong_params.status == "flagged" and "parameters" in wrong_params.reason
    ranked, _ = LB.build_leaderboard(tmp_path, test_set)
    assert {r["submission"] for r in ranked} == {"close"} and ranked[0]["verified"]  # G03's best verified one


def test_stand_in_runs_only_for_demonstrations(tmp_path, test_set):
    net = small_model()
    d = submit(tmp_path, "demo", accuracy=evaluate_accuracy(net, *test_set), net=net, stand_in=True, test_images=64)
    assert LB.check_submission(d, test_set).status == "invalid"
    assert LB.check_submission(d, test_set, allow_stand_in=True).status == "ranked"


def test_instructor_verified_custom_model(tmp_path):
    sub = LB.check_submission(submit(tmp_path, "mine", model="my_resnet"))
    assert sub.status == "invalid" and "custom model" in sub.reason
    sub = LB.check_submission(tmp_path / "mine", received={"verified_accuracy": "0.87"})
    assert sub.status == "ranked" and sub.accuracy == 0.87


# ---------------------------------------------------------------- malformed and hostile submissions
MALFORMED = {
    "not_json": (dict(raw="{'group': 'G1',"), "not valid JSON"),
    "a_list": (dict(raw="[1, 2, 3]"), "JSON object"),
    "percent_string": (dict(test_accuracy="96%"), "'test_accuracy' must be a number"),
    "bool_params": (dict(params=True), "'params' must be int"),
    "float_epochs": (dict(epochs=30.5), "'epochs' must be int"),
    "nan": (dict(raw='{"test_accuracy": NaN}'), "must be a number"),
    "above_one": (dict(test_accuracy=96.5), "fraction in [0, 1]"),
    "missing": (dict(raw='{"group": "G1"}'), "missing field 'paper'"),
    "unknown_paper": (dict(paper="AlexNet"), "'paper' must be one of"),
    "bad_date": (dict(submitted_at="yesterday"), "ISO date-time"),
    "nested_options": (dict(model_options={"width": [1, 2]}), "model_options"),
    "stand_in": (dict(stand_in=True), "stand-in"),
    "baseline": (dict(model="slides_cnn", paper="ResNet"), "baseline"),
    "wrong_paper": (dict(paper="VGG"), "belongs to ResNet"),
    "traversal": (dict(checkpoint="../other/model.pt"), "file name in the submission folder"),
    "not_there": (dict(checkpoint="final.pt"), "not in the folder"),
    "few_images": (dict(test_images=512), "512 test images"),
    "bad_option": (dict(model_options={"depth_mult": 2}), "do not fit"),
    "giant_option": (dict(model_options={"width": 100_000}), "do not fit resnet20 {'width': 100000}: it has"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_submissions_get_a_clear_reason(tmp_path, case):
    fields, reason = MALFORMED[case]
    sub = LB.check_submission(submit(tmp_path, case, **fields))
    assert sub.status == "invalid" and reason in sub.reason, sub.reason


class Payload:
    """Unpickling this would run code (here: create a file). weights_only=True must refuse it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")   # torch's warning about the junk file
def test_hostile_files_never_run_code_or_stop_the_ranking(tmp_path):
    marker = tmp_path / "pwned"
    evil = submit(tmp_path / "results", "evil", "E", 0.99)
    torch.save({"model": small_model().state_dict(), "extra": Payload(marker)}, evil / "model.pt")
    junk = submit(tmp_path / "results", "junk", "J", 0.98)
    (junk / "model.pt").write_bytes(b"\x80\x04 not a checkpoint at all" * 100)
    other = submit(tmp_path / "results", "other_model", "O", 0.97)
    torch.save({"model": small_model(width=4).state_dict()}, other / "model.pt")
    link = submit(tmp_path / "results", "link", "L", 0.96, net=False)
    outside = tmp_path / "elsewhere.pt"
    torch.save({"model": small_model().state_dict()}, outside)
    (link / "model.pt").symlink_to(outside)
    huge = submit(tmp_path / "results", "huge", "H", 0.95)
    (huge / "result.json").write_text(" " * (LB.MAX_JSON_BYTES + 1))
    deep = submit(tmp_path / "results", "deep", "D", 0.94)
    (deep / "result.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "results" / "empty").mkdir()
    submit(tmp_path / "results", "good", "G", 0.5)

    ranked, subs = LB.build_leaderboard(tmp_path / "results")
    assert not marker.exists(), "the pickled payload ran"
    assert [r["group"] for r in ranked] == ["G"]
    reasons = {s.folder: s.reason for s in subs}
    assert "pickled Python objects" in reasons["evil"] and "weights_only" in reasons["evil"]
    assert "not a readable PyTorch file" in reasons["junk"]
    assert "do not fit" in reasons["other_model"]
    assert "outside the submission folder" in reasons["link"]
    assert "over the" in reasons["huge"]
    assert reasons["deep"]  # a RecursionError is caught and named, not raised
    assert "no result.json" in reasons["empty"]
    text = LB.format_leaderboard(ranked, subs)
    print(text)
    assert "Not ranked:" in text and "evil: INVALID" in text


def test_write_and_cli(tmp_path, capsys):
    submit(tmp_path / "res", "a", "A", 0.8)
    submit(tmp_path / "res", "b", "B", 0.7)
    submit(tmp_path / "res", "bad", "C", "x")
    assert cli(["leaderboard", str(tmp_path / "res"), "--data", "none", "--out", str(tmp_path / "lb.csv")]) == 0
    out = capsys.readouterr().out
    assert "bad: INVALID" in out
    rows = list(csv.DictReader(open(tmp_path / "lb.csv")))
    assert [(r["rank"], r["group"], float(r["rank_mark"])) for r in rows] == [("1", "A", 10.0), ("2", "B", 5.0)]
    assert len(list(csv.DictReader(open(tmp_path / "lb_submissions.csv")))) == 3
    with pytest.raises(FileNotFoundError, match="no results folder"):
        LB.build_leaderboard(tmp_path / "nope")


# ---------------------------------------------------------------- marking
def test_weights_are_the_slides():
    assert MK.WEIGHTS == {"motivation_design": 40, "reproduction": 30, "teamwork": 10, "presentation": 10,
                          "rank": 10}
    assert sum(MK.WEIGHTS.values()) == 100


def test_total_mark_arithmetic_and_checks():
    full = dict(MK.WEIGHTS)
    assert MK.total_mark(full) == 100
    assert MK.total_mark({"motivation_design": 32, "reproduction": 24, "teamwork": 8, "presentation": 7,
                          "rank": 7.5}) == 78.5
    assert MK.total_mark({k: 0 for k in MK.WEIGHTS}) == 0
    for bad, match in (({**full, "rank": 11}, "between 0 and 10"), ({**full, "reproduction": -1}, "between 0 and 30"),
                       ({**full, "teamwork": True}, "number of points"), ({**full, "presentation": float("nan")}, "number"),
                       ({k: v for k, v in full.items() if k != "rank"}, "rank must be"), ({**full, "bonus": 1}, "unknown")):
        with pytest.raises(ValueError, match=match):
            MK.total_mark(bad)


def test_marks_table_and_cli(tmp_path, capsys):
    scores = tmp_path / "scores.csv"
    scores.write_text("student,group,motivation_design,reproduction,teamwork,presentation\n"
                      "Ann,A,36,27,9,8\nBen,B,30,20,10,10\nCy,Z,40,30,10,10\n")
    table = MK.marks_table(MK.read_scores(scores), {"A": 10.0, "B": 5.0})
    totals = {r["student"]: r["total"] for r in table}
    assert totals == {"Ann": 36 + 27 + 9 + 8 + 10, "Ben": 30 + 20 + 10 + 10 + 5, "Cy": 90}
    assert next(r for r in table if r["student"] == "Cy")["note"].startswith("group not ranked")
    assert "| Ann | A | 36 | 27 | 9 | 8 | 10 | 90.00 |" in MK.format_marks(table)
    (tmp_path / "lb.csv").write_text("rank,group,rank_mark\n1,A,10\n2,B,5\n")
    assert cli(["mark", str(scores), "--leaderboard", str(tmp_path / "lb.csv"), "--out", str(tmp_path / "m.csv")]) == 0
    assert [r["total"] for r in csv.DictReader(open(tmp_path / "m.csv"))] == ["90.0", "75.0", "90.0"]
    bad = tmp_path / "bad.csv"
    bad.write_text("student,group,motivation_design,reproduction,teamwork,presentation\nAnn,A,41,0,0,0\n")
    with pytest.raises(ValueError, match="'Ann': motivation_design must be between 0 and 40"):
        MK.marks_table(MK.read_scores(bad), {})
    bad.write_text("student,group,motivation_design,reproduction\nAnn,A,4,0\n")
    with pytest.raises(ValueError, match="lacks the columns"):
        MK.read_scores(bad)
    bad.write_text("student,group,motivation_design,reproduction,teamwork,presentation\nAnn,A,ten,0,0,0\n")
    with pytest.raises(ValueError, match="line 2, column motivation_design"):
        MK.read_scores(bad)


def test_report_template_has_the_four_headings(tmp_path, capsys):
    from course_utils.midterm import report_template

    text = report_template()
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert [h.split(". ", 1)[1] for h in headings[:4]] == ["Motivation", "Method", "Evaluation", "Reproduction"]
    assert "interesting figure, diagram or code" in text and "cite it" in text
    out = tmp_path / "report.md"
    assert cli(["template", "--out", str(out)]) == 0 and out.read_text() == text
    assert cli(["template", "--out", str(out)]) == 1   # never overwrites a student's report
