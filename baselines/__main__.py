"""``python -m baselines {train,reproduce,zoo,recipes,compare}``."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence

from baselines.quiet import import_tensorflow
from seqtasks.cli_common import os_error_text


def _command(argv: Sequence[str]) -> str:
    return "python -m baselines " + " ".join(shlex.quote(arg) for arg in argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Parses the command line and runs a subcommand."""
    import_tensorflow()  # before the subcommands import it, so its load-time log lines obey TF_CPP_MIN_LOG_LEVEL
    parser = argparse.ArgumentParser(prog="python -m baselines", description="Recurrent baselines for seqtasks.")
    commands = parser.add_subparsers(dest="command", required=True)
    from baselines import reproduce, train
    from baselines.zoo import runner as zoo_run

    train.add_arguments(commands.add_parser("train", help="train one model on one task"))
    reproduce.add_arguments(commands.add_parser("reproduce", help="run the grid and write docs/results.md"))
    zoo_run.add_arguments(
        commands.add_parser("zoo", help="run failure-zoo recipes x seeds through train (--all: every thread's evidence)")
    )
    commands.add_parser("recipes", help="list the registered recipes")
    from baselines import compare

    compare.add_arguments(
        commands.add_parser("compare", help="the published table with your seqtasks.score records added (md, tex, figure)")
    )
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    try:
        return _run(args, argv)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a folder that cannot be made or a file that cannot be written: one line
        print(f"error: {os_error_text(error)}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from baselines import reproduce, train
    from baselines.zoo import runner as zoo_run

    if args.command == "train":
        return train.run_from_args(args, command=_command(argv))
    if args.command == "reproduce":
        return reproduce.run_from_args(args, command=_command(argv))
    if args.command == "zoo":
        return zoo_run.run_from_args(args, command=_command(argv))
    if args.command == "compare":
        from baselines import compare

        return compare.run_from_args(args)
    from baselines.catalog import get_recipe, list_recipes

    print(f"{'recipe':40s} {'task':34s} description")
    for name in list_recipes():
        recipe = get_recipe(name)
        print(f"{name:40s} {recipe.task:34s} {recipe.description}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
