"""Run one command while the judge server runs; signals to this process stop the command and the server.

SIGTERM and SIGHUP (what Snakemake, SLURM and a closed terminal send) are turned into an exception in the main
thread, like SIGINT's KeyboardInterrupt, so the server's ``finally`` always runs; the command gets the same
signal first. Only SIGKILL of this process skips that, and then the server's parent-death signal kills it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
from collections.abc import Iterator, Sequence

from expo.judge_server.lifecycle import (
    BASE_URL_ENV,
    SERVED_KEY_ENV,
    ServerRequest,
    child_command,
    served_judge,
)

log = logging.getLogger(__name__)

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
CHILD_GRACE_S = 10.0


class Interrupted(Exception):
    def __init__(self, signum: int):
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    def handler(signum, frame):
        raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in FORWARDED}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _stop_child(child: subprocess.Popen, signum: int) -> None:
    if child.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        child.send_signal(signum)
    try:
        child.wait(timeout=CHILD_GRACE_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def run_with_server(request: ServerRequest, argv: Sequence[str]) -> int:
    """Serve the judge, run ``argv`` against it, stop both; the command's exit status (128+N on signal N)."""
    child = None
    with _signals_raise():
        try:
            with served_judge(request) as server:
                env = dict(os.environ)
                env[BASE_URL_ENV] = server.base_url
                env.setdefault(SERVED_KEY_ENV, "EMPTY")
                cmd = child_command(argv, server.base_url)
                log.info("judge at %s: running %s", server.base_url, " ".join(cmd))
                child = subprocess.Popen(cmd, env=env)
                try:
                    return child.wait()
                except Interrupted as exc:
                    _stop_child(child, exc.signum)
                    raise
        except Interrupted as exc:
            log.warning("%s: judge server stopped", exc)
            return 128 + exc.signum
        except KeyboardInterrupt:
            if child is not None:
                _stop_child(child, signal.SIGINT)
            return 128 + signal.SIGINT
