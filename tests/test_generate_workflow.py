"""The generation / reward / selection rules: config -> CLI flags, and a dry-run of the demo DAG through them."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from expo.generation.workflow_args import fetch_prompts_cli_args, generate_cli_args, reward_cli_args

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "workflow" / "rules"


def test_generate_args_from_paper_config():
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    args = shlex.split(generate_cli_args(config, "internlm2-chat-7b"))
    assert args[:2] == ["--backend", "vllm"]
    flags = dict(zip(args[::2], args[1::2], strict=False))
    assert flags["--temperature"] == "0.7" and flags["--top-k"] == "50" and flags["--top-p"] == "0.9"
    assert flags["--presence-penalty"] == "0.1" and flags["--frequency-penalty"] == "0.1"
    assert flags["--seed"] == "42" and flags["--max-new-tokens"] == "2048"
    assert args[args.index("--stop-token-ids") + 1] == "92542" and "--trust-remote-code" in args
    assert "--stop-token-ids" not in generate_cli_args(config, "zephyr-7b-beta")
    assert fetch_prompts_cli_args(config, "ultrafeedback") == "--source hub"
    assert reward_cli_args(config) == "--batch-size 8 --dtype auto --verify 8"


def test_demo_config_uses_transformers_and_local_prompts():
    config = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    args = shlex.split(generate_cli_args(config, "demo"))
    assert args[:2] == ["--backend", "transformers"]
    assert args[args.index("--max-new-tokens") + 1] == "24"
    assert fetch_prompts_cli_args(config, "alpaca_eval") == "--source resources/demo/prompts_alpaca.json"


@pytest.mark.skipif(
    shutil.which("snakemake", path=str(Path(sys.executable).parent)) is None, reason="no snakemake"
)
def test_demo_dag_dry_run_reaches_selection(tmp_path):
    shutil.copy(ROOT / "config" / "demo.yaml", tmp_path / "config.yaml")
    includes = ["common", "models", "demo", "prompts", "generate", "reward", "select"]
    (tmp_path / "Snakefile").write_text(
        'configfile: "config.yaml"\n'
        + "".join(f'include: "{RULES / name}.smk"\n' for name in includes)
        + "rule all:\n    input:\n        expand('selection/{pair}.json', pair=PAIRS),\n"
        + "        expand('outputs_alpaca/{pair}_alpha0.0.json', pair=PAIRS),\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "snakemake"), "-n", "--cores", "1", "--quiet", "rules"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    for rule, count in [("fetch_prompts", 2), ("generate_ultrafeedback", 5), ("reward_ultrafeedback", 5),
                        ("select_alpha", 1), ("generate_alpaca", 1)]:  # fmt: skip
        assert any(line.split()[:2] == [rule, str(count)] for line in out.splitlines()), (rule, out[-2000:])
