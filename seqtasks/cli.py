"""The ``seqtasks`` command line: list, show, export, fingerprint, demo (and build, with TensorFlow)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from seqtasks import fingerprint as fingerprints
from seqtasks.cli_common import (
    EXIT_FILE_ERROR,
    EXIT_INVALID,
    FileProblem,
    check_writable_file,
    current_umask,
    check_writable_folder,
    os_error_text,
)
from seqtasks.config import short_repr
from seqtasks.registry import get_preset, list_presets, list_tasks, make

console = Console()
error_console = Console(stderr=True)

def _parse_params(pairs: Sequence[str]) -> dict[str, object]:
    """Parses ``key=value`` overrides; values are JSON when they parse, else strings."""
    params: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"invalid --param {short_repr(pair)}; allowed: key=value")
        try:
            params[key] = json.loads(value)
        except ValueError:  # not JSON, or a number beyond Python's int-to-str digit limit: the config rejects it
            params[key] = value
    return params


def cmd_list(args: argparse.Namespace) -> int:
    table = Table(title="seqtasks")
    table.add_column("task")
    table.add_column("configs (default first)")
    table.add_column("description")
    for name in list_tasks():
        cls, _ = get_preset(name)
        table.add_row(name, ", ".join(list_presets(name)), cls.description)
    console.print(table)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    task = make(args.task, **_parse_params(args.param))
    batch = task.sample(args.n, seed=args.seed, split=args.split)
    console.print(f"[bold]{args.task}[/bold] split={args.split} seed={args.seed} config={task.config.to_dict()}")
    for i, example in enumerate(task.examples(batch)):
        console.print(f"  {i:>3}  {task.describe(example)}", highlight=False)
    console.print(f"  {task.summary(batch)}; fingerprint {fingerprints.fingerprint(task, batch)[:16]}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    task = make(args.task, **_parse_params(args.param))
    _, preset = get_preset(args.task)
    n = args.n if args.n is not None else task.published_size(args.split, preset)
    out = Path(args.out or f"{args.task.replace('/', '_')}_{args.split}.{args.format}")
    check_writable_file(out, "--out")  # before generating anything
    batch = task.sample(n, seed=args.seed, split=args.split)
    try:
        # Write to a temporary file in the same folder and rename: never a partial file.
        handle, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    except OSError as error:
        raise FileProblem(f"cannot write --out={str(out)!r}: {os_error_text(error)}") from error
    try:
        os.fchmod(handle, 0o666 & ~current_umask())  # mkstemp makes 0600; a written file gets what umask implies
        with os.fdopen(handle, "wb") as stream:
            if args.format == "npz":
                np.savez_compressed(stream, **batch)
            else:
                for example in task.examples(batch):
                    record = {k: (v.tolist() if isinstance(v, np.ndarray) else v.item()) for k, v in example.items()}
                    stream.write((json.dumps(record) + "\n").encode())
        os.replace(tmp, out)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise FileProblem(f"cannot write --out={str(out)!r}: {os_error_text(error, out)}") from error
        raise
    console.print(f"wrote {n} examples of {args.task} [{args.split}] to {out}", highlight=False, markup=False)
    return 0


def cmd_fingerprint(args: argparse.Namespace) -> int:
    if args.write:
        fingerprints.write()
        console.print(f"wrote {fingerprints.FINGERPRINT_FILE}")
        return 0
    recorded, current = fingerprints.recorded(), fingerprints.compute_all()
    table = Table(title=f"fingerprints (seed 0, first {fingerprints.FINGERPRINT_EXAMPLES} examples)")
    for column in ("dataset", "split", "sha256", "matches record"):
        table.add_column(column)
    ok = True
    for name, splits in current.items():
        for split, digest in splits.items():
            match = recorded.get(name, {}).get(split) == digest
            ok &= match
            table.add_row(name, split, digest[:16], "yes" if match else "[red]NO[/red]")
    console.print(table)
    return 0 if ok else 1


def cmd_protocol(args: argparse.Namespace) -> int:
    """Prints a config's protocol: data, batching, budget, evaluation, metrics, aggregate, references."""
    from seqtasks.protocols import protocol

    the_protocol = protocol(args.name)
    if args.json:
        print(json.dumps(the_protocol.to_dict(), indent=2, ensure_ascii=False))
        return 0
    table = Table(title=f"protocol of {the_protocol.name}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    for what, value in the_protocol.rows():
        table.add_row(what, value)
    console.print(table)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Prints examples of every task and checks every fingerprint."""
    for name in list_tasks():
        args_show = argparse.Namespace(task=name, param=[], split="train", n=3, seed=0)
        cmd_show(args_show)
        console.print()
    return cmd_fingerprint(argparse.Namespace(write=False))


def cmd_score(args: argparse.Namespace) -> int:
    """Checks and scores a predictions file against the published splits; writes the record only if all pass."""
    import shlex

    from seqtasks import scorer

    out = Path(args.out)
    check_writable_file(out, "--out")  # before any work
    predictions, digests = scorer.load_predictions(args.predictions, args.task)
    options = {"model_name": args.model_name, "seed": args.seed, "framework": args.framework,
               "parameter_count": args.parameter_count, "updates": args.updates, "logits": args.logits,
               "train_data": args.train_data}
    flags = [f"--{key.replace('_', '-')}={value}" for key, value in options.items()
             if value is not None and key != "logits"] + (["--logits"] if args.logits else [])
    command = shlex.join(["seqtasks", "score", args.task, "--predictions", str(args.predictions), *flags,
                          "--out", str(out)])
    record = scorer.score_predictions(args.task, predictions, inputs_sha256=digests, command=command, out=out,
                                      **options)
    headline = {split: values for split, values in record["metrics"].items()}
    console.print(f"scored {args.task}: {json.dumps(headline)}", highlight=False, markup=False)
    console.print(f"follows the protocol: {'yes' if record['follows_protocol'] else 'no: ' + '; '.join(record['departures'])}"
                  f"; wrote {out}", highlight=False, markup=False)
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    """Lints a saved Keras model and probes it on a task (loads TensorFlow only here)."""
    make(args.task)  # a bad task name fails here, before TensorFlow loads
    model = Path(args.model)
    if not model.is_file():
        raise ValueError(f"invalid model={str(model)!r}: no such file")
    from seqtasks.tf.quiet import import_tensorflow

    import_tensorflow()
    from seqtasks.stability import doctor

    report = doctor(model, args.task, args.steps, batch_size=args.batch_size)
    console.print(report.text(), end="", highlight=False, soft_wrap=True, markup=False)
    return 0 if report.healthy else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqtasks", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list tasks and their configs").set_defaults(func=cmd_list)

    def add_task_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("task", help="task or task/config, e.g. reber_grammar/embedded")
        p.add_argument("--split", default="train")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--param", "-p", action="append", default=[], metavar="KEY=VALUE", help="config override")

    show = sub.add_parser("show", help="print examples of a task")
    add_task_args(show)
    show.add_argument("-n", type=int, default=5)
    show.set_defaults(func=cmd_show)

    export = sub.add_parser("export", help="write a split to JSON lines or .npz")
    add_task_args(export)
    export.add_argument("--format", choices=("jsonl", "npz"), default="jsonl")
    export.add_argument("-n", type=int, default=None, help="examples (default: the config's split size)")
    export.add_argument("--out", "-o", default=None)
    export.set_defaults(func=cmd_export)

    fp = sub.add_parser("fingerprint", help="check (or --write) the recorded data fingerprints")
    fp.add_argument("--write", action="store_true", help="record new fingerprints (only for intended data changes)")
    fp.set_defaults(func=cmd_fingerprint)

    protocol_parser = sub.add_parser("protocol", help="how a config's models are trained, scored and reported")
    protocol_parser.add_argument("name", help="task or task/config, e.g. sequence_reversal/reverse_string")
    protocol_parser.add_argument("--json", action="store_true", help="print it as JSON")
    protocol_parser.set_defaults(func=cmd_protocol)

    sub.add_parser("demo", help="examples of every task and a fingerprint check").set_defaults(func=cmd_demo)

    score = sub.add_parser("score", help="score predictions computed elsewhere (.npz) under a config's protocol")
    score.add_argument("task", help="task/config, e.g. sequence_reversal/reverse_string")
    score.add_argument("--predictions", required=True, type=Path,
                       help="the .npz of seqtasks.scorer.save_predictions: one array per evaluation split")
    score.add_argument("--model-name", required=True, help="the model's name in the comparison table")
    score.add_argument("--seed", type=int, required=True, help="the run's seed")
    score.add_argument("--framework", default="unstated", help="e.g. pytorch, jax, numpy")
    score.add_argument("--parameter-count", type=int, default=None)
    score.add_argument("--updates", type=int, default=None,
                       help="training updates made (unstated: the record does not claim the protocol's budget)")
    score.add_argument("--logits", action="store_true", help="the outputs are logits: apply the softmax or sigmoid")
    score.add_argument("--train-data", default="protocol",
                       help="'protocol' (protocol.train_batches) or what the model trained on instead")
    score.add_argument("--out", required=True, help="the record (JSON); written only if every check passes")
    score.set_defaults(func=cmd_score)

    doctor = sub.add_parser("doctor", help="lint a saved Keras model and probe-train it on a task (exit 1: findings)")
    doctor.add_argument("model", help="a saved model, e.g. runs/x/model.keras")
    doctor.add_argument("--task", required=True, help="task/config it is trained on, e.g. reber_grammar/embedded")
    doctor.add_argument("--steps", type=int, default=50, help="probe training updates (default 50)")
    doctor.add_argument("--batch-size", type=int, default=None, help="probe batch size (default: the model's, else 32)")
    doctor.set_defaults(func=cmd_doctor)
    try:
        from seqtasks.tf.build_cli import add_build_command
    except ImportError:  # TensorFlow layers not installed
        pass
    else:
        add_build_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``seqtasks`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ValueError as error:
        _print_error(str(error))
        return EXIT_INVALID
    except FileProblem as error:
        _print_error(str(error))
        return EXIT_FILE_ERROR
    except OSError as error:  # a file problem not caught where it happened: still one line, no traceback
        _print_error(os_error_text(error))
        return EXIT_FILE_ERROR


def _print_error(message: str) -> None:
    """Prints ``error: message`` as one line on stderr (never wrapped, no markup read from the message)."""
    error_console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)


if __name__ == "__main__":
    sys.exit(main())
