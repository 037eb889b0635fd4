"""The mid-term marks with the slides' weights: report 70% (40 + 30), group presentation 30% (10 + 10 + 10)."""
from __future__ import annotations

import csv
import math
from pathlib import Path

__all__ = ["WEIGHTS", "CRITERIA", "total_mark", "read_scores", "marks_table", "format_marks", "write_marks"]

#: Slides S3: criterion -> its share of the 100 marks.
WEIGHTS: dict[str, int] = {
    "motivation_design": 40,  # individual report: describe clearly the motivation and design idea
    "reproduction": 30,       # individual report: able to reproduce the code
    "teamwork": 10,           # group presentation: able to do teamwork
    "presentation": 10,       # group presentation: clear presentation
    "rank": 10,               # group presentation: rank on CIFAR-10 among all groups (from the leaderboard)
}
CRITERIA = list(WEIGHTS)
assert sum(WEIGHTS.values()) == 100


def total_mark(points: dict[str, float]) -> float:
    """Sum of the points of every criterion, each checked to lie between 0 and its weight."""
    for name, weight in WEIGHTS.items():
        value = points.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{name} must be a number of points from 0 to {weight}, got {value!r}")
        if not 0 <= value <= weight:
            raise ValueError(f"{name} must be between 0 and {weight} points, got {value}")
    extra = set(points) - set(WEIGHTS) - {"student", "group", "note"}
    if extra:
        raise ValueError(f"unknown criteria {sorted(extra)}: the criteria are {CRITERIA}")
    return float(sum(points[name] for name in WEIGHTS))


def read_scores(path: str | Path) -> list[dict]:
    """The instructor's CSV: student, group, then points for motivation_design (of 40), reproduction (30),
    teamwork (10), presentation (10). The rank points come from the leaderboard."""
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        needed = {"student", "group", *CRITERIA[:-1]}
        missing = needed - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{Path(path).name} lacks the columns {sorted(missing)}; it needs {sorted(needed)}")
        for line, row in enumerate(reader, start=2):
            out = {"student": row["student"].strip(), "group": row["group"].strip()}
            for name in CRITERIA[:-1]:
                try:
                    out[name] = float(row[name])
                except (TypeError, ValueError):
                    raise ValueError(f"{Path(path).name} line {line}, column {name}: {row[name]!r} is not a number") from None
            rows.append(out)
    return rows


def marks_table(scores: list[dict], rank_marks: dict[str, float]) -> list[dict]:
    """Every student's points per criterion, the rank points of their group (0 if it was not ranked), and the total."""
    table = []
    for row in scores:
        points = {**row, "rank": rank_marks.get(row["group"], 0.0)}
        try:
            total = total_mark({k: points[k] for k in CRITERIA})
        except ValueError as err:
            raise ValueError(f"student {row.get('student')!r}: {err}") from None
        note = "" if row["group"] in rank_marks else "group not ranked: 0 rank points"
        table.append({"student": row["student"], "group": row["group"], **{k: points[k] for k in CRITERIA},
                      "total": total, "note": note})
    return sorted(table, key=lambda r: (r["group"], r["student"]))


def format_marks(table: list[dict]) -> str:
    """The marks as a markdown table (columns headed with their weights)."""
    head = ["student", "group"] + [f"{k} /{w}" for k, w in WEIGHTS.items()] + ["total /100", "note"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in table:
        cells = [r["student"], r["group"]] + [f"{r[k]:g}" for k in CRITERIA] + [f"{r['total']:.2f}", r["note"]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_marks(table: list[dict], path: str | Path) -> Path:
    """Write the table as CSV (path ending in .csv) or markdown (anything else)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, ["student", "group", *CRITERIA, "total", "note"])
            w.writeheader()
            w.writerows(table)
    else:
        path.write_text(format_marks(table) + "\n", encoding="utf-8")
    return path
