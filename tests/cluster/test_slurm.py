"""The SLURM profile on a real single-node SLURM the size of this machine (tests/cluster/slurm_up.sh: its real
CPUs and memory, 2 fake GPUs): sbatch, status polling, failures, jobs that can never run, the demo DAG.

Runs when EXPO_CLUSTER_TESTS=1, or by default as root with apt-get or SLURM present (CI); skipped otherwise
(EXPO_CLUSTER_TESTS=0 skips always). Every snakemake call has a timeout: a hang is a failure, never a stuck CI.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PROFILE = ROOT / "profiles" / "slurm"
TINY = HERE / "workflow"
# Jobs start a Snakemake inside SLURM (~15-20 s each on 2 busy cores); status checks begin after 5 s.
FAST_POLL = ["--slurm-init-seconds-before-status-checks", "5"]


def _gate() -> str | None:
    flag = os.environ.get("EXPO_CLUSTER_TESTS")
    if flag == "0":
        return "EXPO_CLUSTER_TESTS=0"
    if flag != "1":
        if os.geteuid() != 0:
            return "needs root to start slurmd/slurmctld (EXPO_CLUSTER_TESTS=1 forces it)"
        if not (shutil.which("apt-get") or shutil.which("slurmctld")):
            return "neither SLURM nor apt-get available (EXPO_CLUSTER_TESTS=1 forces it)"
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        if flag == "1":
            pytest.fail("snakemake-executor-plugin-slurm is not installed (pip install -e '.[slurm]')")
        return "snakemake-executor-plugin-slurm is not installed (pip install -e '.[slurm]')"
    return None


_reason = _gate()
pytestmark = [pytest.mark.cluster, pytest.mark.skipif(_reason is not None, reason=_reason or "")]


def _free_port_pair() -> int:
    """A port p with p and p+1 free (slurmctld, slurmd), so a developer's own test cluster is untouched."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port > 65000:
            continue
        with socket.socket() as s2:
            try:
                s2.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair")


class Cluster:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.env = {k: v for k, v in os.environ.items() if not k.endswith("_OFFLINE") and k != "SLURM_CONF"}
        bindir = str(Path(sys.executable).parent)
        self.env["PATH"] = os.pathsep.join([str(base / "bin"), bindir, self.env.get("PATH", "")])

    def snakemake(self, workdir: Path, *args: str, timeout: float) -> tuple[int, str, float]:
        """Run snakemake with the SLURM profile; returns (rc, output, seconds). A timeout fails the test."""
        cmd = [str(Path(sys.executable).parent / "snakemake"), "--profile", str(PROFILE), *FAST_POLL, *args]
        start = time.monotonic()
        try:
            proc = subprocess.run(
                cmd, cwd=workdir, env=self.env, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired as exc:
            out = (
                (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout
            )
            subprocess.run([str(self.base / "bin" / "scancel"), "--user", "root"], env=self.env)
            pytest.fail(f"snakemake hung: no result after {timeout} s\n{(out or '')[-3000:]}")
        return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start

    def job_fields(self, comment_prefix: str) -> dict[str, str]:
        """scontrol fields of the latest (finished) job whose comment (set by the plugin) starts with the prefix."""
        out = subprocess.run(
            [str(self.base / "bin" / "scontrol"), "-o", "show", "job"],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        matches = []
        for line in out.splitlines():
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            if fields.get("Comment", "").startswith(comment_prefix):
                matches.append(fields)
        if matches:  # the latest such job: records of earlier tests' jobs stay for MinJobAge
            return max(matches, key=lambda f: int(f["JobId"]))
        raise AssertionError(f"no SLURM job with comment {comment_prefix!r}:\n{out}")


@pytest.fixture(scope="session")
def slurm():
    lock = open("/tmp/expo-slurm-tests.lock", "w")  # one test cluster per machine at a time
    fcntl.flock(lock, fcntl.LOCK_EX)
    # not under pytest's 0700 tmp root: the munge user must reach its socket and key folder
    base = Path(tempfile.mkdtemp(prefix="expo-slurm-"))
    env = dict(os.environ, EXPO_SLURM_PORT=str(_free_port_pair()))
    start = time.monotonic()
    up = subprocess.run(
        ["bash", str(HERE / "slurm_up.sh"), str(base)], env=env, capture_output=True, text=True, timeout=600
    )
    print(f"slurm_up.sh: {time.monotonic() - start:.1f} s\n{up.stdout}")
    try:
        assert up.returncode == 0, f"slurm_up.sh failed:\n{up.stdout}\n{up.stderr}"
        yield Cluster(base)
    finally:
        subprocess.run(["bash", str(HERE / "slurm_down.sh"), str(base)], timeout=60)
        shutil.rmtree(base, ignore_errors=True)
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()


def _tiny_workdir(tmp_path: Path) -> Path:
    work = tmp_path / "tiny"
    work.mkdir()
    shutil.copy(TINY / "config.yaml", work / "config.yaml")
    return work


def _read(path: Path) -> dict[str, str]:
    return dict(item.split("=", 1) for item in path.read_text().split())


@pytest.fixture(scope="module")
def tiny_run(slurm, tmp_path_factory):
    """One run of the tiny workflow (the default target plus a job that fails), every job asking for an account
    on this cluster without accounting; --keep-going so the failure does not stop the others."""
    work = _tiny_workdir(tmp_path_factory.mktemp("tiny"))
    rc, out, seconds = slurm.snakemake(
        work,
        "all",
        "broken.txt",
        "--keep-going",
        "--snakefile",
        str(TINY / "Snakefile"),
        "--default-resources",
        "mem_mb=4000",
        "runtime=60",
        "cpus_per_task=1",
        "slurm_account=nosuch",
        timeout=150,
    )
    print(f"tiny workflow + failing job through SLURM: {seconds:.1f} s")
    return work, rc, out, seconds


def test_jobs_run_through_sbatch_offline_and_sized_by_the_profile(slurm, tiny_run):
    work, rc, out, _ = tiny_run
    assert "submitted with SLURM jobid" in out
    assert "Error in rule broken" in out and "Error in rule" not in out.replace("Error in rule broken", "")
    # localrule: runs in the main process, online, outside SLURM
    assert _read(work / "fetch.txt") == {"offline": "unset", "job": "none"}
    # compute jobs: inside SLURM, offline, sized by the profile
    cpu = _read(work / "models" / "tiny_alpha0.5.txt")
    assert cpu["offline"] == "1" and cpu["job"].isdigit() and cpu["cpus"] == "2"
    tiny = _read(work / "outputs" / "tiny_alpha0.5.txt")
    assert tiny["offline"] == "1" and len(tiny["gpus"].split(",")) == 1 and tiny["cpus"] == "1"
    fields = slurm.job_fields("rule_generate_ultrafeedback_wildcards_tiny")
    assert fields["TresPerJob"] == "gres:gpu:1"  # vLLM on a 1B pair: tensor parallel 1
    assert fields["MinMemoryNode"] == "11000M"  # 8 GB + 3 GB per B
    assert fields["TimeLimit"] == "02:00:00"
    assert slurm.job_fields("rule_extrapolate_wildcards_tiny")["MinMemoryNode"] in ("4096M", "4G")


def test_failing_job_reported_as_failed(tiny_run):
    work, rc, out, seconds = tiny_run
    assert rc != 0
    assert re.search(
        r"Error in rule broken:\n\s+message: SLURM-job '\d+' failed, SLURM status is: 'FAILED'", out
    ), out[-3000:]
    assert not (work / "broken.txt").exists()
    assert (
        seconds < 150
    )  # the whole run, failure included, ends; the subprocess timeout turns a hang into a failure


def test_account_without_accounting_is_submitted_unchecked(slurm, tiny_run):
    """sacctmgr cannot check an account without slurmdbd and sshare lists none, so the plugin warns and submits
    with -A, which SLURM without accounting ignores: the jobs run, nothing hangs."""
    work, rc, out, _ = tiny_run
    assert "Proceeding without account validation" in out, out[-3000:]
    assert slurm.job_fields("rule_extrapolate_wildcards_tiny")["Account"] == "nosuch"
    assert (work / "models" / "tiny_alpha0.5.txt").is_file()


def _error_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("expo: error: SLURM can never run")]


def test_job_beyond_every_node_fails_before_submission(slurm, tmp_path):
    """The 70B pair's generation asks for 4 GPUs on a node with 2: the run fails at once, before any sbatch, in
    one line naming the rule, its request and what the partition offers (the sinfo check at onstart)."""
    work = _tiny_workdir(tmp_path)
    rc, out, seconds = slurm.snakemake(
        work, "outputs/big_alpha0.5.txt", "--snakefile", str(TINY / "Snakefile"), timeout=300
    )
    print(f"never-schedulable job (checked before submission): {seconds:.1f} s, load {os.getloadavg()}")
    assert rc != 0 and seconds < 300
    lines = _error_lines(out)
    assert len(lines) == 1, out[-3000:]
    assert "rule generate_ultrafeedback" in lines[0] and "4 GPUs" in lines[0], lines[0]
    assert re.search(r"partition 'main' offers at most \d+ CPUs, \d+ MB, 2 GPUs per node", lines[0]), lines[0]
    assert "submitted with SLURM jobid" not in out
    assert not (work / ".snakemake" / "locks").exists() or not list((work / ".snakemake" / "locks").iterdir())


def test_job_pending_forever_is_cancelled_and_fails_the_run(slurm, tmp_path):
    """A job SLURM accepts but keeps pending for a reason that never clears (PartitionConfig: 4 CPUs on a 2-CPU
    node), with the pre-submission check off: the watchdog cancels it, the run fails in one line, no hang."""
    work = _tiny_workdir(tmp_path)
    slurm.env.update(EXPO_SLURM_PRECHECK="0", EXPO_SLURM_WATCH_SECONDS="5")
    try:
        rc, out, seconds = slurm.snakemake(
            work,
            "outputs/tiny_alpha0.5.txt",
            "--snakefile",
            str(TINY / "Snakefile"),
            "--set-resources",
            "generate_ultrafeedback:cpus_per_task=4",
            timeout=300,
        )
    finally:
        for key in ("EXPO_SLURM_PRECHECK", "EXPO_SLURM_WATCH_SECONDS"):
            slurm.env.pop(key, None)
    print(f"pending-forever job cancelled: {seconds:.1f} s, load {os.getloadavg()}")
    assert rc != 0 and seconds < 300
    lines = _error_lines(out)
    assert len(lines) == 1, out[-3000:]
    assert (
        "rule generate_ultrafeedback" in lines[0] and "4 CPUs" in lines[0] and "PartitionConfig" in lines[0]
    )
    assert "at most 2 CPUs" in lines[0] or "at most" in lines[0]
    assert "SLURM status is: 'CANCELLED'" in out
    assert not (work / "outputs" / "tiny_alpha0.5.txt").exists()


DEMO_COPY = ["Snakefile", "workflow", "config", "profiles", "envs"]


def test_demo_dag_through_slurm(slurm, tmp_path):
    """The real demo DAG (config/demo.yaml, sweep grid cut to one alpha) from a fresh copy through sbatch on a node
    with this machine's CPUs and memory to completion (benchmarks and tables too), every job on CPU asking for no
    GPU, 1 CPU and ~1 GB, outputs under the demo's results root; then nothing left to do. EXPO_CLUSTER_DEMO=selection stops at the
    alpha selection (every SLURM job costs a Snakemake start, so that is quicker)."""
    work = tmp_path / "project"
    work.mkdir()
    for name in DEMO_COPY:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, work / name)
    config = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    config["alpha_grid"] = [1.0]
    (work / "config" / "demo_slurm.yaml").write_text(yaml.safe_dump(config))
    full = os.environ.get("EXPO_CLUSTER_DEMO", "full") != "selection"
    targets = [] if full else [f"selection/{pair}.json" for pair in config["pairs"]]
    args = [*targets, "--configfile", "config/demo_slurm.yaml"]
    rc, out, seconds = slurm.snakemake(work, *args, timeout=900 if full else 330)
    print(f"demo DAG ({'full' if full else 'to the selection'}) through SLURM: {seconds:.1f} s")
    assert rc == 0, out[-5000:]
    submitted = set(re.findall(r"log: \S*/slurm_logs/rule_(\w+?)/", out))
    assert {"extrapolate_sweep", "generate_ultrafeedback", "reward_ultrafeedback"} <= submitted, submitted
    root = work / config["results_root"]
    selection = json.loads((root / "selection" / "demo.json").read_text())
    assert selection, "empty selection"
    assert not (work / "selection").exists()  # the paper config's folders stay untouched
    generate = slurm.job_fields("rule_generate_ultrafeedback_wildcards_demo")
    assert generate.get("TresPerJob", "(null)") in ("(null)", ""), generate  # CPU job: no GPU asked
    assert generate["NumCPUs"] == "1" and generate["MinMemoryNode"] in ("1005M",), generate
    if full:
        assert {"generate_alpaca", "reward_alpaca", "lmeval_local"} <= submitted, submitted
        assert (root / "tables" / "paper_pairs.csv").is_file()
        assert list((root / "results_lmeval").glob("demo_alpha*/*.json"))
    rc, out, _ = slurm.snakemake(work, *args, "-n", timeout=120)
    assert rc == 0 and "Nothing to be done" in out, out[-3000:]
