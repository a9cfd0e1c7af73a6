"""``python -m baselines {train,reproduce,recipes}``."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _command(argv: Sequence[str]) -> str:
    return "python -m baselines " + " ".join(shlex.quote(arg) for arg in argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Parses the command line and runs a subcommand."""
    parser = argparse.ArgumentParser(prog="python -m baselines", description="Recurrent baselines for seqtasks.")
    commands = parser.add_subparsers(dest="command", required=True)
    from baselines import reproduce, train

    train.add_arguments(commands.add_parser("train", help="train one model on one task"))
    reproduce.add_arguments(commands.add_parser("reproduce", help="run the grid and write docs/results.md"))
    commands.add_parser("recipes", help="list the registered recipes")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            return train.run_from_args(args, command=_command(argv))
        if args.command == "reproduce":
            return reproduce.run_from_args(args, command=_command(argv))
        from baselines.recipes import get_recipe, list_recipes

        for name in list_recipes():
            recipe = get_recipe(name)
            print(f"{name:40s} {recipe.task:34s} {recipe.description}")
        return 0
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
