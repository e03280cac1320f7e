"""Write one table as CSV, Markdown (.md) and LaTeX (.tex), each file atomically.

CSV keeps full precision without binary float noise (:func:`csv_float`: ``3.8999999999999995`` -> ``3.9``,
``4.686269877502661`` stays); Markdown and LaTeX round floats to two decimals for humans. ``None`` and NaN are written as empty cells. An empty table is never header-only: it gets a ``note``
column and one row saying why nothing is there (the Markdown file also says it under the title).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path

from expo.io.atomic import write_text

LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def is_blank(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


NOISE_DIGITS = 12


def csv_float(value: float) -> str:
    """``repr(value)``, except that a value within float noise of a short decimal is written as that decimal.

    Rounded to 15 significant digits (what a double holds reliably), a noisy result such as 10.6 - 6.7 =
    3.8999999999999995 becomes a decimal of at most 12 significant digits (``3.9``); a genuinely precise
    value (``4.686269877502661``) does not shorten, and is written exactly.
    """
    if not math.isfinite(value):
        return repr(value)
    short = f"{value:.15g}"
    digits = short.split("e")[0].lstrip("-").replace(".", "").strip("0")
    return repr(float(short)) if len(digits) <= NOISE_DIGITS else repr(value)


def csv_cell(value) -> str:
    if is_blank(value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return csv_float(value)
    return str(value)


def display_cell(value, digits: int = 2) -> str:
    if is_blank(value):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def latex_escape(text: str) -> str:
    return "".join(LATEX_SPECIALS.get(ch, ch) for ch in text)


def to_csv(rows: Sequence[dict], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(row.get(c)) for c in columns])
    return buf.getvalue()


def to_markdown(
    rows: Sequence[dict], columns: Sequence[str], title: str | None = None, note: str | None = None
) -> str:
    lines = [f"# {title}", ""] if title else []
    if note:
        lines += [f"*{note}*", ""]
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("|" + "|".join("---" for _ in columns) + "|")
    for row in rows:
        cells = [display_cell(row.get(c)).replace("|", r"\|") for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_latex(rows: Sequence[dict], columns: Sequence[str], caption: str | None = None) -> str:
    spec = "l" + "r" * (len(columns) - 1)
    lines = [r"\begin{table}[t]", r"\centering", r"\small", rf"\begin{{tabular}}{{{spec}}}", r"\toprule"]
    lines.append(" & ".join(latex_escape(c) for c in columns) + r" \\")
    lines.append(r"\midrule")
    for row in rows:
        lines.append(" & ".join(latex_escape(display_cell(row.get(c))) for c in columns) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if caption:
        lines.append(rf"\caption{{{latex_escape(caption)}}}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def with_note(rows: Sequence[dict], columns: Sequence[str], note: str | None) -> tuple[list, list]:
    """(rows, columns) as written: an empty table gets a ``note`` column and one row holding ``note``."""
    if rows:
        return list(rows), list(columns)
    return [{"note": note or "no results"}], [*columns, "note"]


def write_table(
    out_dir: Path,
    name: str,
    rows: Sequence[dict],
    columns: Sequence[str],
    title: str | None = None,
    note: str | None = None,
) -> list[Path]:
    """Write ``out_dir/name.{csv,md,tex}``; return the three paths. ``note``: why the table is empty (used only
    when ``rows`` is empty)."""
    out_dir = Path(out_dir)
    paths = [out_dir / f"{name}.csv", out_dir / f"{name}.md", out_dir / f"{name}.tex"]
    shown_note = None if rows else (note or "no results")
    rows, columns = with_note(rows, columns, note)
    write_text(paths[0], to_csv(rows, columns))
    write_text(paths[1], to_markdown(rows, columns, title, shown_note))
    write_text(paths[2], to_latex(rows, columns, title))
    return paths
