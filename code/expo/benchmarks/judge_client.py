"""The one judge client of the judge-based benchmarks (AlpacaEval, MT-Bench): settings, key, probe, requests.

* :class:`JudgeSettings`: who judges and how to reach it: model name, OpenAI-compatible base URL (None =
  OpenAI), the *name* of the environment variable holding the API key, timeout, retries, concurrency.
  Each stage subclasses it for its own defaults (``AlpacaEvalJudge``, ``MtBenchJudge``); the CLI flags take
  their defaults from those classes (``expo.commands._flags``).
* :func:`resolve_api_key`: the key from the named variable; it is only ever sent in the Authorization
  header, never logged or written (:func:`redact` scrubs it from error text).
* :class:`JudgeClient`: stdlib HTTP (no openai package needed): ``probe()`` (GET /models: unreachable
  server, rejected key or a server without the judge model is one line before any judging) and ``chat()``
  (POST /chat/completions with retries; None after the last failed try).
* :meth:`JudgeSettings.identity`: what judged results record about the judge (model + base URL host, or
  "openai"); :func:`write_judge_note` puts it in ``<stem>.judge.json`` beside a result file.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from expo.errors import ExpoError

log = logging.getLogger(__name__)

OPENAI_BASE_URL = "https://api.openai.com/v1"
KEYLESS_PLACEHOLDER = "EMPTY"  # what local OpenAI-compatible servers (vLLM) accept without --api-key
PROBE_TIMEOUT_S = 10.0
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class JudgeSettings:
    """Who judges and how it is reached; subclasses set a stage's defaults."""

    judge_model: str = "gpt-4"
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    request_timeout_s: float = 120.0
    max_retries: int = 3
    retry_sleep_s: float = 10.0
    concurrency: int = 8

    def __post_init__(self) -> None:
        if not self.judge_model.strip():
            raise ExpoError("--judge-model is empty")
        if self.concurrency < 1:
            raise ExpoError(f"--concurrency {self.concurrency} must be at least 1")
        if self.max_retries < 1:
            raise ExpoError(f"--max-retries {self.max_retries} must be at least 1")
        if self.request_timeout_s <= 0:
            raise ExpoError(f"--request-timeout {self.request_timeout_s} must be positive")
        if self.retry_sleep_s < 0:
            raise ExpoError(f"--retry-sleep {self.retry_sleep_s} must be >= 0")

    @property
    def endpoint(self) -> str:
        """The base URL requests go to (OpenAI's when none is configured), without a trailing slash."""
        return (self.base_url or OPENAI_BASE_URL).rstrip("/")

    @property
    def host(self) -> str:
        """``openai`` for OpenAI itself, else the base URL's host[:port] (what results record)."""
        if not self.base_url:
            return "openai"
        return urllib.parse.urlsplit(self.base_url).netloc or self.base_url

    @property
    def slug(self) -> str:
        """Directory-safe judge name: ``openai--<model>`` or ``local--<model>`` (any base URL)."""
        model = re.sub(r"[^A-Za-z0-9._-]+", "_", self.judge_model.strip("/")).strip("_") or "judge"
        return f"{'local' if self.base_url else 'openai'}--{model}"

    def identity(self) -> dict:
        """What a judged result names: ``{"judge_model", "judge_host"}`` (never the key or its variable)."""
        return {"judge_model": self.judge_model, "judge_host": self.host}


def resolve_api_key(judge: JudgeSettings, required: bool | None = None) -> str | None:
    """The API key from the variable named ``judge.api_key_env``.

    ``required`` None (default): needed for OpenAI itself, optional for a base URL (a keyless local server
    gets ``EMPTY``). A missing required key is one line naming the variable.
    """
    if not _ENV_NAME.fullmatch(judge.api_key_env or ""):
        raise ExpoError(f"--api-key-env {judge.api_key_env!r} is not an environment variable name")
    key = os.environ.get(judge.api_key_env) or None
    if required is None:
        required = not judge.base_url
    if key is None and required:
        hint = "" if judge.base_url else "; or give --judge-base-url for an OpenAI-compatible server"
        raise ExpoError(
            f"no API key: environment variable {judge.api_key_env} is not set (needed for the judge "
            f"{judge.judge_model} at {judge.endpoint}{hint})"
        )
    return key


def redact(text: str, key: str | None) -> str:
    """Remove the API key (and anything shaped like an OpenAI key) from a message."""
    if key:
        text = text.replace(key, "<redacted>")
    return re.sub(r"sk-[A-Za-z0-9_*\-]{6,}", "sk-<redacted>", text)


class JudgeClient:
    """POSTs chat completions to ``settings.endpoint``; the key goes in the Authorization header only."""

    def __init__(self, settings: JudgeSettings, api_key: str | None):
        self.settings = settings
        self._api_key = api_key or KEYLESS_PLACEHOLDER

    def __repr__(self) -> str:  # never show the key
        return f"JudgeClient(endpoint={self.settings.endpoint!r}, model={self.settings.judge_model!r})"

    def _request(self, method: str, path: str, body: dict | None, timeout: float):
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(
            f"{self.settings.endpoint}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self._api_key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.read()

    def _refused(self, code: int) -> ExpoError:
        return ExpoError(
            f"judge at {self.settings.endpoint} refused the API key (HTTP {code}; key from "
            f"${self.settings.api_key_env})"
        )

    def probe(self, timeout_s: float = PROBE_TIMEOUT_S) -> None:
        """GET /models before judging: unreachable, key refused or judge model not served -> ExpoError.

        Other HTTP errors and answers that are no model list only warn (some servers list no models)."""
        s = self.settings
        url = f"{s.endpoint}/models"
        try:
            body = self._request("GET", "/models", None, timeout_s)
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                raise self._refused(exc.code) from None
            log.warning(
                "judge probe %s answered HTTP %s; going on (the server may not list models)", url, exc.code
            )
            return
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = redact(str(getattr(exc, "reason", exc)), self._api_key)
            raise ExpoError(f"judge at {s.endpoint} is unreachable ({url}: {reason})") from None
        try:
            served = [m.get("id") for m in json.loads(body).get("data", []) if isinstance(m, dict)]
        except (ValueError, AttributeError):
            log.warning("judge probe %s: unexpected answer, not a model list; going on", url)
            return
        if served and s.judge_model not in served:
            shown = ", ".join(str(n) for n in served[:8]) + (" …" if len(served) > 8 else "")
            raise ExpoError(
                f"judge at {s.endpoint} does not serve model {s.judge_model!r} (it serves: {shown})"
            )

    def chat(self, request: dict) -> str | None:
        """The reply text of one chat completion; None after ``max_retries`` failed tries (a refused key
        raises at once). Tries are ``retry_sleep_s`` apart."""
        s = self.settings
        for attempt in range(1, s.max_retries + 1):
            try:
                response = json.loads(
                    self._request("POST", "/chat/completions", request, s.request_timeout_s)
                )
                content = response["choices"][0]["message"]["content"]
                if not isinstance(content, str):
                    raise TypeError("reply has no message content")
                return content
            except urllib.error.HTTPError as exc:
                if exc.code in (401, 403):
                    raise self._refused(exc.code) from None
                problem = f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError, ValueError, KeyError, IndexError, TypeError) as exc:
                problem = redact(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}", self._api_key)
            log.warning("judge request failed (try %d/%d): %s", attempt, s.max_retries, problem)
            if attempt < s.max_retries:
                time.sleep(s.retry_sleep_s)
        return None


def judge_note_path(result: str | os.PathLike) -> Path:
    """``<stem>.judge.json`` beside a judged result file (``<dir>/<name>.judge.json`` for a directory)."""
    result = Path(result)
    return result.with_name(f"{result.name.rsplit('.', 1)[0]}.judge.json")


def read_judge_note(result: str | os.PathLike) -> list[dict]:
    """The judges named beside ``result`` (empty when there is no note)."""
    path = judge_note_path(result)
    if not path.is_file():
        return []
    try:
        judges = json.loads(path.read_text(encoding="utf-8")).get("judges")
    except (ValueError, AttributeError):
        raise ExpoError(f"{path}: not a judge note (a JSON object with 'judges')") from None
    return [j for j in judges or [] if isinstance(j, dict)]


def write_judge_note(result: str | os.PathLike, judges: list[dict]) -> Path:
    """Name the judges of ``result`` (``[{"judge_model", "judge_host"}, ...]``) in its note, atomically."""
    from expo.io.atomic import write_json

    unique = [dict(t) for t in sorted({tuple(sorted(j.items())) for j in judges})]
    path = judge_note_path(result)
    write_json(path, {"judges": unique})
    return path
