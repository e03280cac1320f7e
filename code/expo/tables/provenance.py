"""Provenance table for the report: per model, where its numbers come from.

Per model (every model seen in any benchmark table or selection): pair, alpha, how alpha was chosen, the
sampling parameters, the AlpacaEval annotator and MT-Bench judge, and package versions. Read from what is on
disk, each optional (missing -> blank):

* ``models/<id>/expo_provenance.json`` (written by ``expo extrapolate``): precision, expo version;
* ``outputs_alpaca/<id>.provenance.json`` or ``outputs_ultrafeedback/<id>.provenance.json``: a
  ``sampling`` / ``sampling_params`` object and ``versions``;
* the AlpacaEval annotations (``annotator``), the MT-Bench judgment file (``judge``), the lm-eval results
  (``lm_eval_version``, ``transformers_version``), ``selection/<pair>.json`` (chosen alpha).
"""

from __future__ import annotations

import json
from pathlib import Path

from expo.io.records import read_json
from expo.naming import model_id
from expo.tables.published import Published
from expo.tables.selection import Selection
from expo.tables.views import Key, key_of

COLUMNS = [
    "model",
    "result_names",
    "pair",
    "alpha",
    "alpha_source",
    "precision",
    "sampling",
    "alpaca_annotator",
    "mt_bench_judge",
    "versions",
    "sources",
]


def _compact(obj) -> str | None:
    if not obj:
        return None
    if isinstance(obj, dict):
        return "; ".join(f"{k}={v}" for k, v in sorted(obj.items()))
    return json.dumps(obj, sort_keys=True)


def provenance_view(
    root: Path,
    names: dict[Key, set[str]],
    published: Published,
    selections: dict[str, Selection],
    judges: dict[Key, dict[str, str]],
    versions: dict[Key, dict[str, str]],
) -> list[dict]:
    """One row per model key; ``names`` are the result names seen for it, ``judges``/``versions`` per key."""
    root = Path(root)
    rows = []
    for key in sorted(names, key=lambda k: (k[0], float(k[1]) if k[0] != "model:" else 0.0, k[1])):
        pair, alpha = (None, None) if key[0] == "model:" else key
        ident = model_id(pair, alpha) if pair else key[1]
        candidates = [ident, *sorted(names[key] - {ident})]
        sources, sampling, pkg = [], None, dict(versions.get(key, {}))
        precision = None
        for name in candidates:
            prov = root / "models" / name / "expo_provenance.json"
            if prov.is_file():
                data = read_json(prov)
                precision = data.get("precision", precision)
                if data.get("expo_version"):
                    pkg["expo"] = data["expo_version"]
                sources.append(str(prov.relative_to(root)))
            for folder in ("outputs_alpaca", "outputs_ultrafeedback"):
                side = root / folder / f"{name}.provenance.json"
                if side.is_file():
                    data = read_json(side)
                    sampling = sampling or data.get("sampling") or data.get("sampling_params")
                    pkg.update(data.get("versions") or {})
                    sources.append(str(side.relative_to(root)))
        alpha_source = None
        if pair is not None:
            sel = selections.get(pair)
            if float(alpha) == 0.0:
                alpha_source = "aligned model"
            elif sel is not None and sel.chosen_alpha == alpha:
                alpha_source = "selection"
                sources.append(str(sel.path))
            elif published.published_alpha(pair) == alpha:
                alpha_source = "published"
        judge = judges.get(key, {})
        rows.append(
            {
                "model": ident,
                "result_names": ", ".join(sorted(names[key])),
                "pair": pair,
                "alpha": alpha,
                "alpha_source": alpha_source,
                "precision": precision,
                "sampling": _compact(sampling),
                "alpaca_annotator": judge.get("alpaca"),
                "mt_bench_judge": judge.get("mt_bench"),
                "versions": _compact(pkg),
                "sources": "; ".join(sources) or None,
            }
        )
    return rows


def collect_names(tables: dict[str, list[dict]], selections: dict[str, Selection], published: Published):
    names: dict[Key, set[str]] = {}
    for rows in tables.values():
        for row in rows:
            names.setdefault(key_of(row["model"], published), set()).add(row["model"])
    for pair, sel in selections.items():
        for alpha in ["0.0"] + ([sel.chosen_alpha] if sel.chosen_alpha else []):
            names.setdefault((pair, alpha), set()).add(model_id(pair, alpha))
    return names
