"""Cluster sizing, offline compute jobs and jobs SLURM can never run (include after common.smk).

- Binds the config for expo.cluster, whose functions the profiles' set-resources expressions call
  (GPUs only for stages that use one, memory, CPUs and runtime from pairs.<pair>.size_b and the optional
  `cluster:` section); a pair needing more GPUs than cluster.max_gpus_per_job, or a tensor parallel size
  that does not divide a local model's attention heads, stops the DAG build with one line naming it.
- Jobs running outside the main Snakemake process (SLURM or any other cluster executor) run offline:
  everything they read was fetched by localrules in the main process; lm-eval's datasets come from the
  project cache (expo.benchmarks.lmeval.datasets) that the localrule fetch_lmeval_data fills.
- With the slurm executor, onstart checks every job's request against its partition (sinfo) and starts a
  watchdog that cancels jobs pending for a reason that never clears: one line, the run fails, no hang.
"""

import os
import sys

import expo.cluster
import expo.cluster.slurm
from expo.benchmarks.lmeval.datasets import export_cache_env
from expo.errors import ExpoError

try:
    expo.cluster.bind(config)
    # tensor parallel sizes against the attention heads of every pair's models already on disk
    expo.cluster.check_pair_tensor_parallel(config)
except ExpoError as exc:
    sys.exit(str(exc))

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}

# lm-eval reads its datasets from the project cache in every job (main process and cluster jobs alike)
export_cache_env(config)

if workflow.remote_exec:
    os.environ.update(OFFLINE_ENV)


def _slurm_onstart():
    """Before the first submission: every job's request against its partition; then the pending watchdog."""
    plugin = workflow.executor_plugin
    if plugin is None or plugin.name != "slurm" or workflow.remote_exec:
        return
    if not expo.cluster.slurm.sinfo_available():
        return
    try:
        partitions = expo.cluster.slurm.read_partitions()
        # EXPO_SLURM_PRECHECK=0 leaves it to the watchdog (tests exercise it that way)
        if os.environ.get("EXPO_SLURM_PRECHECK", "1") != "0":
            expo.cluster.slurm.check_jobs(workflow.dag.needrun_jobs(), partitions)
    except ExpoError as exc:
        print(f"expo: error: {exc}", file=sys.stderr, flush=True)
        # before any submission: release the working directory lock, exit without Snakemake's traceback
        workflow.persistence.unlock()
        os._exit(1)
    interval = float(os.environ.get("EXPO_SLURM_WATCH_SECONDS", "20"))
    expo.cluster.slurm.PendingWatchdog(os.getcwd(), interval, partitions).start()


onstart:
    _slurm_onstart()
