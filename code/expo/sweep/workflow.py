"""What the DAG needs to know about the sweep: the config's ``sweep:`` section and the ``expo sweep`` flags.

sweep:
  mode: per_alpha   # per_alpha: one extrapolate + generate + reward job per (pair, alpha) (default)
                    # in_engine: one `expo sweep` job per pair (one vLLM engine, weights swapped per alpha)
                    #            and one `expo reward` job per pair scoring every alpha (one reward-model load)
"""

from __future__ import annotations

import shlex

from expo.errors import ExpoError
from expo.generation.workflow_args import generate_cli_args, generation_settings

SWEEP_MODES = ("per_alpha", "in_engine")


def sweep_mode(config: dict) -> str:
    """The configured mode; in_engine needs the vLLM backend (one line naming the field otherwise)."""
    mode = (config.get("sweep") or {}).get("mode", "per_alpha")
    if mode not in SWEEP_MODES:
        raise ExpoError(f"config error at sweep.mode: {mode!r} is not one of {', '.join(SWEEP_MODES)}")
    backend = generation_settings(config)["backend"]
    if mode == "in_engine" and backend != "vllm":
        raise ExpoError(
            f"config error at sweep.mode: in_engine swaps weights inside a vLLM engine and needs "
            f"generation.backend: vllm (got {backend!r}); use sweep.mode: per_alpha"
        )
    return mode


def sweep_cli_args(config: dict, pair: str, alphas: list[str]) -> str:
    """``expo sweep`` flags for ``pair`` besides the paths: grid, precision and the same flags as ``expo generate``."""
    args = ["--pair", pair, "--alphas", *alphas, "--precision", str(config.get("precision", "reference"))]
    return shlex.join(args) + " " + generate_cli_args(config, pair)
