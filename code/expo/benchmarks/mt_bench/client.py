"""A minimal OpenAI-compatible chat client (stdlib only) for the MT-Bench judge.

Why not FastChat's own call: fschat 0.2.36 needs ``openai<1`` (``openai.ChatCompletion``), which cannot live
beside alpaca_eval (``openai>=1.5``) and vLLM (``openai>=2``). The judge call is one HTTP POST, so it is
made here against ``{base_url}/chat/completions`` with the same body FastChat sends; any OpenAI-compatible
server works (api.openai.com, a vLLM server serving the judge under the name ``gpt-4``, a loopback test
server). The API key is sent in the Authorization header only; it never appears in messages or logs.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request

from expo.benchmarks.mt_bench.judging import API_ERROR_OUTPUT
from expo.errors import ExpoError

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class JudgeClient:
    """POSTs chat completions; retries like FastChat (16 tries, 10 s apart), then answers ``$ERROR$``."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        max_retries: int = 16,
        retry_sleep: float = 10.0,
        timeout: float = 600.0,
    ):
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.max_retries = max(1, max_retries)
        self.retry_sleep = retry_sleep
        self.timeout = timeout

    def __repr__(self) -> str:  # never show the key
        return f"JudgeClient(base_url={self.base_url!r})"

    def _request(self, method: str, path: str, body: dict | None = None, timeout: float | None = None):
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(
            f"{self.base_url}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self._api_key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout or self.timeout) as resp:
            return json.loads(resp.read().decode("utf-8"))

    def probe(self, judge_model: str) -> None:
        """GET /models before judging: unreachable server, rejected key or unknown judge name -> ExpoError."""
        try:
            listing = self._request("GET", "/models", timeout=30)
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                raise ExpoError(f"judge at {self.base_url} rejected the API key (HTTP {exc.code})") from None
            raise ExpoError(f"judge at {self.base_url} answered HTTP {exc.code} to GET /models") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ExpoError(f"judge at {self.base_url} is unreachable: {reason}") from None
        names = (
            [m.get("id") for m in listing.get("data", []) if isinstance(m, dict)]
            if isinstance(listing, dict)
            else []
        )
        if names and judge_model not in names:
            shown = ", ".join(str(n) for n in names[:8]) + (" …" if len(names) > 8 else "")
            raise ExpoError(
                f"judge at {self.base_url} does not serve model {judge_model!r} (it lists: {shown})"
            )

    def chat(self, request: dict) -> str:
        """The reply text of one chat completion, or ``$ERROR$`` after ``max_retries`` failed tries."""
        for attempt in range(1, self.max_retries + 1):
            try:
                response = self._request("POST", "/chat/completions", request)
                content = response["choices"][0]["message"]["content"]
                if not isinstance(content, str):
                    raise TypeError("reply has no message content")
                return content
            except urllib.error.HTTPError as exc:
                if exc.code in (401, 403):
                    raise ExpoError(
                        f"judge at {self.base_url} rejected the API key (HTTP {exc.code})"
                    ) from None
                problem = f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError, ValueError, KeyError, IndexError, TypeError) as exc:
                problem = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
            log.warning("judge request failed (try %d/%d): %s", attempt, self.max_retries, problem)
            if attempt < self.max_retries:
                time.sleep(self.retry_sleep)
        return API_ERROR_OUTPUT
