"""Proof of equality with the real CPU vLLM: the in-engine sweep writes, for every α of the demo grid, the same
text as ``expo generate --backend vllm`` on the checkpoint ``expo extrapolate`` writes, each in a fresh engine.

Pair: a tiny bf16 Llama with head_dim 32 (tests/helpers/tiny_pair.py), six prompts (one longer than two KV
blocks, so a prefix cache not reset after a swap would change the results), the paper's sampling, seed 42,
24 new tokens. Two engine processes run: ``expo sweep`` (one engine, 4 swaps) and the reference
(tests/helpers/fresh_engines.py: one Python process, vLLM imported once, a new engine per checkpoint, shut
down before the next; its engine core runs in-process, VLLM_ENABLE_V1_MULTIPROCESSING=0, to save the
spawn and re-import per engine - the model, dtype, sampling and seeds are those of ``expo generate``).
Takes minutes (engine starts: 1 + 4; measured 3 min 54 s at load ~7 on 2 cores, 14 min at load ~12).
Without the prefix-cache reset after each swap, the long prompt's output differs for every α > 0 (checked by
hand). Skipped when no vLLM environment can be had, failed instead with
EXPO_REQUIRE_VLLM=1. The vLLM Python: $EXPO_VLLM_PYTHON, else the ``generate`` tool environment (expo.envs;
on a machine without CUDA its CPU variant envs/generate_cpu.yaml).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from expo.extrapolate import extrapolate
from helpers.tiny_pair import build_tiny_pair

REPO = Path(__file__).resolve().parents[1]
GRID = ["0.25", "0.5", "1.0", "2.0"]
MAX_NEW_TOKENS = "24"


def _unavailable(reason: str):
    if os.environ.get("EXPO_REQUIRE_VLLM") == "1":
        pytest.fail(f"EXPO_REQUIRE_VLLM=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def vllm_python() -> str:
    python = os.environ.get("EXPO_VLLM_PYTHON")
    if not python:
        import torch

        from expo.envs import ensure_env
        from expo.errors import ExpoError

        if not torch.cuda.is_available() and not (REPO / "envs" / "generate_cpu.yaml").is_file():
            _unavailable(
                "no CUDA GPU and no CPU vLLM environment file envs/generate_cpu.yaml (set EXPO_VLLM_PYTHON)"
            )
        try:
            python = str(ensure_env("generate"))
        except ExpoError as exc:
            _unavailable(f"no vLLM environment: {exc}")
    # find_spec, not import: importing vLLM costs ~25 s; a broken install fails the test itself
    probe = subprocess.run(
        [python, "-c", "import importlib.util, sys; sys.exit(importlib.util.find_spec('vllm') is None)"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        _unavailable(f"no vllm package in {python}")
    return python


def _env(**extra) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO / "code"), "VLLM_CPU_KVCACHE_SPACE": "1", **extra}
    return env


def _run(cmd, env, log: Path) -> float:
    start = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.run(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, timeout=1800)
    wall = time.perf_counter() - start
    assert proc.returncode == 0, f"{cmd[:4]} failed; last lines:\n" + "\n".join(
        log.read_text().splitlines()[-15:]
    )
    return wall


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_in_engine_sweep_equals_fresh_engines_on_extrapolated_checkpoints(vllm_python, tmp_path):
    pair = build_tiny_pair(tmp_path / "pair")
    checkpoints = []
    for alpha in GRID:
        checkpoints.append(
            extrapolate(
                pair["sft"], pair["aligned"], alpha, tmp_path / "ckpt" / f"tiny_alpha{alpha}", progress=False
            )
        )

    sweep_s = _run(
        [vllm_python, "-m", "expo", "sweep", "--sft", str(pair["sft"]), "--aligned", str(pair["aligned"]),
         "--pair", "tiny", "--alphas", *GRID, "--prompts", str(pair["prompts"]),
         "--out-dir", str(tmp_path / "sweep"), "--max-new-tokens", MAX_NEW_TOKENS],
        _env(), tmp_path / "sweep.log",
    )  # fmt: skip
    log = (tmp_path / "sweep.log").read_text()
    assert log.count("vllm: engine ready in ") == 1, "the sweep must start exactly one engine"
    assert log.count("sweep: weights set to alpha") == len(GRID)
    assert not list((tmp_path / "sweep").glob("*.partial.jsonl")), "progress files are removed at the end"

    (tmp_path / "ref").mkdir()
    ref_s = _run(
        [vllm_python, str(REPO / "tests" / "helpers" / "fresh_engines.py"), str(pair["prompts"]), MAX_NEW_TOKENS,
         str(tmp_path / "ref"), *map(str, checkpoints)],
        _env(VLLM_ENABLE_V1_MULTIPROCESSING="0"), tmp_path / "ref.log",
    )  # fmt: skip
    ref_log = (tmp_path / "ref.log").read_text()
    engines = json.loads(ref_log.strip().splitlines()[-1])["engines"]
    assert [Path(e["model"]).name for e in engines] == [f"tiny_alpha{a}" for a in GRID]
    assert ref_log.count("vllm: engine ready in ") == len(GRID), (
        "the reference must start one engine per checkpoint"
    )

    texts = {}
    for alpha in GRID:
        ours = _records(tmp_path / "sweep" / f"tiny_alpha{alpha}.jsonl")
        theirs = _records(tmp_path / "ref" / f"tiny_alpha{alpha}.jsonl")
        assert len(ours) == 6
        assert ours == theirs, f"alpha {alpha}: in-engine sweep differs from a fresh engine on the checkpoint"
        texts[alpha] = [r["output"] for r in ours]
    texts["0.0"] = [r["output"] for r in _records(tmp_path / "sweep" / "tiny_alpha0.0.jsonl")]
    # the swaps changed the model: every alpha generated different text (so equal texts above are evidence)
    assert len({tuple(t) for t in texts.values()}) == len(texts)
    starts = ", ".join(f"{e['start_s']:.0f}" for e in engines)
    print(
        f"\nsweep {sweep_s:.0f} s (1 engine), reference {ref_s:.0f} s ({len(GRID)} engines, starts {starts} s), "
        f"load {os.getloadavg()}"
    )
    sys.stdout.flush()
