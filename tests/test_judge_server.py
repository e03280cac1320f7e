"""`expo with-judge-server`: the server is ready before the command runs, and no server process survives —
after success, a failed command, a crashed or never-ready server, SIGTERM/SIGINT of the wrapper. A taken port
is replaced. Lifecycle only, with a toy server (tests/helpers/toy_judge_server.py) that also spawns a
grandchild like vLLM's engine core; the real vLLM serving the demo judge is in test_judge_server_vllm.py."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

TOY = Path(__file__).parent / "helpers" / "toy_judge_server.py"
CHILD_PRINTS_URL = (
    "import os, sys, urllib.request, json;"
    "url = sys.argv[1];"
    "assert url == os.environ['EXPO_JUDGE_BASE_URL'], (url, os.environ['EXPO_JUDGE_BASE_URL']);"
    "names = [m['id'] for m in json.load(urllib.request.urlopen(url + '/models'))['data']];"
    "print('CHILD', url, names, flush=True)"
)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in state


@pytest.fixture
def model_dir(tmp_path) -> Path:
    path = tmp_path / "judge"
    path.mkdir()
    (path / "config.json").write_text(json.dumps({"hidden_size": 64, "num_attention_heads": 2}))
    return path


def wrapper(model_dir: Path, pidfile: Path, *child: str, toy_flags: str = "", extra: tuple = ()) -> list[str]:
    server = f"{sys.executable} {TOY} {{host}} {{port}} {{name}} {pidfile} {toy_flags}"
    return [
        sys.executable,
        "-m",
        "expo",
        "with-judge-server",
        "--model",
        str(model_dir),
        "--served-model-name",
        "toy-judge",
        "--server-command",
        server,
        "--stop-timeout",
        "3",
        *extra,
        "--",
        *child,
    ]


def server_pids(pidfile: Path) -> list[int]:
    return [int(x) for x in pidfile.read_text().split()]


def assert_all_gone(pids: list[int]) -> None:
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [p for p in pids if alive(p)] == [], "judge server processes survived"


def test_command_runs_against_the_ready_server_and_nothing_survives(model_dir, tmp_path):
    pidfile = tmp_path / "pids"
    argv = wrapper(
        model_dir, pidfile, sys.executable, "-c", CHILD_PRINTS_URL, "@JUDGE_BASE_URL@", toy_flags="--delay 2"
    )
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    line = [ln for ln in done.stdout.splitlines() if ln.startswith("CHILD")][0]
    assert line.startswith("CHILD http://127.0.0.1:") and "['toy-judge']" in line
    pids = server_pids(pidfile)
    assert len(pids) == 2
    assert_all_gone(pids)


def test_failing_command_keeps_its_exit_status_and_stops_the_server(model_dir, tmp_path):
    pidfile = tmp_path / "pids"
    argv = wrapper(model_dir, pidfile, sys.executable, "-c", "import sys; sys.exit(5)")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 5, done.stderr
    assert_all_gone(server_pids(pidfile))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_to_the_wrapper_stops_command_and_server(model_dir, tmp_path, signum):
    pidfile = tmp_path / "pids"
    child_pidfile = tmp_path / "child"
    child = f"import os, time; open({str(child_pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(600)"
    # --ignore-term: the server ignores SIGTERM, so only the SIGKILL escalation stops it
    argv = wrapper(model_dir, pidfile, sys.executable, "-c", child, toy_flags="--ignore-term")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not child_pidfile.exists() or not child_pidfile.read_text():
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    assert_all_gone([*server_pids(pidfile), int(child_pidfile.read_text())])


def test_crashing_server_is_one_line_quoting_its_log(model_dir, tmp_path):
    pidfile = tmp_path / "pids"
    argv = wrapper(model_dir, pidfile, "true", toy_flags="--crash")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = [ln for ln in done.stderr.splitlines() if "error" in ln.lower()]
    assert len(lines) == 1 and lines[0].startswith("expo with-judge-server: error: judge server for ")
    assert "exited with code 3" in lines[0] and "no memory for the KV cache" in lines[0]
    assert_all_gone(server_pids(pidfile))


def test_server_not_ready_in_time_is_stopped_and_named(model_dir, tmp_path):
    pidfile = tmp_path / "pids"
    log = tmp_path / "server.log"
    argv = wrapper(
        model_dir,
        pidfile,
        "true",
        toy_flags="--never-ready",
        extra=("--ready-timeout", "3", "--log", str(log)),
    )
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "not ready within 3 s" in done.stderr and "toy server toy-judge starting" in done.stderr
    assert str(log) in done.stderr and log.is_file()
    assert_all_gone(server_pids(pidfile))


def test_taken_port_is_replaced(model_dir, tmp_path):
    pidfile = tmp_path / "pids"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        argv = wrapper(
            model_dir,
            pidfile,
            sys.executable,
            "-c",
            CHILD_PRINTS_URL,
            "@JUDGE_BASE_URL@",
            extra=("--port", str(port)),
        )
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "CHILD http://127.0.0.1:" in done.stdout and f":{port}/" not in done.stdout
    assert_all_gone(server_pids(pidfile))


def test_missing_model_fails_before_any_server(tmp_path):
    argv = wrapper(tmp_path / "nope", tmp_path / "pids", "true")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        f"expo with-judge-server: error: judge model {tmp_path / 'nope'}: no such directory "
        "(give a model directory or a hub id owner/name)"
    )
    assert not (tmp_path / "pids").exists()


def test_sigkilled_wrapper_takes_the_server_down(model_dir, tmp_path):
    """Even SIGKILL (no cleanup possible) does not leak the server: it has the parent-death signal."""
    pidfile = tmp_path / "pids"
    argv = wrapper(model_dir, pidfile, sys.executable, "-c", "import time; time.sleep(600)")
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not pidfile.exists() or len(pidfile.read_text().split()) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(1.0)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    leader = server_pids(pidfile)[0]
    assert_all_gone([leader])
