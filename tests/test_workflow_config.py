"""Config validation and DAG construction: schema errors are one line naming pair and field; the paper
config lists an extrapolation job for every (pair, alpha); alpha spellings are canonical."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from expo.errors import ExpoError
from expo.naming import canonical_alpha, model_id, parse_model_ref
from expo.workflow_config import sweep_alphas

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def snakemake(args: list[str], cwd: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run(
        [*SNAKEMAKE, "-s", str(ROOT / "Snakefile"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def write_config(tmp_path: Path, pairs: dict, **top) -> Path:
    """A config whose local models ./sft, ./aligned, ./rm exist (missing local paths are their own error)."""
    for name in ("sft", "aligned", "rm"):
        (tmp_path / name).mkdir(exist_ok=True)
    cfg = {"reward_model": "./rm", "pairs": pairs, **top}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


GOOD = {"sft": "./sft", "aligned": "./aligned", "alpha": 0.3, "size_b": 7}


@pytest.mark.parametrize(
    "entry, expected",
    [
        (
            {**GOOD, "alpha": "zero point three"},
            "config error at pairs.mine.alpha: 'zero point three' is not of type",
        ),
        ({**GOOD, "alpha": -0.3}, "config error at pairs.mine.alpha:"),
        (
            {k: v for k, v in GOOD.items() if k != "size_b"},
            "config error at pairs.mine: 'size_b' is a required",
        ),
        (
            {**GOOD, "colour": "red"},
            "config error at pairs.mine: Additional properties are not allowed ('colour'",
        ),
        ({**GOOD, "alpha_grid": [0.1, 0.1]}, "config error at pairs.mine.alpha_grid:"),
        ({**GOOD, "alpha_grid": [0.5, 0.50000]}, "config error at pairs.mine.alpha_grid:"),
        ({**GOOD, "sft": "not a model"}, "config error at pairs.mine.sft: model reference 'not a model'"),
        ({**GOOD, "stop_token_ids": ["eos"]}, "config error at pairs.mine.stop_token_ids.0:"),
        ({**GOOD, "trust_remote_code": "yes"}, "config error at pairs.mine.trust_remote_code:"),
    ],
)
def test_bad_config_entry_fails_dag_build_with_one_line(tmp_path, entry, expected):
    cfg = write_config(tmp_path, {"mine": entry})
    res = snakemake(["-n", "--configfile", str(cfg)], cwd=tmp_path)
    assert res.returncode != 0
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith(expected), lines[0]


def test_bad_top_level_value_names_field(tmp_path):
    cfg = write_config(tmp_path, {"mine": GOOD}, alpha_selection="best")
    res = snakemake(["-n", "--configfile", str(cfg)], cwd=tmp_path)
    assert res.returncode != 0
    assert res.stderr.strip().startswith("config error at alpha_selection: 'best' is not one of")


def test_misspelt_top_level_section_is_one_line(tmp_path):
    cfg = write_config(tmp_path, {"mine": GOOD}, genration={"backend": "vllm"})
    res = snakemake(["-n", "--configfile", str(cfg)], cwd=tmp_path)
    assert res.returncode != 0
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert lines == [
        "config error at <top level>: Additional properties are not allowed ('genration' was unexpected)"
    ], res.stderr


def test_tables_section_is_declared(tmp_path):
    cfg = write_config(tmp_path, {"mine": GOOD}, tables={"out": "my_tables"}, alpha_selection="published")
    res = snakemake(["-n", "--configfile", str(cfg)], cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "my_tables/paper_pairs.csv" in res.stdout


@pytest.mark.parametrize("role", ["sft", "aligned", "reward_model"])
def test_missing_local_model_path_is_one_line_at_dag_build(tmp_path, role):
    pair = dict(GOOD)
    top = {}
    if role == "reward_model":
        top["reward_model"] = "./no_such_rm"
    else:
        pair[role] = f"./no_such_{role}"
    cfg = write_config(tmp_path, {"mine": pair})
    if top:
        config = yaml.safe_load(cfg.read_text())
        config.update(top)
        cfg.write_text(yaml.safe_dump(config))
    res = snakemake(["-n", "--configfile", str(cfg)], cwd=tmp_path)
    assert res.returncode != 0
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    where = "reward_model" if role == "reward_model" else f"pairs.mine.{role}"
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith(f"config error at {where}: local model path './no_such_"), lines[0]
    assert "MissingInputException" not in res.stdout + res.stderr


def _rules_of(stdout: str) -> dict[str, int]:
    counts = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and re.fullmatch(r"\w+", parts[0]):
            counts[parts[0]] = int(parts[1])
    return counts


def test_published_mode_is_a_static_dag_with_every_benchmark_job(tmp_path):
    """No sweep, no checkpoint: the dry run lists every benchmark job of every pair up front."""
    config = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    config["alpha_selection"] = "published"
    config["pairs"]["demo2"] = dict(config["pairs"]["demo"], alpha=1.5)
    cfg = tmp_path / "published.yaml"
    cfg.write_text(yaml.safe_dump(config))
    res = snakemake(["-n", "--configfile", str(cfg)], cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    counts = _rules_of(res.stdout)
    assert "checkpoint" not in res.stdout and "DAG of jobs will be updated" not in res.stdout
    for rule in ("generate_ultrafeedback", "reward_ultrafeedback", "select_alpha", "extrapolate_sweep"):
        assert rule not in counts, (rule, counts)
    assert counts["extrapolate"] == 2 and counts["lmeval_local"] == 4, (
        counts
    )  # alpha 0.0 + published, 2 pairs
    assert counts["generate_alpaca"] == 4 and counts["reward_alpaca"] == 4 and counts["tables"] == 1, counts
    assert "models/demo2_alpha1.5" in res.stdout


def test_each_config_its_own_results_root(tmp_path):
    """The demo writes under demo_runs/demo (its results_root), the paper config at the top: never mixed."""
    from expo.workflow_config import results_root

    demo = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    paper = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    assert results_root(demo) == "demo_runs/demo" and results_root(paper) == "."
    with pytest.raises(ExpoError, match="config error at results_root"):
        results_root({"results_root": ""})
    res = snakemake(["-n", "--configfile", str(ROOT / "config" / "demo.yaml")], cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (tmp_path / "demo_runs" / "demo" / ".snakemake").is_dir()  # the demo's own working directory
    assert not (tmp_path / ".snakemake").exists()


def test_paper_config_lists_an_extrapolation_job_for_every_pair_and_alpha(tmp_path):
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    res = snakemake(
        ["-n", "--configfile", str(ROOT / "config" / "config.yaml"), "--quiet", "rules"], cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr
    res = snakemake(["-n", "--configfile", str(ROOT / "config" / "config.yaml")], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    jobs = set(re.findall(r"output: (models/sweep/\S+)", res.stdout))
    expected = {
        f"models/sweep/{model_id(pair, alpha)}"
        for pair, entry in config["pairs"].items()
        for alpha in (entry.get("alpha_grid") or config["alpha_grid"])
    }
    assert jobs >= expected
    assert len(config["pairs"]) == 18  # 13 open pairs of the paper + 5 controlled zephyr runs
    # hub models appear as download jobs; nothing is fetched in a dry run
    assert "download_model" in res.stdout
    assert not (tmp_path / "resources").exists()


def test_published_mode_builds_only_the_published_alpha():
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["alpha_selection"] = "published"
    assert sweep_alphas(config, "zephyr-7b-beta") == ["0.1"]
    assert sweep_alphas(config, "zephyr_0.05") == ["25.0"]
    config["alpha_selection"] = "sweep"
    assert sweep_alphas(config, "zephyr_0.2") == ["1.0", "1.5", "2.0", "2.5", "3.0"]


def test_non_canonical_alpha_path_is_rejected(tmp_path):
    cfg = write_config(tmp_path, {"mine": GOOD})
    res = snakemake(["models/sweep/mine_alpha0.50", "-n", "--configfile", str(cfg)], cwd=tmp_path)
    assert res.returncode != 0
    # the alpha wildcard only matches canonical spellings, so no rule produces this path
    assert "No rule to produce models/sweep/mine_alpha0.50" in res.stdout + res.stderr


@pytest.mark.parametrize(
    "value, expected", [(0.5, "0.5"), ("0.50", "0.5"), (8, "8.0"), ("25", "25.0"), (0, "0.0"), (-0.0, "0.0")]
)
def test_canonical_alpha(value, expected):
    assert canonical_alpha(value) == expected


@pytest.mark.parametrize("value", ["abc", "nan", "inf", None, True, "-1"])
def test_bad_alpha_is_an_error(value):
    with pytest.raises(ExpoError, match="alpha"):
        canonical_alpha(value)


def test_model_refs(tmp_path):
    hub = parse_model_ref("HuggingFaceH4/zephyr-7b-beta@abc123")
    assert hub.is_hub and hub.revision == "abc123"
    assert str(hub.local_dir("resources/models")) == "resources/models/HuggingFaceH4--zephyr-7b-beta--abc123"
    local = parse_model_ref(str(tmp_path))
    assert not local.is_hub and local.local_dir() == tmp_path
    assert not parse_model_ref("./resources/demo/sft").is_hub
    with pytest.raises(ExpoError, match="neither an existing path nor a hub id"):
        parse_model_ref("a/b/c")


def test_stage_environments_follow_the_backend():
    """The .smk files take env files and run prefixes from expo.workflow_config (one place, tested here)."""
    from expo.workflow_config import stage_env, stage_run_prefix

    paper = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    demo = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    assert stage_env(paper, "generate") == "../../envs/generate.yaml"
    assert stage_run_prefix(paper, "generate") == "expo run-isolated generate -- "
    assert stage_env(paper, "lmeval") == "../../envs/lmeval_vllm.yaml"
    assert stage_env(paper, "mt_bench_answer") == "../../envs/generate.yaml"
    assert stage_env(demo, "generate") == "../../envs/core.yaml" and stage_run_prefix(demo, "generate") == ""
    assert stage_env(demo, "lmeval") == "../../envs/lmeval.yaml"
    assert stage_run_prefix(demo, "lmeval") == "expo run-isolated lmeval -- "
    mixed = {**paper, "mt_bench": {"backend": "transformers"}}
    assert stage_env(mixed, "mt_bench_answer") == "../../envs/core.yaml"
    for name in ("generate", "core", "lmeval", "lmeval_vllm"):
        assert (ROOT / "envs" / f"{name}.yaml").is_file()


def test_results_dir_is_chosen_once(tmp_path, monkeypatch):
    """The main process picks the absolute folder; cluster jobs (started in the launch directory) inherit it, so a
    relative results_root is never applied twice."""
    from expo.workflow_config import results_dir

    monkeypatch.chdir(tmp_path)
    config = {"results_root": "demo_runs/demo"}
    assert results_dir(config, environ={}) == str(tmp_path / "demo_runs" / "demo")
    assert results_dir(config, environ={"EXPO_RESULTS_DIR": "/shared/run"}) == "/shared/run"


def test_local_models_built_by_the_workflow_are_exempt(tmp_path, monkeypatch):
    from expo.workflow_config import check_local_models

    monkeypatch.chdir(tmp_path)
    config = {"reward_model": "./resources/demo/reward", "pairs": {"demo": {"sft": "./resources/demo/sft",
              "aligned": "./resources/demo/aligned"}}}  # fmt: skip
    check_local_models(config, built_by_workflow=["resources/demo"])
    with pytest.raises(
        ExpoError, match=r"^config error at reward_model: local model path './resources/demo/reward'"
    ):
        check_local_models(config)
