"""Read a model's lm-eval results folder (``results_lmeval/<model>/*.json``) into one task -> metrics map.

Accepted per file (detected per file): lm-eval 0.4 output (``results_<datetime>.json`` or a per-task copy;
metric keys carry a filter suffix, ``"acc_norm,none"``) and the old harness JSONs the ExPO authors published
(``{"results": {"arc_challenge": {"acc_norm": ...}}}``). Files are read in name order, so among lm-eval's
timestamped ``results_*.json`` the newest wins for a task present in several. Subfolders (``raw/``) are not
read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from expo.errors import ExpoError
from expo.io.records import read_json


@dataclass
class TaskResults:
    """Metrics of every task of one model, with the file each task came from."""

    model: str
    metrics: dict[str, dict] = field(default_factory=dict)
    source: dict[str, Path] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)  # task -> "lm-eval-0.4" | "old-harness"
    group_subtasks: dict[str, list[str]] = field(default_factory=dict)
    n_samples: dict[str, int] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    def has(self, task: str) -> bool:
        return task in self.metrics

    def metric(self, task: str, *keys: str) -> float:
        """The first of ``keys`` that ``task`` reports; ExpoError naming file and task when none is there."""
        values = self.metrics[task]
        for key in keys:
            if key in values:
                value = values[key]
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ExpoError(
                        f"{self.source[task]}: task {task} metric {key} is not a number: {value!r}"
                    )
                return float(value)
        raise ExpoError(
            f"{self.source[task]}: task {task} lacks metric {' / '.join(keys)} (has {', '.join(sorted(values))})"
        )


def detect_format(results: dict) -> str:
    for metrics in results.values():
        if isinstance(metrics, dict) and any("," in k for k in metrics):
            return "lm-eval-0.4"
    return "old-harness"


def read_model_results(model: str, folder: Path) -> TaskResults:
    out = TaskResults(model=model)
    for path in sorted(Path(folder).glob("*.json")):
        data = read_json(path)
        if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
            raise ExpoError(f"{path}: not an lm-eval results file (no 'results' object)")
        fmt = detect_format(data["results"])
        for task, metrics in data["results"].items():
            if not isinstance(metrics, dict):
                raise ExpoError(f"{path}: results of task {task} are not an object")
            out.metrics[task] = metrics
            out.source[task] = path
            out.formats[task] = fmt
        for group, subtasks in (data.get("group_subtasks") or {}).items():
            if isinstance(subtasks, list):
                out.group_subtasks[group] = subtasks
        for task, n in (data.get("n-samples") or {}).items():
            if isinstance(n, dict) and isinstance(n.get("effective", n.get("original")), int):
                out.n_samples[task] = n.get("effective", n.get("original"))
        for key in ("lm_eval_version", "transformers_version"):
            if isinstance(data.get(key), str):
                out.versions[key] = data[key]
        config = data.get("config")
        if isinstance(config, dict) and isinstance(config.get("model"), str):
            out.versions.setdefault("harness_model", config["model"])
    return out


def model_folders(root: Path) -> dict[str, Path]:
    base = Path(root) / "results_lmeval"
    if not base.is_dir():
        return {}
    return {p.name: p for p in sorted(base.iterdir()) if p.is_dir() and any(p.glob("*.json"))}


def read_all(root: Path) -> list[TaskResults]:
    return [read_model_results(model, folder) for model, folder in model_folders(root).items()]
