"""``expo run-isolated``: run a command in a tool's environment (envs/<name>.yaml), creating it when needed."""

from __future__ import annotations

import argparse

NAME = "run-isolated"
HELP = (
    "run CMD in the environment of envs/NAME.yaml: this Python if it satisfies the pins, else an isolated "
    "uv venv under .expo-envs/ built from them (e.g. expo run-isolated mt_bench -- python -m fastchat...)"
)


def add_arguments(parser) -> None:
    parser.add_argument("--envs-dir", default=None, help="folder of the environment files (default: ./envs)")
    parser.add_argument(
        "--root",
        default=None,
        help="where isolated environments live (default: $EXPO_ENVS_ROOT or .expo-envs)",
    )
    parser.add_argument(
        "--force-isolated",
        action="store_true",
        help="build the isolated venv even if this Python satisfies the pins",
    )
    parser.add_argument("--print-python", action="store_true", help="print the environment's python and exit")
    # options come before NAME: everything after NAME (an optional `--`, then CMD) is the command
    parser.add_argument("name", metavar="NAME", help="environment name: envs/NAME.yaml")
    parser.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD", help="command and its arguments")


def run(args) -> int:
    from expo.envs import ensure_env, run_in_env
    from expo.errors import ExpoError

    if args.print_python:
        print(ensure_env(args.name, args.envs_dir, args.root, args.force_isolated))
        return 0
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        raise ExpoError("no command given: expo run-isolated NAME -- CMD [ARGS...]")
    return run_in_env(args.name, cmd, args.envs_dir, args.root, args.force_isolated).returncode
