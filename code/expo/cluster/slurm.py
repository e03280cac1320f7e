"""Jobs SLURM can never run fail the run at once, in one line: a check before submission and a pending watchdog.

* :func:`check_jobs` (called from the workflow's ``onstart`` with the slurm executor) compares every job's
  request (CPUs, memory, GPUs, runtime) with the largest node and time limit of its partition (``sinfo``).
* :class:`PendingWatchdog` polls ``scontrol show job`` for this run's pending jobs (jobs submitted later, e.g.
  after a checkpoint) and cancels one whose reason never clears (PartitionConfig, a required node that does not
  exist, a request beyond every node): SLURM then reports it CANCELLED, Snakemake fails the run; the line
  printed names the rule, what it asked for and what the partition offers.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from expo.errors import ExpoError

# Pending reasons that never clear by waiting (they need an administrator or a changed request).
NEVER_REASONS = {
    "PartitionConfig",
    "PartitionNodeLimit",
    "PartitionTimeLimit",
    "BadConstraints",
    "InvalidAccount",
    "InvalidQOS",
    "QOSMaxGRESPerJob",
    "QOSMaxCpuPerJobLimit",
    "QOSMaxMemoryPerJob",
}
WAIT_REASONS = {"ReqNodeNotAvail", "Resources", "Priority", "Dependency"}


@dataclass(frozen=True)
class Node:
    name: str
    cpus: int
    mem_mb: int
    gpus: int


@dataclass(frozen=True)
class Partition:
    name: str
    nodes: tuple[Node, ...]
    max_minutes: int | None  # None = unlimited
    default: bool = False

    def largest(self) -> tuple[int, int, int]:
        """(CPUs, memory MB, GPUs) of the biggest single node in each dimension."""
        return (
            max((n.cpus for n in self.nodes), default=0),
            max((n.mem_mb for n in self.nodes), default=0),
            max((n.gpus for n in self.nodes), default=0),
        )

    def offer(self) -> str:
        cpus, mem, gpus = self.largest()
        limit = "no time limit" if self.max_minutes is None else f"time limit {self.max_minutes} min"
        return f"partition {self.name!r} offers at most {cpus} CPUs, {mem} MB, {gpus} GPUs per node, {limit}"


@dataclass(frozen=True)
class Request:
    rule: str
    cpus: int
    mem_mb: int
    gpus: int
    minutes: int | None
    partition: str | None

    def describe(self) -> str:
        runtime = f", {self.minutes} min" if self.minutes else ""
        return f"{self.cpus} CPUs, {self.mem_mb} MB, {self.gpus} GPUs{runtime}"


def parse_gpus(gres: str) -> int:
    """GPU count of a gres / tres string: ``gpu:8``, ``gpu:a100:4(S:0-1)``, ``gres/gpu=2``, ``gres:gpu:4``, ``(null)``."""
    total = 0
    for item in re.split(r",(?![^(]*\))", gres or ""):
        item = re.sub(r"\(.*\)$", "", item.strip())
        m = re.match(r"^(?:gres[:/])?gpu(?::[^:=]+)?[:=](\d+)$", item) or re.match(
            r"^(?:gres[:/])?gpu$", item
        )
        if m:
            total += int(m.group(1)) if m.groups() else 1
    return total


def parse_minutes(text: str) -> int | None:
    """SLURM time ``infinite``, ``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH[:MM[:SS]]`` -> minutes (None = unlimited)."""
    text = (text or "").strip()
    if not text or text.lower() in ("infinite", "unlimited", "n/a", "none"):
        return None
    days = 0
    if "-" in text:
        d, text = text.split("-", 1)
        days = int(d)
        parts = [int(p) for p in text.split(":")]
        parts += [0] * (3 - len(parts))
        h, m, s = parts
    else:
        parts = [int(p) for p in text.split(":")]
        if len(parts) == 1:
            h, m, s = 0, parts[0], 0
        elif len(parts) == 2:
            h, (m, s) = 0, parts
        else:
            h, m, s = parts
    return days * 1440 + h * 60 + m + (1 if s else 0)


def parse_mem_mb(text: str) -> int:
    m = re.match(r"^(\d+(?:\.\d+)?)([KMGT]?)", (text or "0").strip())
    if not m:
        return 0
    scale = {"K": 1 / 1024, "": 1, "M": 1, "G": 1024, "T": 1024 * 1024}[m.group(2)]
    return int(float(m.group(1)) * scale)


def read_partitions(run=subprocess.run) -> dict[str, Partition]:
    """Partitions and their nodes from ``sinfo`` (one line per node and partition)."""
    proc = run(["sinfo", "-h", "-N", "-o", "%P|%N|%c|%m|%G|%l"], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise ExpoError(f"sinfo failed: {(proc.stderr or proc.stdout).strip().splitlines()[:1]}")
    nodes: dict[str, list[Node]] = {}
    limits: dict[str, int | None] = {}
    default = None
    for line in proc.stdout.splitlines():
        fields = line.strip().split("|")
        if len(fields) != 6:
            continue
        part, name, cpus, mem, gres, limit = fields
        if part.endswith("*"):
            part = part[:-1]
            default = part
        node = Node(name, int(re.sub(r"\D.*", "", cpus) or 0), parse_mem_mb(mem), parse_gpus(gres))
        nodes.setdefault(part, []).append(node)
        limits[part] = parse_minutes(limit)
    return {p: Partition(p, tuple(ns), limits[p], default=(p == default)) for p, ns in nodes.items()}


def _default_partition(partitions: Mapping[str, Partition]) -> Partition | None:
    for p in partitions.values():
        if p.default:
            return p
    return next(iter(partitions.values()), None)


def unschedulable(request: Request, partitions: Mapping[str, Partition]) -> str | None:
    """The one line saying why ``request`` can never run on ``partitions`` (None when some node fits it)."""
    if request.partition:
        names = [p.strip() for p in request.partition.split(",")]
        missing = [n for n in names if n not in partitions]
        if len(missing) == len(names):
            return (
                f"SLURM can never run rule {request.rule}: partition {request.partition!r} does not exist "
                f"(partitions: {', '.join(sorted(partitions))})"
            )
        candidates = [partitions[n] for n in names if n in partitions]
    else:
        default = _default_partition(partitions)
        if default is None:
            return None
        candidates = [default]
    for part in candidates:
        fits_node = any(
            n.cpus >= request.cpus and n.mem_mb >= request.mem_mb and n.gpus >= request.gpus
            for n in part.nodes
        )
        fits_time = part.max_minutes is None or not request.minutes or request.minutes <= part.max_minutes
        if fits_node and fits_time:
            return None
    part = candidates[0]
    return f"SLURM can never run rule {request.rule}: it asks for {request.describe()}; {part.offer()}"


def job_request(job) -> Request:
    """The request a Snakemake job makes to SLURM, as the slurm executor plugin submits it."""
    res = job.resources
    gpus = int(res.get("gpu") or 0) or parse_gpus(str(res.get("gres") or ""))
    cpus = res.get("cpus_per_task") or res.get("_cores") or job.threads or 1
    tasks = res.get("tasks") or 1
    runtime = res.get("runtime")
    return Request(
        rule=job.rule.name,
        cpus=int(cpus) * int(tasks),
        mem_mb=int(res.get("mem_mb") or 0),
        gpus=gpus,
        minutes=int(runtime) if runtime else None,
        partition=res.get("slurm_partition") or None,
    )


def check_jobs(jobs: Iterable, partitions: Mapping[str, Partition] | None = None) -> None:
    """Raise ExpoError with one line for the first non-local job no node of its partition can ever run."""
    if partitions is None:
        partitions = read_partitions()
    for job in jobs:
        if job.is_local:
            continue
        line = unschedulable(job_request(job), partitions)
        if line:
            raise ExpoError(line)


def _rule_of_comment(comment: str) -> str:
    """The plugin's ``--comment rule_<name>_wildcards_<...>`` -> ``<name>``."""
    m = re.match(r"^rule_(.+?)(?:_wildcards_.*)?$", comment or "")
    return m.group(1) if m else (comment or "?")


def pending_verdict(fields: Mapping[str, str], partitions: Mapping[str, Partition]) -> str | None:
    """One line when a pending job (``scontrol -o show job`` fields) can never start, else None."""
    if fields.get("JobState") != "PENDING":
        return None
    reason = fields.get("Reason", "")
    gpus = parse_gpus(fields.get("TresPerJob", "")) or parse_gpus(fields.get("TresPerNode", ""))
    request = Request(
        rule=_rule_of_comment(fields.get("Comment", "")),
        cpus=int(fields.get("NumCPUs", "1").split("-")[0] or 1),
        mem_mb=parse_mem_mb(fields.get("MinMemoryNode") or fields.get("MinMemoryCPU") or "0"),
        gpus=gpus,
        minutes=parse_minutes(fields.get("TimeLimit", "")),
        partition=fields.get("Partition") or None,
    )
    line = unschedulable(request, partitions)
    if line:
        return f"{line} (SLURM job {fields.get('JobId')}, pending: {reason})"
    if reason in NEVER_REASONS:
        part = partitions.get(request.partition or "")
        offer = part.offer() if part else "no such partition"
        return (
            f"SLURM can never run rule {request.rule}: job {fields.get('JobId')} is pending with reason {reason}; "
            f"it asks for {request.describe()}; {offer}"
        )
    if reason.startswith("ReqNodeNotAvail"):
        wanted = fields.get("ReqNodeList") or ""
        known = {n.name for p in partitions.values() for n in p.nodes}
        if wanted and wanted != "(null)" and not set(_expand_simple(wanted)) <= known:
            return (
                f"SLURM can never run rule {request.rule}: job {fields.get('JobId')} requires node(s) {wanted}, "
                f"which do not exist (nodes: {', '.join(sorted(known))})"
            )
    return None


def _expand_simple(nodelist: str) -> list[str]:
    return [n for n in nodelist.split(",") if n]


def list_jobs(run=subprocess.run) -> list[dict[str, str]]:
    proc = run(["scontrol", "-o", "show", "job"], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        return []
    jobs = []
    for line in proc.stdout.splitlines():
        jobs.append(dict(f.split("=", 1) for f in line.split() if "=" in f))
    return jobs


class PendingWatchdog(threading.Thread):
    """Daemon thread of the main Snakemake process: cancels this run's never-schedulable pending jobs."""

    def __init__(
        self, workdir: str, interval: float = 15.0, partitions: Mapping[str, Partition] | None = None
    ):
        super().__init__(name="expo-slurm-watchdog", daemon=True)
        self.workdir = os.path.realpath(workdir)
        self.interval = interval
        self.partitions = partitions
        self.stopped = threading.Event()
        self.cancelled: dict[str, str] = {}

    def poll_once(self) -> None:
        if self.partitions is None:
            self.partitions = read_partitions()
        for fields in list_jobs():
            job_id = fields.get("JobId", "")
            if job_id in self.cancelled or not fields.get("Comment", "").startswith("rule_"):
                continue
            if os.path.realpath(fields.get("WorkDir", "")) != self.workdir:
                continue
            line = pending_verdict(fields, self.partitions)
            if line:
                self.cancelled[job_id] = line
                print(f"expo: error: {line}", file=sys.stderr, flush=True)
                subprocess.run(["scancel", job_id], capture_output=True, timeout=60)

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                self.poll_once()
            except Exception as exc:  # the watchdog must never take the run down itself
                print(f"expo: warning: SLURM pending check failed: {exc}", file=sys.stderr, flush=True)


def sinfo_available() -> bool:
    return shutil.which("sinfo") is not None and shutil.which("scontrol") is not None
