"""Cluster sizing and offline compute jobs (include after common.smk).

- Binds the config for expo.cluster, whose functions the profiles' set-resources expressions call
  (GPUs, memory, CPUs and runtime from pairs.<pair>.size_b and the optional `cluster:` section); a pair
  needing more GPUs than cluster.max_gpus_per_job stops the DAG build with one line naming it.
- Jobs running outside the main Snakemake process (SLURM or any other cluster executor) run offline:
  everything they read was fetched by localrules in the main process.
"""

import os
import sys

import expo.cluster
from expo.errors import ExpoError

try:
    expo.cluster.bind(config)
except ExpoError as exc:
    sys.exit(str(exc))

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}

if workflow.remote_exec:
    os.environ.update(OFFLINE_ENV)
