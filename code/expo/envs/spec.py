"""Read a tool environment file envs/<name>.yaml (conda format) into the pins an isolated venv is built from.

A file has conda ``dependencies`` (``python=3.11``, ``pip``) and a ``pip:`` list of requirement strings;
``-e <path>`` entries (paths relative to the file, as conda's pip step resolves them) install a local
project editable. The same file serves ``snakemake --sdm conda`` and :mod:`expo.envs.isolated`.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from expo.errors import ExpoError


@dataclass(frozen=True)
class EnvSpec:
    name: str
    path: Path
    python: str | None  # conda-style version constraint from `python=3.11` / `python>=3.10`, or None
    requirements: tuple[str, ...]  # pip requirement strings, as written
    editables: tuple[Path, ...] = field(default=())  # absolute paths of `-e` entries

    def parsed_requirements(self) -> list[Requirement]:
        return [Requirement(r) for r in self.requirements]

    def digest(self) -> str:
        """Hash of everything that defines the environment: the pins, editables and the interpreter."""
        payload = {
            "python": self.python,
            "interpreter": f"{sys.version_info.major}.{sys.version_info.minor}",
            "requirements": sorted(self.requirements),
            "editables": sorted(str(p) for p in self.editables),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


def _python_constraint(entry: str, where: str) -> str | None:
    rest = entry.strip()[len("python") :].strip()
    if not rest:
        return None
    if rest[0] == "=" and not rest.startswith("=="):
        rest = "==" + rest[1:] + (".*" if rest[1:].count(".") < 2 and not rest.endswith("*") else "")
    try:
        SpecifierSet(rest)
    except InvalidSpecifier:
        raise ExpoError(f"{where}: cannot read the python version {entry!r}") from None
    return rest


def read_env_spec(path: str | Path) -> EnvSpec:
    """Parse envs/<name>.yaml; every problem is one line naming the file and the entry."""
    path = Path(path)
    if not path.is_file():
        raise ExpoError(f"environment file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ExpoError(f"{path}{line}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict) or not isinstance(data.get("dependencies"), list):
        raise ExpoError(f"{path}: expected a conda environment file with a `dependencies:` list")
    python = None
    pip_entries: list[str] = []
    for dep in data["dependencies"]:
        if isinstance(dep, str):
            if dep.split("=")[0].split(">")[0].split("<")[0].strip() == "python":
                python = _python_constraint(dep, str(path))
        elif isinstance(dep, dict) and set(dep) == {"pip"} and isinstance(dep["pip"], list):
            pip_entries += [str(e) for e in dep["pip"]]
        else:
            raise ExpoError(f"{path}: unexpected dependency entry {dep!r}")
    requirements: list[str] = []
    editables: list[Path] = []
    for entry in pip_entries:
        entry = entry.strip()
        for flag in ("-e ", "--editable ", "--editable="):
            if entry.startswith(flag):
                editables.append((path.parent / entry[len(flag) :].strip()).resolve())
                break
        else:
            try:
                Requirement(entry)
            except InvalidRequirement as exc:
                raise ExpoError(f"{path}: pip entry {entry!r} is not a requirement ({exc})") from None
            requirements.append(entry)
    return EnvSpec(
        name=path.stem,
        path=path,
        python=python,
        requirements=tuple(requirements),
        editables=tuple(editables),
    )
