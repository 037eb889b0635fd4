"""`python -m course_utils.midterm COMMAND ...`: models, train, leaderboard, mark, template (see --help)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

COMMANDS = {
    "models": "print the 11-row table: each paper's kit model, parameters, MACs, forward shape",
    "train": "train one model on CIFAR-10, write result.json and model.pt (train --help: every option)",
    "leaderboard": "check every submission in a results folder and rank the groups",
    "mark": "the marks table with the slides' weights (40/30/10/10/10)",
    "template": "write the report template (markdown, four headings)",
}


def _leaderboard(argv: list[str]) -> int:
    """The leaderboard command."""
    from .leaderboard import build_leaderboard, format_leaderboard, write_leaderboard

    p = argparse.ArgumentParser(prog="python -m course_utils.midterm leaderboard",
                                description="Check every submission folder, recompute the test accuracy from its "
                                            "checkpoint when the test set is available, rank the groups "
                                            "(rules: course_utils/midterm/leaderboard.py).",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("results", type=Path, help="the results folder: one sub-folder per submission")
    p.add_argument("--data", choices=["cifar10", "none"], default="cifar10",
                   help="recompute every accuracy on CIFAR-10's 10,000 test images, or only check the files")
    p.add_argument("--tolerance", type=float, default=0.0025,
                   help="largest accepted difference between the claimed and the recomputed accuracy")
    p.add_argument("--out", type=Path, default=None, help="also write the ranking to this CSV")
    args = p.parse_args(argv)
    test = None
    if args.data == "cifar10":
        from ..data import DatasetUnavailableError
        from .train import load_data, normalize

        try:
            d = load_data("cifar10", limit=None)
        except DatasetUnavailableError as err:
            print(f"{err}\nUse --data none to check the files and rank the claims without re-verifying them.")
            return 2
        test = (normalize(d.test.tensors[0]), d.test.tensors[1])
    ranked, subs = build_leaderboard(args.results, test, args.tolerance)
    print(format_leaderboard(ranked, subs))
    if args.out:
        print(f"wrote {write_leaderboard(ranked, subs, args.out)}")
    return 0


def _mark(argv: list[str]) -> int:
    """The mark command."""
    import csv

    from .marking import format_marks, marks_table, read_scores, write_marks

    p = argparse.ArgumentParser(prog="python -m course_utils.midterm mark",
                                description="Total every student's marks with the slides' weights: motivation and "
                                            "design 40, reproduction 30, teamwork 10, presentation 10, rank 10.")
    p.add_argument("scores", type=Path, help="CSV: student, group, motivation_design, reproduction, teamwork, "
                                             "presentation (points out of 40, 30, 10, 10)")
    p.add_argument("--leaderboard", type=Path, required=True, help="the CSV written by `leaderboard --out`")
    p.add_argument("--out", type=Path, default=None, help="write the table (.csv, or markdown otherwise)")
    args = p.parse_args(argv)
    with open(args.leaderboard, newline="", encoding="utf-8") as f:
        ranks = {row["group"]: float(row["rank_mark"]) for row in csv.DictReader(f)}
    table = marks_table(read_scores(args.scores), ranks)
    print(format_marks(table))
    if args.out:
        print(f"wrote {write_marks(table, args.out)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Dispatch to a command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print("usage: python -m course_utils.midterm COMMAND [options]   (COMMAND --help for its options)\n")
        print("\n".join(f"  {name:<12} {text}" for name, text in COMMANDS.items()))
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    command, rest = argv[0], argv[1:]
    if command == "train":
        from .train import main as train_main

        return train_main(rest)
    if command == "models":
        from .papers import format_table, model_table

        argparse.ArgumentParser(prog="python -m course_utils.midterm models",
                                description=COMMANDS["models"]).parse_args(rest)
        print(format_table(model_table()))
        return 0
    if command == "template":
        from . import report_template

        p = argparse.ArgumentParser(prog="python -m course_utils.midterm template", description=COMMANDS["template"])
        p.add_argument("--out", type=Path, default=None, help="write it to this file (default: print it)")
        args = p.parse_args(rest)
        if args.out:
            if args.out.exists():
                print(f"{args.out} exists: not overwritten (choose another --out)")
                return 1
            args.out.write_text(report_template(), encoding="utf-8")
            print(f"wrote {args.out}")
        else:
            print(report_template(), end="")
        return 0
    return _leaderboard(rest) if command == "leaderboard" else _mark(rest)


if __name__ == "__main__":
    sys.exit(main())
