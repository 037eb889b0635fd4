"""The first cell's Colab install never replaces the torch or torchvision that Colab already has.

The cell runs `pip install -q "course-utils @ git+https://github.com/<repo>"`. Here pip resolves the same install,
with this checkout in place of the git URL, against this environment (which has the course's torch), as a dry
run: the plan must install course-utils and leave torch and torchvision alone. The first test needs no network
(`--no-index`: only what is installed may satisfy a dependency); the second asks PyPI, where newer torch releases
exist, and is skipped when PyPI cannot be reached.
"""
import ast
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
import nbtools  # noqa: E402

PROTECTED = {"torch", "torchvision", "torchaudio"}


def _colab_pip_args() -> list[str]:
    """The pip arguments of the Colab cell (after "-m pip"), with the git URL replaced by this checkout."""
    call = next(n for n in ast.walk(ast.parse(nbtools.COLAB_CELL))
                if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "run")
    args = [a.value for a in call.args[0].elts if isinstance(a, ast.Constant)]
    args = args[args.index("pip") + 1:]
    requirement = next(a for a in args if "@ git+" in a)
    assert Requirement(requirement).name == "course-utils"
    return [a if a != requirement else f"course-utils @ {REPO.as_uri()}" for a in args]


def _plan(tmp_path: Path, *extra: str) -> dict[str, str]:
    """Dry-run the Colab install here; return {name: version} of what pip would install."""
    report = tmp_path / "report.json"
    cmd = [sys.executable, "-m", "pip", *_colab_pip_args(), "--dry-run", "--report", str(report),
           "--no-build-isolation", "--disable-pip-version-check", *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, f"pip failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    items = json.loads(report.read_text())["install"]
    return {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in items}


def test_colab_cell_installs_the_package_only():
    args = _colab_pip_args()
    assert args[0] == "install" and not any(Requirement(a).name in PROTECTED for a in args[1:] if "@" in a)
    assert not any(a in ("-U", "--upgrade", "--force-reinstall", "--upgrade-strategy") for a in args)


def test_dry_run_offline_keeps_the_installed_torch(tmp_path):
    plan = _plan(tmp_path, "--no-index")
    assert "course-utils" in plan
    assert not PROTECTED & set(plan), f"the Colab install would replace {sorted(PROTECTED & set(plan))}: {plan}"


def _pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=3).close()
        return True
    except OSError:
        return False


def test_dry_run_with_pypi_keeps_the_installed_torch(tmp_path):
    if not _pypi_reachable():
        pytest.skip("PyPI is not reachable (offline): the offline dry run above still ran")
    plan = _plan(tmp_path)
    assert "course-utils" in plan
    assert not PROTECTED & set(plan), f"the Colab install would replace {sorted(PROTECTED & set(plan))}: {plan}"


@pytest.mark.parametrize("torch_version, torchvision_version",
                         [("2.1.0", "0.16.0"), ("2.5.1+cu121", "0.20.1+cu121"), ("2.8.0+cu126", "0.23.0+cu126")])
def test_dependency_ranges_accept_older_cuda_builds(torch_version, torchvision_version):
    """An older torch (as on Colab) satisfies the package's ranges, so pip has no reason to replace it."""
    import tomllib

    deps = {Requirement(d).name: Requirement(d) for d in
            tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]}
    for name, version in [("torch", torch_version), ("torchvision", torchvision_version)]:
        assert deps[name].specifier.contains(version, prereleases=False), f"{name} {version} vs {deps[name]}"
