"""Per-judge journal of judge completions: a rerun, a killed run or a new model never pays for a judgment twice.

alpaca_eval's own annotation cache rewrites one JSON file after every chunk of annotations (128 rows by
default), not atomically; a kill loses the chunk in flight and can truncate the whole file. Instead, every
judge completion is appended to ``judgments.jsonl`` as soon as it arrives (``expo.io.journal``: whole fsynced
lines under an exclusive ``flock``, so concurrent runs sharing the judge can append too). A line is keyed by the SHA-256 of
the exact request (judge model, decoding settings, prompt with the two outputs in the order the judge sees
them), i.e. by instruction + output_1 + output_2 + annotator, and holds the raw completion, which the
annotator parses again on reuse. Only completions that parse into a valid preference are written: a failed
judgment (garbage, empty after retries) is retried on the next run instead of sticking as -1.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from tqdm import tqdm

from expo.io.journal import Journal

log = logging.getLogger(__name__)

# decoding kwargs that do not change the judgment (transport settings)
TRANSPORT_KWARGS = ("num_procs", "client_config_path", "client_kwargs")


def request_key(prompt: str, kwargs: dict) -> str:
    decoding = {k: v for k, v in kwargs.items() if k not in TRANSPORT_KWARGS}
    blob = json.dumps({"prompt": prompt.strip(), "decoding": decoding}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def is_valid_preference(values: Any) -> bool:
    """A parser result that alpaca_eval accepts: one finite preference in [1, 2]."""
    try:
        values = list(values)
    except TypeError:
        return False
    if len(values) != 1 or values[0] is None:
        return False
    try:
        v = float(values[0])
    except (TypeError, ValueError):
        return False
    return math.isfinite(v) and 1.0 <= v <= 2.0


def judge_journal(judge_dir: str | os.PathLike) -> Journal:
    """The judge's journal ``<judge_dir>/judgments.jsonl`` (``expo.io.journal``), records keyed by ``key``.

    Lenient: a line that cannot be read is skipped (judged again), never an error."""
    return Journal(
        journal_path(judge_dir), key=lambda entry: entry["key"], strict=False, what="judge journal"
    )


class JournaledCompletions:
    """Stands in for an annotator's ``fn_completions``: journal hits are free, misses go to the judge.

    Requests run ``concurrency`` at a time, one prompt per call of the real completion function; each
    valid completion is journaled the moment it arrives. On the first request error, pending requests are
    cancelled, the ones in flight finish (and are journaled), then the error is raised.
    """

    def __init__(
        self,
        inner: Callable[..., dict],
        parser: Callable[[Any], Any],
        journal: Journal,
        judge_name: str,
        concurrency: int,
    ):
        self.inner = inner
        self.parser = parser
        self.journal = journal
        self.judge_name = judge_name
        self.concurrency = max(1, int(concurrency))
        self.n_requests = 0
        self.n_reused = 0

    def _valid(self, completion: dict) -> bool:
        try:
            return is_valid_preference(self.parser(completion))
        except Exception:  # noqa: BLE001 - any parser failure is a failed judgment
            return False

    def _one(self, key: str, prompt: str, kwargs: dict) -> tuple[dict, float, float]:
        """One judge request; a valid completion is journaled here, in the worker, the moment it arrives."""
        start = time.monotonic()
        out = self.inner(prompts=[prompt], **{**kwargs, "num_procs": 1})
        completion = out["completions_all"][0]
        price = float(out["price_per_example"][0] or 0.0)
        seconds = time.monotonic() - start
        if isinstance(completion, dict) and self._valid(completion):
            self.journal.append(
                {
                    "key": key,
                    "judge": self.judge_name,
                    "completion": completion,
                    "price": price,
                    "time": seconds,
                }
            )
        return completion, price, seconds

    def __call__(self, prompts: list[str], **kwargs) -> dict[str, list]:
        kwargs.pop("num_procs", None)
        keys = [request_key(p, kwargs) for p in prompts]
        results: dict[str, tuple[dict, float, float]] = {}
        todo: dict[str, str] = {}
        for key, prompt in zip(keys, prompts, strict=True):
            hit = self.journal.get(key)
            if hit is not None:
                results[key] = (hit["completion"], 0.0, 0.0)
                self.n_reused += 1
            else:
                todo.setdefault(key, prompt)
        if todo:
            self._request_all(todo, kwargs, results)
        completions_all = [results[k][0] for k in keys]
        return {
            "completions": [c.get("text", "") if isinstance(c, dict) else str(c) for c in completions_all],
            "price_per_example": [results[k][1] for k in keys],
            "time_per_example": [results[k][2] for k in keys],
            "completions_all": completions_all,
        }

    def _request_all(self, todo: dict[str, str], kwargs: dict, results: dict) -> None:
        first_error: BaseException | None = None
        bar = tqdm(total=len(todo), desc="judge requests", unit="req", disable=False)
        pool = ThreadPoolExecutor(max_workers=self.concurrency)
        futures = {pool.submit(self._one, key, prompt, kwargs): key for key, prompt in todo.items()}
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    if fut.cancelled():
                        continue
                    exc = fut.exception()
                    if exc is not None:
                        if first_error is None:  # stop sending; requests in flight finish (and are journaled)
                            first_error = exc
                            for other in pending:
                                other.cancel()
                        continue
                    self.n_requests += 1
                    bar.update(1)
                    results[futures[fut]] = fut.result()
        finally:
            # on an error or Ctrl-C: nothing new is sent; in-flight requests still journal their answers
            pool.shutdown(wait=True, cancel_futures=True)
            bar.close()
        if first_error is not None:
            raise first_error


def journal_path(judge_dir: str | os.PathLike) -> Path:
    return Path(judge_dir) / "judgments.jsonl"
