"""The documentation site builds, its examples run, and the citation metadata matches the package."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import seqtasks

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "docs" / "examples"


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None, reason="mkdocs is not installed (extra: docs)")
def test_docs_build_strict(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    api_page = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    assert 'id="seqtasks.registry.make"' in api_page  # the reference really comes from the docstrings


def test_adding_a_task_example_passes_its_own_tests():
    # A fresh interpreter, so registering the example task cannot leak into this test session.
    script = (
        "import sys; sys.path[:0] = [{root!r}, {examples!r}]\n"
        "import running_parity, pytest\n"
        "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', {test!r}]))\n"
    ).format(root=str(ROOT), examples=str(EXAMPLES), test=str(EXAMPLES / "test_running_parity.py"))
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "11 passed" in result.stdout  # its own 6 tests and tfds's builder tests of its test preset


def test_adding_a_task_example_gets_its_docs_page_from_its_card(tmp_path):
    """The example task's page comes from its own file (its card) and the code: no edit of the generator."""
    generator = ROOT / "docs" / "tasks" / "generate_pages.py"
    result = subprocess.run(
        [sys.executable, str(generator), "--imports", "running_parity", "--out", str(tmp_path), "running_parity"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(EXAMPLES), str(ROOT)])},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    page = (tmp_path / "running_parity.md").read_text(encoding="utf-8")
    for text in (
        "Bit strings; the target at step t is the XOR of bits 0..t.",  # the card's description
        "## Definition\n\nUniform random bits;",
        "| `parity` | int32 | `(T,)` | per step, the XOR of the bits so far |",  # the card's field meanings
        "| `len8to20` (default) | 10,000 | 1,000 | 1,000 | - | 8..20 |",  # sizes and length_range from the code
        "## What held out means",
        "## Metric to report\n\nReport **token accuracy**",
        'tfds.load("running_parity/len8to20"',
        "## Citation\n\nThe task comes from no paper",
    ):
        assert text in page
    source = generator.read_text(encoding="utf-8")
    for name in seqtasks.list_tasks():  # no prose of, and no branch on, any task
        assert name not in source


def _citation_fields() -> dict[str, str]:
    """Top-level scalar fields of CITATION.cff (a flat reader: enough for the fields checked here)."""
    fields = {}
    for line in (ROOT / "CITATION.cff").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([a-z-]+):\s*(.+)$", line)
        if match:
            fields[match.group(1)] = match.group(2).strip().strip('"')
    return fields


def test_citation_matches_the_package():
    fields = _citation_fields()
    assert fields["cff-version"] == "1.2.0"
    assert fields["version"] == seqtasks.__version__
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", fields["date-released"])
    citing = (ROOT / "docs" / "citing.md").read_text(encoding="utf-8")
    assert f"version = {{{seqtasks.__version__}}}" in citing


def test_changelog_lists_every_task_with_its_dataset_version():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## {seqtasks.__version__} " in changelog
    for name in seqtasks.list_tasks():
        version = seqtasks.make(name).version
        assert re.search(rf"^\| `{name}` \| {re.escape(version)} \|", changelog, re.MULTILINE), (name, version)
