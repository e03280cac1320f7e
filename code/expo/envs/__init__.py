"""Per-tool environments: envs/<name>.yaml (conda format) and, without conda, isolated uv venvs built from it.

Use ``ensure_env(name)`` for the Python to run a tool with, ``run_in_env(name, argv)`` to run a command
there, or ``expo run-isolated NAME -- CMD ...`` from a rule. Without a visible CUDA GPU, ``NAME`` means
``envs/NAME_cpu.yaml`` where that exists (vLLM's CPU build, see :mod:`expo.envs.vllm_cpu`).
"""

from expo.envs.isolated import (
    COMPLETE_MARK,
    default_envs_dir,
    ensure_env,
    env_file,
    isolated_environ,
    resolve_name,
    run_in_env,
    unmet_requirements,
    uv_binary,
)
from expo.envs.spec import EnvSpec, read_env_spec

__all__ = [
    "COMPLETE_MARK",
    "EnvSpec",
    "default_envs_dir",
    "ensure_env",
    "env_file",
    "isolated_environ",
    "read_env_spec",
    "resolve_name",
    "run_in_env",
    "unmet_requirements",
    "uv_binary",
]
