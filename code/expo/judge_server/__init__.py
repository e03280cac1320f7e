"""A judge served by vLLM for the length of one command: start, wait until ready, run, always stop.

``served_judge(ServerRequest(...))`` is a context manager yielding the running server's base URL; the
``expo with-judge-server --model DIR -- CMD ...`` command wraps a judge command with it (the DAG's judge rules
do, when config ``judge.serve`` is set), so the server and the jobs that call it always meet: same job, same
node, loopback address.
"""

from expo.judge_server.lifecycle import (
    BASE_URL_ENV,
    BASE_URL_PLACEHOLDER,
    JudgeServer,
    ServerRequest,
    free_port,
    served_judge,
)

__all__ = [
    "BASE_URL_ENV",
    "BASE_URL_PLACEHOLDER",
    "JudgeServer",
    "ServerRequest",
    "free_port",
    "served_judge",
]
