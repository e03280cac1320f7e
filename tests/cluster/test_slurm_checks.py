"""expo.cluster.slurm without a cluster: sinfo/scontrol parsing and the never-schedulable verdicts (the real
SLURM runs of the same checks are in test_slurm.py)."""

from __future__ import annotations

import subprocess
from types import SimpleNamespace

import pytest

from expo.cluster import slurm
from expo.errors import ExpoError

SINFO = "main*|vm|2|22899|gpu:2|10:00:00\nbig|g1|64|515000|gpu:a100:8(S:0-1)|2-00:00:00\nbig|g2|32|256000|(null)|2-00:00:00\n"


def _run(stdout: str, rc: int = 0):
    def run(cmd, **kwargs):
        return subprocess.CompletedProcess(cmd, rc, stdout=stdout, stderr="sinfo: error: boom" if rc else "")

    return run


@pytest.fixture
def partitions():
    return slurm.read_partitions(run=_run(SINFO))


@pytest.mark.parametrize(
    ("gres", "gpus"),
    [("gpu:2", 2), ("gpu:a100:4(S:0-1)", 4), ("gres/gpu=3", 3), ("gres:gpu:4", 4), ("(null)", 0), ("", 0),
     ("gpu:2,shard:4", 2), ("gpu", 1)],
)  # fmt: skip
def test_parse_gpus(gres, gpus):
    assert slurm.parse_gpus(gres) == gpus


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("infinite", None), ("UNLIMITED", None), ("30", 30), ("10:00:00", 600), ("2-00:00:00", 2880),
     ("1-02", 1560), ("05:30", 6), ("01:00:30", 61)],
)  # fmt: skip
def test_parse_minutes(text, minutes):
    assert slurm.parse_minutes(text) == minutes


def test_partitions_from_sinfo(partitions):
    assert set(partitions) == {"main", "big"}
    assert partitions["main"].default and not partitions["big"].default
    assert partitions["main"].largest() == (2, 22899, 2)
    assert partitions["big"].largest() == (64, 515000, 8)
    assert partitions["big"].max_minutes == 2880


def test_sinfo_failure_is_one_line():
    with pytest.raises(ExpoError, match="sinfo failed"):
        slurm.read_partitions(run=_run("", rc=1))


def test_request_beyond_every_node_is_one_line_naming_rule_request_and_offer(partitions):
    request = slurm.Request("lmeval_v1", 32, 218000, 4, 600, None)
    line = slurm.unschedulable(request, partitions)
    assert line == (
        "SLURM can never run rule lmeval_v1: it asks for 32 CPUs, 218000 MB, 4 GPUs, 600 min; "
        "partition 'main' offers at most 2 CPUs, 22899 MB, 2 GPUs per node, time limit 600 min"
    )
    # the same request on the big partition fits one node
    assert slurm.unschedulable(slurm.Request("lmeval_v1", 32, 218000, 4, 600, "big"), partitions) is None


def test_limits_are_per_node_not_summed(partitions):
    # g1 has the GPUs, g2 has no GPU: 8 GPUs + 64 CPUs fit g1, but 8 GPUs + 600 GB fit no single node
    assert slurm.unschedulable(slurm.Request("r", 64, 1000, 8, 60, "big"), partitions) is None
    assert "600000 MB" in slurm.unschedulable(slurm.Request("r", 1, 600000, 8, 60, "big"), partitions)


def test_time_limit_and_unknown_partition(partitions):
    assert "time limit 600 min" in slurm.unschedulable(slurm.Request("r", 1, 100, 0, 601, None), partitions)
    line = slurm.unschedulable(slurm.Request("r", 1, 100, 0, 10, "gpu"), partitions)
    assert line == "SLURM can never run rule r: partition 'gpu' does not exist (partitions: big, main)"


def _job(rule, local=False, **res):
    return SimpleNamespace(rule=SimpleNamespace(name=rule), is_local=local, threads=1, resources=res)


def test_check_jobs_skips_localrules_and_reads_snakemake_resources(partitions):
    ok = _job("extrapolate", cpus_per_task=2, mem_mb=4096, runtime=60)
    local = _job("download_model", local=True, cpus_per_task=99, mem_mb=10**7)
    slurm.check_jobs([ok, local], partitions)
    big = _job("generate_ultrafeedback", gpu=4, cpus_per_task=32, mem_mb=218000, runtime=300)
    with pytest.raises(
        ExpoError, match="rule generate_ultrafeedback: it asks for 32 CPUs, 218000 MB, 4 GPUs"
    ):
        slurm.check_jobs([ok, big], partitions)
    gres = _job("reward_alpaca", gres="gpu:3", cpus_per_task=1, mem_mb=100, runtime=30)
    with pytest.raises(ExpoError, match="3 GPUs"):
        slurm.check_jobs([gres], partitions)


def _fields(**over):
    fields = {"JobId": "7", "JobState": "PENDING", "Reason": "Priority", "NumCPUs": "1", "MinMemoryNode": "1000M",
              "TimeLimit": "01:00:00", "Partition": "main", "Comment": "rule_generate_alpaca_wildcards_demo_0.5"}  # fmt: skip
    return {**fields, **over}


def test_pending_verdicts(partitions):
    assert slurm.pending_verdict(_fields(), partitions) is None  # waits its turn
    assert (
        slurm.pending_verdict(_fields(Reason="Resources"), partitions) is None
    )  # fits once the node is free
    assert slurm.pending_verdict(_fields(JobState="RUNNING", NumCPUs="64"), partitions) is None
    line = slurm.pending_verdict(_fields(Reason="PartitionConfig", NumCPUs="4"), partitions)
    assert line.startswith(
        "SLURM can never run rule generate_alpaca: it asks for 4 CPUs, 1000 MB, 0 GPUs, 60 min"
    )
    assert line.endswith("(SLURM job 7, pending: PartitionConfig)")
    line = slurm.pending_verdict(_fields(Reason="PartitionConfig"), partitions)  # fits, but SLURM says never
    assert "pending with reason PartitionConfig" in line and "partition 'main' offers" in line
    line = slurm.pending_verdict(_fields(Reason="ReqNodeNotAvail", ReqNodeList="gpu-node-9"), partitions)
    assert "requires node(s) gpu-node-9, which do not exist" in line
    assert slurm.pending_verdict(_fields(Reason="ReqNodeNotAvail", ReqNodeList="vm"), partitions) is None
    assert "4 GPUs" in slurm.pending_verdict(_fields(TresPerJob="gres:gpu:4"), partitions)
