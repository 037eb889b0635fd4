"""Course-wide settings: the one place that reads the environment."""
from __future__ import annotations

import os
from pathlib import Path

#: True when COURSE_FAST=1: tiny data and few steps (set by the tests and CI).
FAST: bool = os.environ.get("COURSE_FAST", "0").strip().lower() in {"1", "true", "yes"}

#: Where downloaded datasets and checkpoints are cached (git-ignored).
DATA_DIR: Path = Path(os.environ.get("COURSE_DATA_DIR", Path(__file__).resolve().parent.parent / "data"))

#: The GitHub repository the course is published from (used for Colab links and installs).
REPO_SLUG: str = "cnn-course/pytorch-cnn-course"


def pick(full, fast):
    """Return `full` in full mode and `fast` in fast mode (COURSE_FAST=1)."""
    return fast if FAST else full
