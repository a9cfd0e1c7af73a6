"""Every Python snippet of the README and the docs pages runs as written.

* Blocks with ``>>>`` are doctests: every output shown comes from running the example.
* Other ``python`` blocks of a page run in order, in one fresh interpreter per page (a working
  folder of its own, the repository on the path; ``--8<-- "file"`` lines include that file, as
  pymdownx.snippets does on the site).
* A block that cannot run here (it trains for minutes, needs your own model, or is a formula)
  says so on its first line, visible to readers: ``# not run by the tests: <reason>``.
"""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["README.md", *sorted(str(path.relative_to(ROOT)) for path in (ROOT / "docs").glob("*.md"))]
SKIP_MARKER = "# not run by the tests:"
BLOCK = re.compile(r"^```(?:python|py)[^\n]*\n(.*?)^```", flags=re.S | re.M)
INCLUDE = re.compile(r'^--8<-- "([^"]+)"\s*$', flags=re.M)


def python_blocks(page: str) -> list[str]:
    """The page's ``python`` code blocks, in order."""
    return BLOCK.findall((ROOT / page).read_text(encoding="utf-8"))


def runnable_blocks(page: str) -> list[tuple[str, str]]:
    """The page's non-doctest blocks, ``(label, source)``, includes resolved, marked blocks left out."""
    out = []
    for index, block in enumerate(python_blocks(page)):
        if ">>> " in block or block.lstrip().startswith(SKIP_MARKER):
            continue
        source = INCLUDE.sub(lambda match: (ROOT / match.group(1)).read_text(encoding="utf-8"), block)
        out.append((f"{page} python block {index}", source))
    return out


# Runs the blocks one after the other in one namespace, as a reader pasting them into one session would.
DRIVER = """
import json, sys
namespace = {"__name__": "__main__"}
for label, source in json.loads(sys.stdin.read()):
    print("--- " + label, flush=True)
    exec(compile(source, label, "exec"), namespace)
"""


@pytest.mark.parametrize("page", [page for page in PAGES if ">>> " in (ROOT / page).read_text(encoding="utf-8")])
def test_page_examples_print_what_they_show(page):
    text = (ROOT / page).read_text(encoding="utf-8")
    parser = doctest.DocTestParser()
    test = parser.get_doctest(text, {}, page, str(ROOT / page), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted >= 3 and result.failed == 0


def test_the_readme_and_the_home_page_have_doctests():
    for page in ("README.md", "docs/index.md"):
        assert ">>> " in (ROOT / page).read_text(encoding="utf-8"), page


@pytest.mark.parametrize("page", [page for page in PAGES if runnable_blocks(page)])
def test_page_snippets_run_as_written(page, tmp_path):
    import json

    source = json.dumps(runnable_blocks(page))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "TF_CPP_MIN_LOG_LEVEL": "3", "MPLBACKEND": "Agg"}
    result = subprocess.run([sys.executable, "-c", DRIVER], input=source, cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=900)
    started = re.findall(r"^--- (.*)$", result.stdout, flags=re.M)
    where = started[-1] if started else page
    assert result.returncode == 0, (
        f"{where} fails as written; make it run, or put '{SKIP_MARKER} <reason>' on its first line:\n"
        + result.stderr[-3000:]
    )


def test_skip_markers_give_a_reason():
    for page in PAGES:
        for block in python_blocks(page):
            first = block.lstrip().splitlines()[0] if block.strip() else ""
            if first.startswith(SKIP_MARKER):
                assert len(first[len(SKIP_MARKER):].strip()) >= 10, f"{page}: {first!r} gives no reason"


def test_the_runner_catches_a_failing_snippet(tmp_path, monkeypatch):
    """The harness itself can fail: a page whose block raises is reported with the block that failed."""
    page = tmp_path / "page.md"
    page.write_text("```python\nprint('fine')\n```\n\n```python\nundefined_name\n```\n", encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    with pytest.raises(AssertionError, match="page.md python block 1 fails as written"):
        test_page_snippets_run_as_written("page.md", tmp_path)
