"""``seqtasks build``: prepare a tfds dataset, with progress bars and a summary of what was written."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from rich.console import Console
from rich.table import Table

# `seqtasks.cli` offers `build` only where tfds is installed; tfds itself is imported
# when the command runs, so that the other commands stay fast.
if importlib.util.find_spec("tensorflow_datasets") is None:
    raise ImportError("seqtasks build needs tensorflow-datasets: pip install 'seqtasks[tf]'")

console = Console()


def beam_pipeline_options(beam: bool, options: str | None):
    """Beam ``PipelineOptions`` from ``--beam`` / ``--beam_pipeline_options`` (``None``: build without Beam).

    Args:
        beam: Build with Beam's DirectRunner when no options name a runner.
        options: Comma-separated ``key=value`` pipeline options, as for ``tfds build``.

    Returns:
        ``PipelineOptions``, or ``None`` for a plain (non-Beam) build.
    """
    if not beam and not options:
        return None
    try:
        from apache_beam.options.pipeline_options import PipelineOptions
    except ImportError as error:
        raise ValueError(
            "invalid --beam: apache-beam is not installed; allowed: without --beam, or after "
            "pip install 'seqtasks[beam]'"
        ) from error
    flags = [f"--{pair.strip()}" for pair in (options or "").split(",") if pair.strip()]
    if not any(flag.startswith("--runner=") for flag in flags):
        flags.insert(0, "--runner=DirectRunner")
    return PipelineOptions(flags)


def cmd_build(args: argparse.Namespace) -> int:
    """Builds one dataset config and prints where it went and its split sizes."""
    from seqtasks.tf.quiet import import_tensorflow

    import_tensorflow()  # before tfds: TensorFlow's load-time banner held to TF_CPP_MIN_LOG_LEVEL
    import tensorflow_datasets as tfds

    from seqtasks.tf.builders import check_dataset_name  # registers the builders

    from seqtasks.cli_common import FileProblem, check_writable_folder, os_error_text
    from seqtasks.config import short_repr
    from seqtasks.registry import list_tasks

    name = args.dataset.partition(":")[0]  # tfds names may end in ":VERSION"
    if name.partition("/")[0] not in list_tasks():
        raise ValueError(
            f"invalid dataset={short_repr(args.dataset)}; allowed: task or task/config from `seqtasks list` "
            "(tasks: " + ", ".join(list_tasks()) + ")"
        )
    check_dataset_name(args.dataset)  # an unknown config or version: ValueError naming the allowed ones
    try:
        builder = tfds.builder(args.dataset, data_dir=args.data_dir)
    except tfds.core.registered.DatasetNotFoundError as error:
        raise ValueError(
            f"invalid dataset={short_repr(args.dataset)}; allowed: task or task/config from `seqtasks list`"
        ) from error
    options = beam_pipeline_options(args.beam, args.beam_pipeline_options)
    tfds.enable_progress_bar()  # tfds's own tqdm bars: per split, examples generated and shuffled
    already = builder.is_prepared()
    if not already and "://" not in str(builder.data_dir):  # local folders only (not gs://...)
        check_writable_folder(Path(str(builder.data_dir)), "--data_dir", Path(args.data_dir or str(builder.data_dir)))
    console.print(
        f"{'found' if already else 'building'} [bold]{builder.name}/{builder.builder_config.name}[/bold] "
        f"{builder.version} in {builder.data_dir}" + (" with Apache Beam" if options is not None else ""),
        highlight=False,
    )
    try:
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(beam_options=options))
    except OSError as error:
        raise FileProblem(f"cannot build in --data_dir={str(builder.data_dir)!r}: {os_error_text(error)}") from error
    except Exception as error:  # tf.io.gfile reports file errors as tf.errors.OpError, not OSError
        if type(error).__module__.startswith("tensorflow") and hasattr(error, "message"):
            raise FileProblem(f"cannot build in --data_dir={str(builder.data_dir)!r}: {error.message}") from error
        raise
    table = Table(title=f"{builder.name}/{builder.builder_config.name} {builder.version}")
    table.add_column("split")
    table.add_column("examples", justify="right")
    table.add_column("shards", justify="right")
    table.add_column("bytes", justify="right")
    for name, split in builder.info.splits.items():
        table.add_row(name, str(split.num_examples), str(split.num_shards), str(split.num_bytes))
    console.print(table)
    console.print(f"data: {builder.data_dir}", highlight=False, soft_wrap=True)
    return 0


def add_build_command(subparsers: argparse._SubParsersAction) -> None:
    """Adds ``build`` to the ``seqtasks`` command line.

    Args:
        subparsers: The ``add_subparsers()`` object of the main parser.
    """
    build = subparsers.add_parser("build", help="prepare a tfds dataset (TASK or TASK/CONFIG) on disk")
    build.add_argument("dataset", help="task or task/config, e.g. reber_grammar/embedded")
    build.add_argument("--data_dir", default=None, help="tfds data directory (default: tfds's, ~/tensorflow_datasets)")
    build.add_argument("--beam", action="store_true", help="generate with Apache Beam (DirectRunner unless options say)")
    build.add_argument(
        "--beam_pipeline_options",
        default=None,
        metavar="K=V,K=V",
        help="Beam pipeline options as for `tfds build`, e.g. direct_num_workers=2,direct_running_mode=multi_processing",
    )
    build.set_defaults(func=cmd_build)
