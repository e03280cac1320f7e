"""``expo with-judge-server``: serve a judge model with vLLM while one command runs, then stop the server.

    expo with-judge-server --model resources/demo/judge --served-model-name expo-demo-judge -- \\
        expo alpaca-eval ... --judge-model expo-demo-judge --judge-base-url @JUDGE_BASE_URL@

The command sees the server's base URL in ``$EXPO_JUDGE_BASE_URL`` and in place of every ``@JUDGE_BASE_URL@``
argument. Its exit status is this command's; the server is stopped (process group, SIGTERM then SIGKILL) when
it ends, fails, or this process gets SIGINT/SIGTERM/SIGHUP (exit status 128 + signal).
"""

from __future__ import annotations

import argparse
import shlex

NAME = "with-judge-server"
HELP = "run CMD while a vLLM server serves the judge model (started, waited for, always stopped)"


def _port(value: str) -> int | None:
    if value == "auto":
        return None
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--port {value!r}: expected auto or a port number") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"--port {port}: not a port number")
    return port


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from expo.commands._flags import field_default
    from expo.judge_server.lifecycle import ServerRequest

    def d(name):
        return field_default(ServerRequest, name)

    parser.add_argument("--model", required=True, help="judge model: a local model directory or a hub id")
    parser.add_argument(
        "--served-model-name",
        action="append",
        default=[],
        help="name the judge is requested under (repeatable; default: the model directory's name)",
    )
    parser.add_argument("--host", default=d("host"), help="address to bind (default %(default)s)")
    parser.add_argument(
        "--port", type=_port, default=None, help="port, or auto (default); a taken port is replaced"
    )
    parser.add_argument(
        "--ready-timeout",
        type=float,
        default=d("ready_timeout_s"),
        help="seconds to wait for the server (default %(default)s)",
    )
    parser.add_argument(
        "--stop-timeout",
        type=float,
        default=d("stop_timeout_s"),
        help="seconds between SIGTERM and SIGKILL (default %(default)s)",
    )
    parser.add_argument("--log", default=None, help="server log file (default: a temporary file)")
    parser.add_argument(
        "--python",
        default=None,
        help="Python of the vLLM env (default: $EXPO_VLLM_PYTHON, else envs/generate)",
    )
    parser.add_argument(
        "--vllm-args", default="", help="more `vllm serve` arguments, one shell-quoted string"
    )
    parser.add_argument(
        "--server-command",
        default=None,
        help="another OpenAI-compatible server command instead of vLLM, one shell-quoted string "
        "({host} {port} {model} {name} are filled in)",
    )
    parser.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD", help="the judge command")


def run(args: argparse.Namespace) -> int:
    from expo.errors import ExpoError
    from expo.judge_server.lifecycle import ServerRequest
    from expo.judge_server.wrap import run_with_server

    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        raise ExpoError("no command given: expo with-judge-server --model DIR -- CMD [ARGS...]")
    if args.ready_timeout <= 0:
        raise ExpoError(f"--ready-timeout {args.ready_timeout:g} must be positive")
    request = ServerRequest(
        model=args.model,
        served_model_names=tuple(args.served_model_name),
        host=args.host,
        port=args.port,
        ready_timeout_s=args.ready_timeout,
        stop_timeout_s=args.stop_timeout,
        log_path=args.log,
        python=args.python,
        extra_args=tuple(shlex.split(args.vllm_args)),
        command=tuple(shlex.split(args.server_command)) if args.server_command else (),
    )
    return run_with_server(request, cmd)
