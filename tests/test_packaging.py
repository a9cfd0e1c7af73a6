"""The wheel ships the library only (``seqtasks``), with its package data; ``baselines`` stays in the checkout.

The full release check (the built wheel installed into fresh virtualenvs, used from outside the
checkout) is ``.ci/wheel_check``, run by ``.ci/run`` after the test suite.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower()


def test_the_packages_found_are_seqtasks_only():
    patterns = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    assert any(fnmatch.fnmatch("seqtasks.tf", pattern) for pattern in patterns)
    assert not any(fnmatch.fnmatch(name, pattern) for name in ("baselines", "baselines.zoo") for pattern in patterns)


def test_every_tf_extra_declares_filelock_and_constraints_pin_it():
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert all("filelock" in map(_name, extras[extra]) for extra in ("tf", "tf-cpu"))
    pinned = {_name(line): line for line in (ROOT / "constraints.txt").read_text().splitlines() if "==" in line}
    for requirement in [*PYPROJECT["project"]["dependencies"], *extras["tf-cpu"], *extras["dist"]]:
        assert _name(requirement) in pinned, requirement


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("build") is None, reason="needs `build` (pip install '.[dist]')")
def test_the_built_wheel_holds_seqtasks_and_its_data_only(tmp_path):
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True, text=True, timeout=600)
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"seqtasks"}
    assert "seqtasks/fingerprints.json" in names and "seqtasks/tf/builders.py" in names
    sources = {str(path.relative_to(ROOT)) for path in (ROOT / "seqtasks").rglob("*.py")}
    assert sources <= set(names)  # every module of the package, none left out
