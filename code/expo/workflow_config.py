"""Pipeline config semantics shared by the DAG (workflow/rules/common.smk) and the CLI.

The JSON schema (workflow/schemas/config.schema.yaml) checks shapes; this module turns schema errors into
one line naming the pair and field, checks what a schema cannot (model references, alpha spellings), and
answers the DAG's questions: which alphas to sweep for a pair, where its models live on disk.
"""

from __future__ import annotations

from pathlib import Path

from expo.errors import ExpoError
from expo.naming import ModelRef, canonical_alpha, parse_model_ref


def schema_error_line(error) -> str:
    """One line for a jsonschema ValidationError: ``pairs.<pair>.<field>: <message>``."""
    where = ".".join(str(p) for p in error.absolute_path) or "<top level>"
    message = error.message.splitlines()[0]
    if len(message) > 200:
        message = message[:200] + "…"
    return f"config error at {where}: {message}"


def check_config(config: dict) -> None:
    """Checks beyond the schema: parseable model refs, no alpha listed twice once canonical."""
    for pair, entry in config["pairs"].items():
        for role in ("sft", "aligned"):
            try:
                parse_model_ref(entry[role])
            except ExpoError as exc:
                raise ExpoError(f"config error at pairs.{pair}.{role}: {exc}") from None
        grid = entry.get("alpha_grid", config.get("alpha_grid", []))
        spelled = [canonical_alpha(a) for a in grid]
        if len(set(spelled)) != len(spelled):
            raise ExpoError(f"config error at pairs.{pair}.alpha_grid: duplicate alpha values {grid}")
        if entry.get("sft") == entry.get("aligned"):
            raise ExpoError(
                f"config error at pairs.{pair}: sft and aligned are the same model {entry['sft']!r}"
            )
    try:
        parse_model_ref(config["reward_model"])
    except ExpoError as exc:
        raise ExpoError(f"config error at reward_model: {exc}") from None


def sweep_alphas(config: dict, pair: str) -> list[str]:
    """Canonical alphas (> 0) whose models the DAG builds for ``pair``, sorted numerically."""
    entry = config["pairs"][pair]
    if config.get("alpha_selection", "sweep") == "published":
        values = [entry["alpha"]]
    else:
        values = entry.get("alpha_grid", config["alpha_grid"])
    return sorted({canonical_alpha(a) for a in values}, key=float)


def model_ref(config: dict, pair: str, role: str) -> ModelRef:
    return parse_model_ref(config["pairs"][pair][role])


def model_local_dir(config: dict, ref: str) -> Path:
    return parse_model_ref(ref).local_dir(config.get("models_dir", "resources/models"))


def hub_downloads(config: dict) -> dict[str, ModelRef]:
    """``{local download dir: ModelRef}`` for every hub model the config names (pairs and reward model)."""
    refs = [config["reward_model"]]
    for entry in config["pairs"].values():
        refs += [entry["sft"], entry["aligned"]]
    out: dict[str, ModelRef] = {}
    for raw in refs:
        ref = parse_model_ref(raw)
        if ref.is_hub:
            out[str(ref.local_dir(config.get("models_dir", "resources/models")))] = ref
    return out
