"""Uses an installed seqtasks wheel as a user would (run by ``.ci/wheel_check`` from outside the checkout).

``python -I installed_smoke.py README.md numpy``: the README's numpy examples (doctest) and numpy blocks, every numpy-core
module imported, no TensorFlow and no ``baselines`` installed with the wheel.
``python -I installed_smoke.py README.md tf``: the same examples, every module of the package imported
(an undeclared dependency of the ``tf-cpu`` extra fails here), one ``tfds.load``, ``seqtasks.load``
and ``seqtasks.stream`` batches, and the stability kit's import.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import pkgutil
import re
import sys
import tempfile
from pathlib import Path

import seqtasks

NUMPY_ONLY_SKIPPED = ("seqtasks.tf", "seqtasks.stability")


def check_installed_copy(checkout: Path) -> None:
    """The package comes from site-packages, not from the checkout, and brings no ``baselines``."""
    where = Path(seqtasks.__file__).resolve()
    assert "site-packages" in where.parts and checkout not in where.parents, where
    assert importlib.util.find_spec("baselines") is None, "the wheel must not install a top-level baselines"


def run_readme_examples(readme: Path) -> None:
    text = readme.read_text(encoding="utf-8")
    test = doctest.DocTestParser().get_doctest(text, {}, "README.md", str(readme), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted >= 5 and result.failed == 0, result
    print(f"README examples: {result.attempted} passed")


NOT_RUN = "# not run by the tests"
NEEDS_TENSORFLOW = ("tensorflow", "keras", "seqtasks.stability", "seqtasks.load", "seqtasks.stream")


def run_readme_blocks(readme: Path, mode: str) -> None:
    """Runs the README's python blocks that are no doctest and not marked as not run, each in a fresh namespace
    (numpy mode: those that need no TensorFlow), in the current folder."""
    blocks = re.findall(r"^```python\n(.*?)^```", readme.read_text(encoding="utf-8"), re.S | re.M)
    ran = 0
    for block in blocks:
        if block.startswith(">>> ") or block.startswith(NOT_RUN):
            continue
        if mode == "numpy" and any(name in block for name in NEEDS_TENSORFLOW):
            continue
        exec(compile(block, "README.md", "exec"), {"__name__": "__readme__"})  # noqa: S102 - the README's own code
        ran += 1
    assert ran >= 1, "no README block ran"
    print(f"README blocks: {ran} ran")


def import_every_module(skip: tuple[str, ...]) -> None:
    names = [info.name for info in pkgutil.walk_packages(seqtasks.__path__, "seqtasks.")]
    names = [name for name in names if not name.startswith(skip) and not name.endswith(".__main__")]
    for name in names:
        importlib.import_module(name)
    print(f"imported {len(names)} modules")


def use_tensorflow_layers() -> None:
    import tensorflow_datasets as tfds

    from seqtasks.stability import FloorDetector, NaNLocator, check  # noqa: F401

    with tempfile.TemporaryDirectory() as data_dir:
        dataset = tfds.load("reber_grammar/embedded", split="test", as_supervised=True, data_dir=data_dir)
        tokens, next_symbols = next(iter(dataset))
        assert tokens.shape[0] == next_symbols.shape[0] and next_symbols.shape[1] == 7
        x, y, weight = next(iter(seqtasks.load("reber_grammar/embedded", "train", 32, data_dir=data_dir)))
        assert x.shape[0] == 32 and weight.shape == y.shape[:2]
    x, _, _ = next(iter(seqtasks.stream("sequence_reversal/len1to40_vocab2", seed=0, batch_size=4)))
    assert x.shape[0] == 4
    print("tfds.load, seqtasks.load, seqtasks.stream: ok")


def main(readme: str, mode: str) -> None:
    readme_path = Path(readme).resolve()
    check_installed_copy(readme_path.parent)
    run_readme_examples(readme_path)
    run_readme_blocks(readme_path, mode)
    if mode == "numpy":
        assert importlib.util.find_spec("tensorflow") is None, "the numpy-only install must not bring TensorFlow"
        import_every_module(NUMPY_ONLY_SKIPPED)
    else:
        import_every_module(())
        use_tensorflow_layers()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
