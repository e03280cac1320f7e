"""The DAG's sweep switch: `sweep: {mode: in_engine}` replaces the per-alpha extrapolate/generate/reward jobs of
the UltraFeedback sweep by one `expo sweep` and one `expo reward` job per pair (dry runs of the real Snakefile)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from expo.errors import ExpoError
from expo.sweep.workflow import sweep_cli_args, sweep_mode

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = shutil.which("snakemake", path=str(Path(sys.executable).parent))


def _demo_config(**changes) -> dict:
    config = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    config["generation"]["backend"] = "vllm"
    config.update(changes)
    return config


def _dry_run(tmp_path: Path, config: dict) -> subprocess.CompletedProcess:
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    return subprocess.run(
        [SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path), "--configfile", str(tmp_path / "config.yaml"),
         "-n", "--cores", "1", "-p"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _job_counts(stdout: str) -> dict[str, int]:
    stats = stdout[stdout.index("Job stats:") :].splitlines()[3:]
    counts = {}
    for line in stats:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        counts[parts[0]] = int(parts[1])
    return counts


def test_sweep_mode_and_args():
    assert sweep_mode(_demo_config()) == "per_alpha"
    config = _demo_config(sweep={"mode": "in_engine"})
    assert sweep_mode(config) == "in_engine"
    args = shlex.split(sweep_cli_args(config, "demo", ["0.25", "0.5"]))
    assert args[:8] == ["--pair", "demo", "--alphas", "0.25", "0.5", "--precision", "reference", "--backend"]
    assert args[args.index("--max-new-tokens") + 1] == "24"
    config["generation"]["backend"] = "transformers"
    with pytest.raises(
        ExpoError, match="config error at sweep.mode: in_engine .* needs generation.backend: vllm"
    ):
        sweep_mode(config)


@pytest.mark.skipif(SNAKEMAKE is None, reason="no snakemake")
def test_in_engine_dag_has_one_sweep_and_one_reward_job_per_pair(tmp_path):
    proc = _dry_run(tmp_path, _demo_config(sweep={"mode": "in_engine"}))
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    out = proc.stdout
    counts = _job_counts(out)
    assert counts["sweep_generate_demo"] == 1 and counts["sweep_reward_demo"] == 1
    for per_alpha_rule in ("extrapolate_sweep", "generate_ultrafeedback", "reward_ultrafeedback"):
        assert per_alpha_rule not in counts
    assert (
        "expo run-isolated generate -- expo sweep --sft resources/demo/sft --aligned resources/demo/aligned"
        in out
    )
    assert "--alphas 0.25 0.5 1.0 2.0" in out
    assert "expo reward --rm resources/demo/reward --outputs outputs_ultrafeedback/demo_alpha0.0.jsonl" in out


@pytest.mark.skipif(SNAKEMAKE is None, reason="no snakemake")
def test_per_alpha_is_the_default_and_bad_mode_is_one_line(tmp_path):
    proc = _dry_run(tmp_path, _demo_config())
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = _job_counts(proc.stdout)
    assert counts["extrapolate_sweep"] == 4 and counts["generate_ultrafeedback"] == 5
    assert counts["reward_ultrafeedback"] == 5
    assert not any(name.startswith("sweep_") for name in counts)
    proc = _dry_run(tmp_path, _demo_config(sweep={"mode": "both"}))
    assert proc.returncode != 0
    assert "config error at sweep.mode: 'both' is not one of ['per_alpha', 'in_engine']" in proc.stderr
