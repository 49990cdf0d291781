"""Every `checkin` subcommand through argparse: the parsed arguments still carry a callable handler.

A subcommand's handler travels in the namespace (`func`, and `action` for the data commands); an option whose
dest collides with either would replace it with a string, and the command would crash on every run.
"""

from __future__ import annotations

import argparse
import inspect

import pytest

from checkin.cli.main import build_parser


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        return [(path, parser)]
    return [leaf for name, sub in groups[0].choices.items() for leaf in _leaves(sub, (*path, name))]


def _value(action: argparse.Action) -> str:
    if action.choices:
        return str(next(iter(action.choices)))
    return "1" if action.type is int else "x"


def _minimal_argv(parser: argparse.ArgumentParser) -> list[str]:
    """The required options and the positionals, each with a value argparse accepts."""
    argv: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if not action.option_strings:
            if action.nargs not in ("?", "*"):
                argv.append(_value(action))
        elif action.required:
            argv += [action.option_strings[0], _value(action)]
    return argv


LEAVES = _leaves(build_parser())


def test_every_command_group_is_walked() -> None:
    names = {" ".join(path) for path, _ in LEAVES}
    assert {"correct", "device enroll", "device revoke", "plan import", "export", "up"} <= names
    assert len(names) == len(LEAVES)


@pytest.mark.parametrize(("path", "parser"), LEAVES, ids=[" ".join(p) for p, _ in LEAVES])
def test_parsed_arguments_keep_the_handler(path: tuple[str, ...], parser: argparse.ArgumentParser) -> None:
    args = build_parser().parse_args([*path, *_minimal_argv(parser)])
    assert callable(args.func)
    if hasattr(args, "action"):
        assert inspect.iscoroutinefunction(args.action), f"{' '.join(path)}: action is {args.action!r}"


@pytest.mark.parametrize("change", ["add", "change", "void"])
def test_correct_keeps_its_handler_for_every_action(change: str) -> None:
    from checkin.cli.reconcile import cmd_correct

    args = build_parser().parse_args(["correct", "--event", "e", "--volunteer", "V1", "--action", change,
                                      "--reason", "r", "--actor", "U1"])
    assert args.action is cmd_correct
    assert args.change == change
