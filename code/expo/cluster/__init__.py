"""Cluster sizing: per-job GPUs, memory, CPUs and runtime derived from each pair's size (see ``resources``).

Profiles reference these functions from ``set-resources`` expressions, e.g.
``gpu: "__import__('expo.cluster').cluster.gpus(wildcards)"``; workflow/rules/resources.smk binds the
workflow config with :func:`bind` at DAG build.
"""

from expo.cluster.resources import (
    DEFAULT_REWARD_SIZE_B,
    bind,
    bound_config,
    check_cluster_config,
    cpus,
    cpus_for,
    default_gpus,
    gpu_mem_mb,
    gpu_mem_mb_for,
    gpus,
    gpus_for,
    mem_mb,
    mem_mb_for,
    pair_of,
    runtime,
    runtime_for,
    size_b,
    size_b_for,
)

__all__ = [
    "DEFAULT_REWARD_SIZE_B",
    "bind",
    "bound_config",
    "check_cluster_config",
    "cpus",
    "cpus_for",
    "default_gpus",
    "gpu_mem_mb",
    "gpu_mem_mb_for",
    "gpus",
    "gpus_for",
    "mem_mb",
    "mem_mb_for",
    "pair_of",
    "runtime",
    "runtime_for",
    "size_b",
    "size_b_for",
]
