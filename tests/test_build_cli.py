"""Registration on import, `seqtasks build` and `tfds build --imports seqtasks`."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from seqtasks.cli import main
from seqtasks.registry import task_class
from cli_helpers import one_error_line, read_only_folder, skip_as_root

REPO = Path(__file__).resolve().parents[1]
REBER_VERSION = task_class("reber_grammar").version  # the tfds VERSION of its builder


def _env() -> dict[str, str]:
    """This environment with the repository importable (it need not be pip-installed)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def _run_python(code: str) -> str:
    env = _env()
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout


@pytest.mark.parametrize(
    "imports",
    ["import seqtasks; import tensorflow_datasets as tfds", "import tensorflow_datasets as tfds; import seqtasks"],
    ids=["seqtasks-first", "tfds-first"],
)
def test_builders_register_in_either_import_order(imports):
    code = (
        f"import sys; {imports}\n"
        "print(sorted(n for n in tfds.list_builders(with_community_datasets=False) "
        "if n in {'reber_grammar', 'sequence_reversal', 'char_to_vector', 'random_labels'}))\n"
        "print(tfds.builder('reber_grammar/embedded').info.splits.keys() is not None)"
    )
    lines = _run_python(code).splitlines()
    assert lines[-2] == "['char_to_vector', 'random_labels', 'reber_grammar', 'sequence_reversal']"


def test_import_seqtasks_stays_free_of_tensorflow_and_tfds():
    out = _run_python("import sys, seqtasks; print('tensorflow' in sys.modules, 'tensorflow_datasets' in sys.modules)")
    assert out.strip() == "False False"


def test_seqtasks_build_shows_progress_path_and_sizes(tmp_path, capsys):
    assert main(["build", "reber_grammar/embedded", "--data_dir", str(tmp_path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    version_dir = tmp_path / "reber_grammar" / "embedded" / REBER_VERSION
    assert (version_dir / "dataset_info.json").is_file()
    assert f"data: {version_dir}" in out
    for split in ("train", "validation", "test", "test_long"):
        assert f"│ {split} │ 256 │" in out
    # A second build finds the prepared data instead of rebuilding.
    assert main(["build", "reber_grammar/embedded", "--data_dir", str(tmp_path)]) == 0
    assert "found reber_grammar/embedded" in capsys.readouterr().out


@pytest.mark.slow
def test_seqtasks_build_prints_no_tensorflow_start_up_banner(tmp_path):
    """The console script's build holds back TensorFlow's load-time native log lines (seqtasks.tf.quiet)."""
    env = {key: value for key, value in _env().items() if key != "TF_CPP_MIN_LOG_LEVEL"}  # the default level
    done = subprocess.run(
        [sys.executable, "-m", "seqtasks", "build", "reber_grammar/embedded", "--data_dir", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"data: {tmp_path / 'reber_grammar' / 'embedded' / REBER_VERSION}" in " ".join(done.stdout.split())
    assert "cpu_feature_guard" not in done.stderr, done.stderr[-2000:]
    assert not re.search(r"^[IWE]\d{4} |absl::InitializeLog|oneDNN", done.stderr, re.MULTILINE), done.stderr[-2000:]


def test_seqtasks_build_rejects_unknown_dataset(tmp_path, capsys):
    assert main(["build", "no_such_task", "--data_dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "invalid dataset='no_such_task'" in err and "char_to_vector, random_labels, reber_grammar" in err




def test_seqtasks_build_with_an_unknown_config_lists_the_real_ones(tmp_path, capsys):
    assert main(["build", "reber_grammar/nosuch", "--data_dir", str(tmp_path)]) == 2
    one_error_line(
        capsys, "reber_grammar: invalid config name 'nosuch'; allowed: one of embedded, reber, embedded_depth2"
    )
    assert list(tmp_path.iterdir()) == []


def test_seqtasks_build_with_a_version_it_cannot_build_names_the_one_it_can(tmp_path, capsys):
    assert main(["build", "reber_grammar/embedded:9.9.9", "--data_dir", str(tmp_path)]) == 2
    one_error_line(capsys, f"reber_grammar: invalid version '9.9.9'; allowed: {REBER_VERSION}")
    assert list(tmp_path.iterdir()) == []


def test_seqtasks_build_into_a_data_dir_it_may_not_write(tmp_path, capsys, monkeypatch):
    """For any user (root included): the folder reports no write permission."""
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: Path(path) != tmp_path and real_access(path, mode, **kw))
    assert main(["build", "reber_grammar/embedded", "--data_dir", str(tmp_path)]) == 1
    one_error_line(capsys, f"invalid --data_dir={str(tmp_path)!r}", f"{tmp_path}: permission denied")
    assert list(tmp_path.iterdir()) == []


@skip_as_root
def test_seqtasks_build_into_a_read_only_data_dir(tmp_path, capsys):
    with read_only_folder(tmp_path) as folder:
        assert main(["build", "reber_grammar/embedded", "--data_dir", str(folder)]) == 1
        one_error_line(capsys, "--data_dir=", "permission denied")


def test_seqtasks_build_reports_a_file_error_while_writing(tmp_path, capsys, monkeypatch):
    from seqtasks.tf import builders

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "reber_grammar"))

    monkeypatch.setattr(builders.SeqtasksBuilder, "download_and_prepare", refuse)
    assert main(["build", "reber_grammar/embedded", "--data_dir", str(tmp_path)]) == 1
    one_error_line(capsys, "cannot build in --data_dir=", "Permission denied")


@pytest.mark.slow
@pytest.mark.beam
@pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in ("apache_beam", "mlcroissant")),
    reason="the tfds 4.9.10 command line imports apache-beam and mlcroissant at start-up",
)
def test_tfds_command_line_builds_with_imports_seqtasks(tmp_path):
    tfds_script = Path(sys.executable).with_name("tfds")
    if not tfds_script.exists():
        pytest.skip("the tfds console script is not installed next to this Python")
    env = _env()
    subprocess.run(
        [str(tfds_script), "build", "reber_grammar/embedded", "--imports", "seqtasks", "--data_dir", str(tmp_path)],
        check=True, env=env, capture_output=True, text=True,
    )
    shard = "reber_grammar-test_long.tfrecord-00000-of-00001"
    assert (tmp_path / "reber_grammar" / "embedded" / REBER_VERSION / shard).is_file()


def test_beam_options_from_flags():
    from seqtasks.tf.build_cli import beam_pipeline_options

    assert beam_pipeline_options(False, None) is None  # plain build
    if importlib.util.find_spec("apache_beam") is None:
        with pytest.raises(ValueError, match="invalid --beam"):
            beam_pipeline_options(True, None)
        return
    options = beam_pipeline_options(True, "direct_num_workers=2").get_all_options()
    assert options["runner"] == "DirectRunner" and options["direct_num_workers"] == 2
    assert beam_pipeline_options(False, "runner=SomeRunner").get_all_options()["runner"] == "SomeRunner"
