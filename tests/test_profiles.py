"""Cluster profiles: `snakemake -n --profile profiles/slurm` on the paper config requests GPUs, memory, CPUs and
runtime following each pair's size (70B -> 4 GPUs), a GPU cap below a pair's need stops the DAG build with one
line naming it, and expo.cluster's sizing rules."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import expo.cluster as cluster
from expo.errors import ExpoError

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
GPU_RULES = {
    "generate_ultrafeedback": "pair",
    "generate_alpaca": "pair",
    "reward_ultrafeedback": "reward",
    "reward_alpaca": "reward",
    "lmeval_v1": "pair",
    "lmeval_v2": "pair",
    "lmeval_local": "pair",
    "mt_bench_answer": "pair",
}
PAPER = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
PROBE_PAIRS = ["zephyr-7b-beta", "tulu-2-dpo-13b", "internlm2-chat-20b", "tulu-2-dpo-70b"]


def _env(tmp_path: Path) -> dict:
    """A minimal environment (PYTHONPATH kept: a developer's checkout may shadow the installed package)."""
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "HF_HUB_OFFLINE": "1",
    }
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


def _probe_snakefile(tmp_path: Path) -> Path:
    """The project's Snakefile, resources.smk if the Snakefile does not include it yet, and stand-in rules
    for the GPU rules the workflow does not define yet (so the profile's expressions are tested for all);
    target `probe_all` asks for each stand-in's jobs on the probe pairs."""
    main = (ROOT / "Snakefile").read_text()
    lines = [f'include: "{ROOT / "Snakefile"}"']
    if "resources.smk" not in main:
        lines.append(f'include: "{ROOT / "workflow" / "rules" / "resources.smk"}"')
    lines.append("PROBE_TARGETS = []")
    lines.append("DEFINED_RULES = {r.name for r in workflow.rules}")
    for rule in GPU_RULES:
        lines += [
            f'if "{rule}" not in DEFINED_RULES:',
            f"    rule {rule}:",
            f'        output: "probe/{rule}/{{pair}}_alpha{{alpha}}.txt"',
            '        shell: "touch {output}"',
            # the real rule's (or stand-in's) first output for each probe pair at alpha 0.5: asking for it
            # directly keeps the selection checkpoint (which stops a dry-run's DAG) out of the way
            f"PROBE_TARGETS += [expand(rules.{rule}.output[0], pair=p, alpha='0.5')[0] for p in {PROBE_PAIRS!r}]",
        ]
    lines += ["localrules: probe_all", "rule probe_all:", "    input: PROBE_TARGETS"]
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text("\n".join(lines) + "\n")
    return snakefile


def _dry_run(
    tmp_path: Path, profile: str, *args: str, config: str = "config/config.yaml", probe: bool = True
):
    snakefile = _probe_snakefile(tmp_path)
    targets = ["probe_all"] if probe else []
    # targets first: --configfile and --config take several values
    cmd = [SNAKEMAKE, "all", *targets, "-n", "--snakefile", str(snakefile)]
    cmd += ["--profile", str(ROOT / "profiles" / profile), "--configfile", str(ROOT / config), *args]
    env = _env(tmp_path)
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)


def parse_dry_run(text: str) -> list[dict]:
    """Jobs of a dry-run printout: rule, wildcards and resources (values as printed)."""
    jobs, job = [], None
    for line in text.splitlines():
        head = re.match(r"^(?:local)?(?:rule|checkpoint) (\w+):$", line)
        if head:
            job = {"rule": head.group(1), "wildcards": {}, "resources": {}}
            jobs.append(job)
        elif job is not None and line.startswith("    wildcards: "):
            job["wildcards"] = dict(kv.split("=", 1) for kv in line.split(": ", 1)[1].split(", "))
        elif job is not None and line.startswith("    resources: "):
            job["resources"] = dict(kv.split("=", 1) for kv in line.split(": ", 1)[1].split(", "))
    return jobs


@pytest.fixture(scope="module")
def slurm_jobs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("profile")
    proc = _dry_run(tmp, "slurm")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    jobs = parse_dry_run(proc.stdout)
    assert jobs, proc.stdout[-2000:]
    return jobs


def test_extrapolation_is_a_cpu_job_with_flat_memory(slurm_jobs):
    extrapolations = [j for j in slurm_jobs if j["rule"] in ("extrapolate_sweep", "extrapolate")]
    assert extrapolations
    pairs = set()
    for job in extrapolations:
        assert job["resources"]["mem_mb"] == "4096", job
        assert job["resources"]["cpus_per_task"] == "2", job
        assert "gpu" not in job["resources"], job
        pairs.add(job["wildcards"]["pair"])
    assert "tulu-2-dpo-70b" in pairs


def test_gpu_jobs_follow_pair_sizes(slurm_jobs):
    expected_gpus = {"zephyr-7b-beta": 1, "tulu-2-dpo-13b": 1, "internlm2-chat-20b": 2, "tulu-2-dpo-70b": 4}
    seen = {}
    for job in slurm_jobs:
        kind = GPU_RULES.get(job["rule"])
        if kind is None or job["wildcards"].get("pair") not in expected_gpus:
            continue
        pair = job["wildcards"]["pair"]
        gpus = expected_gpus[pair] if kind == "pair" else 1  # reward jobs load the 7B reward model
        size = PAPER["pairs"][pair]["size_b"] if kind == "pair" else 7
        res = job["resources"]
        assert res["gpu"] == str(gpus), job
        assert res["cpus_per_task"] == str(8 * gpus), job
        assert res["mem_mb"] == str(8000 + 3000 * size), job
        seen[(job["rule"], pair)] = int(res["gpu"])
    for rule, kind in GPU_RULES.items():
        for pair, gpus in expected_gpus.items():
            assert (rule, pair) in seen, f"no dry-run job of {rule} for {pair}"
            if kind == "pair":
                assert seen[(rule, pair)] == gpus
    assert seen[("generate_ultrafeedback", "tulu-2-dpo-70b")] == 4


def test_localrules_stay_local(slurm_jobs):
    downloads = [j for j in slurm_jobs if j["rule"] == "download_model"]
    assert downloads and all("gpu" not in j["resources"] for j in downloads)


def test_gpu_cap_below_a_pairs_need_is_one_line_naming_it(tmp_path):
    proc = _dry_run(tmp_path, "slurm", "--config", "cluster={max_gpus_per_job: 2}")
    assert proc.returncode != 0
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if "max_gpus_per_job" in line]
    assert lines and "'tulu-2-dpo-70b'" in lines[0] and "needs 4 GPUs" in lines[0], proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr


def test_local_profile_dry_run(tmp_path):
    proc = _dry_run(tmp_path, "local", config="config/demo.yaml", probe=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = parse_dry_run(proc.stdout)
    assert any(j["rule"] == "extrapolate_sweep" and j["resources"].get("mem_mb") == "4096" for j in jobs)


def test_profile_sets_status_command_and_no_account():
    profile = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert profile["slurm-status-command"] == "squeue"
    assert "slurm_account" not in profile["default-resources"]
    assert set(GPU_RULES) <= set(profile["set-resources"])
    for rule in GPU_RULES:
        assert {"gpu", "mem_mb", "cpus_per_task", "runtime"} <= set(profile["set-resources"][rule])


# expo.cluster sizing rules -------------------------------------------------------------------------------


def _config(**cluster_section):
    config = {"pairs": {"a": {"size_b": 7}, "b": {"size_b": 20}, "c": {"size_b": 70}, "d": {"size_b": 180}}}
    if cluster_section:
        config["cluster"] = cluster_section
    return config


def test_gpu_tiers_and_override():
    config = _config(gpus={"c": 8})
    assert [cluster.gpus_for(config, p) for p in "abcd"] == [1, 2, 8, 8]
    assert cluster.gpus_for(_config(), "c") == 4
    assert cluster.gpus_for(config, None, model="reward") == 1
    assert cluster.runtime_for(_config(), "c", base=120) == 300
    assert cluster.runtime_for(_config(), "a", base=120) == 120


def test_wildcard_forms_use_the_bound_config():
    cluster.bind(_config())
    assert cluster.gpus({"pair": "c", "alpha": "0.5"}) == 4
    assert cluster.gpus({"model": "b_alpha0.3"}) == 2
    assert cluster.mem_mb({"pair": "a"}) == 8000 + 3000 * 7
    with pytest.raises(ExpoError, match="no pair or model wildcard"):
        cluster.gpus({"sample": "x"})
    with pytest.raises(ExpoError, match="'zz' is not a configured pair"):
        cluster.gpus({"pair": "zz"})


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"max_gpus_per_job": 2},
            r"pair 'c' \(size_b 70\) needs 4 GPUs per job but cluster.max_gpus_per_job is 2",
        ),
        ({"max_gpus_per_job": "0"}, r"cluster.max_gpus_per_job: expected a positive integer"),
        ({"gpus": {"zz": 2}}, r"cluster.gpus.zz: no such pair"),
        ({"gpu": 2}, r"cluster.gpu: unknown key"),
        ({"max_gpus_per_job": 8, "reward_size_b": 200}, r"the reward model .* needs 8 GPUs"),
    ],
)
def test_bad_cluster_section_is_one_line(section, message):
    config = _config(**section)
    if "reward_size_b" in section:
        config["cluster"]["max_gpus_per_job"] = 4
        config["pairs"].pop("d")
    else:
        config["pairs"].pop("d")
    with pytest.raises(ExpoError, match=message):
        cluster.check_cluster_config(config)


def test_cap_met_by_override_passes():
    config = _config(max_gpus_per_job="4", gpus={"d": 4})
    cluster.check_cluster_config(config)  # strings come from --config on the command line


@pytest.mark.parametrize("profile", ["slurm", "local"])
def test_profile_rule_names_exist_in_the_workflow(profile, tmp_path):
    """Snakemake ignores set-resources for unknown rules: a renamed rule would silently lose its sizing."""
    proc = subprocess.run(
        [SNAKEMAKE, "--list-rules", "--snakefile", str(ROOT / "Snakefile")]
        + ["--configfile", str(ROOT / "config" / "config.yaml")],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rules = {line.strip() for line in proc.stdout.splitlines() if re.fullmatch(r"\s*\w+\s*", line)}
    assert "extrapolate" in rules, proc.stdout
    configured = yaml.safe_load((ROOT / "profiles" / profile / "config.yaml").read_text())["set-resources"]
    assert sorted(set(configured) - rules) == []


# Resources follow the job; published mode through the SLURM profile -----------------------------------------


def test_demo_jobs_ask_for_no_gpu_and_little_cpu_and_memory(tmp_path):
    """The demo (transformers on CPU, hf lm-eval on cpu, cluster.use_gpus false) asks SLURM for no GPU, 1 CPU and
    ~1 GB per model-loading job: it fits a 2-CPU node with no GPU."""
    proc = _dry_run(
        tmp_path, "slurm", "--config", "alpha_selection=published", config="config/demo.yaml", probe=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = parse_dry_run(proc.stdout)
    loading = [j for j in jobs if j["rule"] in GPU_RULES]
    assert {j["rule"] for j in loading} >= {"generate_alpaca", "reward_alpaca", "lmeval_local"}, jobs
    for job in loading:
        res = job["resources"]
        assert "gpu" not in res or res["gpu"] == "0", job
        assert res["cpus_per_task"] == "1" and res["mem_mb"] == "1005", job


@pytest.mark.parametrize(
    ("section", "stage", "gpus"),
    [
        ({"lmeval": {"backend": "hf", "device": "cpu"}}, "lmeval", 0),
        ({"lmeval": {"backend": "hf", "device": None}}, "lmeval", 1),
        ({"lmeval": {"backend": "vllm"}}, "lmeval", 4),
        ({"generation": {"backend": "transformers"}}, "generate", 1),
        ({"generation": {"backend": "vllm"}, "mt_bench": {"backend": "transformers"}}, "mt_bench_answer", 1),
        ({"generation": {"backend": "vllm"}}, "mt_bench_answer", 4),
        ({"cluster": {"use_gpus": False}}, "generate", 0),
        ({"cluster": {"use_gpus": "false"}, "lmeval": {"backend": "vllm"}}, "lmeval", 0),
        ({}, "reward", 1),
    ],
)
def test_gpus_follow_backend_and_device(section, stage, gpus):
    config = {"pairs": {"c": {"size_b": 70}}, **section}
    assert cluster.stage_gpus_for(config, stage, "c") == gpus
    res = cluster.job_resources(config, stage, None if stage == "reward" else "c")
    if gpus:
        assert res["cpus_per_task"] == 8 * gpus
    else:
        assert res["cpus_per_task"] == (7 if stage == "reward" else 8)  # CPU job: 1 per B, at most 8
        assert res["mem_mb"] == 1000 + 4500 * (7 if stage == "reward" else 70)


def test_tensor_parallel_args_for_every_vllm_stage():
    config = {"pairs": {"c": {"size_b": 70}, "a": {"size_b": 7}}, "cluster": {"gpus": {"a": 2}}}
    for stage in ("generate", "mt_bench_answer", "lmeval"):
        assert cluster.tensor_parallel_args(config, stage, "c") == "--tensor-parallel-size 4"
        assert cluster.tensor_parallel_args(config, stage, "a") == "--tensor-parallel-size 2"
    hf = {**config, "lmeval": {"backend": "hf"}}
    assert cluster.tensor_parallel_args(hf, "lmeval", "c") == ""
    assert cluster.tensor_parallel_size({**config, "generation": {"tensor_parallel_size": 8}}, "c") == 8


def _model(path: Path, heads: int) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"num_attention_heads": heads}))
    return path


def test_tensor_parallel_checked_against_attention_heads(tmp_path):
    good = _model(tmp_path / "llama70", 64)
    odd = _model(tmp_path / "odd", 6)
    cluster.check_tensor_parallel(good, 4, "pair 'c'")
    cluster.check_tensor_parallel(tmp_path / "not_downloaded", 4, "pair 'c'")  # no config.json yet: later
    with pytest.raises(ExpoError, match=r"tensor parallel 4, which does not divide the 6 attention heads in .*odd/config.json; use one of \[1, 2, 3, 6\] \(set cluster.gpus.c\)"):  # fmt: skip
        cluster.check_pair_tensor_parallel({"pairs": {"c": {"size_b": 70}}}, {"c": [good, odd]})
    judge = cluster.served_model_resources(70, good)
    assert judge["tensor_parallel_size"] == judge["gpu"] == 4
    with pytest.raises(ExpoError, match="served model runs vLLM with tensor parallel 4"):
        cluster.served_model_resources(70, odd)


def test_tensor_parallel_mismatch_stops_the_dag_build_in_one_line(tmp_path):
    sft, aligned = _model(tmp_path / "sft", 6), _model(tmp_path / "aligned", 6)
    (tmp_path / "rm").mkdir()
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({
        "reward_model": str(tmp_path / "rm"),
        "pairs": {"odd": {"sft": str(sft), "aligned": str(aligned), "alpha": 0.5, "size_b": 70}},
    }))  # fmt: skip
    proc = subprocess.run(
        [SNAKEMAKE, "-n", "--snakefile", str(ROOT / "Snakefile"), "--configfile", str(cfg)],
        cwd=tmp_path, capture_output=True, text=True, timeout=180,
        env=_env(tmp_path),
    )  # fmt: skip
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(
        "cluster error: pair 'odd' runs vLLM with tensor parallel 4"
    )


def test_published_paper_config_lists_lmeval_jobs_with_tensor_parallel(tmp_path):
    """`snakemake -n -p --profile profiles/slurm --config alpha_selection=published` on the paper config: every
    pair's lm-eval jobs (alpha 0 and published) are listed, and the 70B pair's command passes tensor parallel 4."""
    proc = _dry_run(tmp_path, "slurm", "-p", "--config", "alpha_selection=published", probe=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = parse_dry_run(proc.stdout)
    lmeval = {(j["wildcards"]["pair"], j["wildcards"]["alpha"]): j for j in jobs if j["rule"] == "lmeval_v1"}
    expected = {(p, a) for p, e in PAPER["pairs"].items() for a in ("0.0", str(float(e["alpha"])))}
    assert set(lmeval) == expected
    assert lmeval[("tulu-2-dpo-70b", "0.5")]["resources"]["gpu"] == "4"
    commands = [
        line
        for line in proc.stdout.splitlines()
        if "expo lmeval --model models/tulu-2-dpo-70b_alpha0.5 " in line
    ]
    assert (
        len(commands) == 1 and "--backend vllm" in commands[0] and "--tensor-parallel-size 4" in commands[0]
    )
    assert not any(j["rule"] in ("generate_ultrafeedback", "select_alpha") for j in jobs)
