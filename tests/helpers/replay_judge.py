"""A loopback OpenAI-compatible judge that replays recorded GPT-4-Turbo AlpacaEval judgments.

``ReplayJudge(annotations_json)`` serves ``POST /v1/chat/completions`` and ``GET /v1/models`` on 127.0.0.1 at a
free port. A request is matched by the instruction and the two outputs, parsed out of the user message with
the packaged ``alpaca_eval_clf.txt`` template; the answer is the recorded raw completion (text, logprobs,
finish reason, token count) in the OpenAI response shape. Outputs are accepted in either order; the order the
recorded judge saw (recovered from the recorded preference) is checked and mismatches are counted. Unmatched
requests get HTTP 404. ``mode="garbage"`` answers every request with nonsense (no m/M logprobs).
``answered`` counts the judgments delivered per (instruction, outputs) key, so tests can prove that nothing is
judged twice. ``hold_after=N`` delivers N judgments, then holds every further request unanswered (never
counted; answered 503 after ``release()``), so a test can kill the client at a known point.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def _template_user_regex() -> re.Pattern:
    import alpaca_eval

    template = (
        Path(alpaca_eval.__file__).parent
        / "evaluators_configs/alpaca_eval_clf_gpt4_turbo/alpaca_eval_clf.txt"
    ).read_text(encoding="utf-8")
    user = template.split("<|im_start|>user\n", 1)[1].split("<|im_end|>", 1)[0].strip()
    pattern = ""
    for piece in re.split(r"(\{instruction\}|\{output_1\}|\{output_2\})", user):
        if piece in ("{instruction}", "{output_1}", "{output_2}"):
            pattern += f"(?P<{piece[1:-1]}>.*)"
        else:
            pattern += re.escape(piece)
    return re.compile(pattern, re.DOTALL)


def _weighted_preference(completion: dict) -> float | None:
    """2 - P(m) / (P(m) + P(M)) from the recorded top logprobs (what alpaca_eval's logprob_parser computes)."""
    try:
        top = completion["logprobs"]["content"][0]["top_logprobs"]
    except (KeyError, IndexError, TypeError):
        return None
    probs = {t["token"]: math.exp(t["logprob"]) for t in top if t["token"] in ("m", "M")}
    if not probs:
        return None
    return 2 - probs.get("m", 0.0) / sum(probs.values())


class ReplayJudge:
    """Replay server for one model's recorded annotations (one server per model: keys can repeat across models)."""

    def __init__(
        self,
        annotations_json: str | Path,
        model_name: str = "gpt-4-1106-preview",
        mode: str = "replay",
        hold_after: int | None = None,
    ):
        self.model_name = model_name
        self.mode = mode
        self.hold_after = hold_after
        self._released = threading.Event()
        self.user_re = _template_user_regex()
        self.recorded: dict[
            tuple[str, str, str], dict
        ] = {}  # (instruction, seen first, seen second) -> completion
        for row in json.loads(Path(annotations_json).read_text(encoding="utf-8")):
            completion = row.get("raw_completion", row.get("preference_raw_completion"))
            if not isinstance(completion, dict):
                continue  # identical outputs: judged 1.5 without a request
            p = _weighted_preference(completion)
            pref = float(row["preference"])
            if p is not None and abs(p - pref) < 1e-6:
                orders = [(row["output_1"], row["output_2"])]
            elif p is not None and abs((3 - p) - pref) < 1e-6:
                orders = [(row["output_2"], row["output_1"])]
            else:  # undecidable (p ~ 1.5): accept both orders
                orders = [(row["output_1"], row["output_2"]), (row["output_2"], row["output_1"])]
            for first, second in orders:
                self.recorded[(row["instruction"], first, second)] = completion
        self.answered: Counter = Counter()
        self.n_answered = 0
        self.n_held = 0
        self.n_requests = 0
        self.n_unmatched = 0
        self.n_order_mismatch = 0
        self.bodies: list[dict] = []
        self.auth: set[str] = set()  # Authorization headers seen
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> ReplayJudge:
        self._thread.start()
        return self

    def release(self) -> None:
        """Stop holding: held requests get 503 (their client is gone), new ones are answered."""
        self.hold_after = None
        self._released.set()

    def __exit__(self, *exc) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    # --- matching -------------------------------------------------------------------------------
    def lookup(self, messages: list[dict]) -> tuple[tuple | None, dict | None]:
        user = next((m.get("content", "") for m in messages if m.get("role") == "user"), "")
        match = self.user_re.fullmatch(user.strip())
        if match is None:
            return None, None
        instruction, a, b = match["instruction"], match["output_1"], match["output_2"]
        key = (instruction, *sorted((a, b)))
        if (instruction, a, b) in self.recorded:
            return key, self.recorded[(instruction, a, b)]
        if (instruction, b, a) in self.recorded:
            with self._lock:
                self.n_order_mismatch += 1
            return key, self.recorded[(instruction, b, a)]
        return key, None

    def answer(self, body: dict) -> tuple[int, dict]:
        key, completion = self.lookup(body.get("messages", []))
        with self._lock:
            self.n_requests += 1
            self.bodies.append({k: v for k, v in body.items() if k != "messages"})
            hold = self.hold_after is not None and self.n_answered >= self.hold_after
            if hold:
                self.n_held += 1
        if hold:
            self._released.wait(timeout=300)
            return 503, {"error": {"message": "held by the test, never answered"}}
        if self.mode == "garbage":
            completion = {
                "message": {"content": "Sure"},
                "finish_reason": "length",
                "logprobs": {
                    "content": [
                        {
                            "token": "Sure",
                            "bytes": list(b"Sure"),
                            "logprob": -0.1,
                            "top_logprobs": [
                                {"token": "Sure", "bytes": list(b"Sure"), "logprob": -0.1},
                                {"token": "Both", "bytes": list(b"Both"), "logprob": -2.5},
                            ],
                        }
                    ]
                },
                "total_tokens": 10,
            }
        elif completion is None:
            with self._lock:
                self.n_unmatched += 1
            return 404, {"error": {"message": "no recorded judgment for this request", "type": "not_found"}}
        with self._lock:
            self.n_answered += 1
            if key is not None:
                self.answered[key] += 1
        total = int(completion.get("total_tokens") or 1)
        return 200, {
            "id": f"replay-{self.n_requests}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", self.model_name),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": completion["message"]["content"]},
                    "logprobs": completion.get("logprobs"),
                    "finish_reason": completion.get("finish_reason") or "length",
                }
            ],
            "usage": {"prompt_tokens": max(total - 1, 0), "completion_tokens": 1, "total_tokens": total},
        }

    def _handler_class(self):
        judge = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                try:
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client was killed (held requests)

            def do_GET(self):
                if self.path.rstrip("/") == "/v1/models":
                    self._send(200, {"object": "list", "data": [{"id": judge.model_name, "object": "model"}]})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    self._send(400, {"error": {"message": "body is not JSON"}})
                    return
                with judge._lock:
                    judge.auth.add(self.headers.get("Authorization", ""))
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                self._send(*judge.answer(body))

        return Handler
