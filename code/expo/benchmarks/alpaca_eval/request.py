"""What `expo alpaca-eval` is asked to do (light: the CLI and the DAG take their defaults from here)."""

from __future__ import annotations

from dataclasses import dataclass, field

from expo.benchmarks.alpaca_eval.judge import AlpacaEvalJudge


@dataclass
class AlpacaEvalRequest:
    """Judge ``model_outputs`` against ``reference``; results into ``out_dir``; judgments journaled per judge
    under ``cache_dir``. ``df_gamed``: a local file, ``"none"`` (no LC) or None (the hub)."""

    model_outputs: str
    reference: str
    out_dir: str
    judge: AlpacaEvalJudge = field(default_factory=AlpacaEvalJudge)
    name: str | None = None
    cache_dir: str = "resources/alpaca_eval_cache"
    df_gamed: str | None = None
    max_failed_fraction: float = 0.0
    outputs_copy: str | None = None
    allow_prefix: bool = False
