"""The CIFAR-10 mid-term kit: 11 paper models, one training command, a checked leaderboard, the marks.

    python -m course_utils.midterm models                      # the 11-row table (parameters, MACs, shapes)
    python -m course_utils.midterm train --model resnet --epochs 30 --group G03
    python -m course_utils.midterm leaderboard results/ --data cifar10
    python -m course_utils.midterm mark scores.csv --leaderboard leaderboard.csv --out marks.md
    python -m course_utils.midterm template --out report.md    # the report template (four headings)

Modules: papers (the list, the model table), train (the command), leaderboard (checks and ranking),
marking (the slides' weights).
"""
from .leaderboard import build_leaderboard, check_submission, rank_groups, rank_mark
from .marking import WEIGHTS, marks_table, total_mark
from .papers import BASELINE, PAPERS, assign_papers, format_table, model_table, paper_of, resolve_model
from .train import evaluate_accuracy, load_data, load_standin, normalize

__all__ = ["PAPERS", "BASELINE", "WEIGHTS", "assign_papers", "check_submission", "evaluate_accuracy",
           "format_table", "build_leaderboard", "load_data", "load_standin", "marks_table", "model_table",
           "normalize", "paper_of", "rank_groups", "rank_mark", "report_template", "resolve_model", "total_mark"]


def report_template() -> str:
    """The report template (markdown, the slides' four headings) that students copy."""
    from importlib.resources import files

    return files(__package__).joinpath("report_template.md").read_text(encoding="utf-8")
