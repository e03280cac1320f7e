"""Write one table as CSV, Markdown (.md) and LaTeX (.tex), each file atomically.

CSV keeps full float precision (``repr``) so numbers can be compared exactly; Markdown and LaTeX round
floats to two decimals. ``None`` and NaN are written as empty cells.
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


def csv_cell(value) -> str:
    if is_blank(value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
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


def to_markdown(rows: Sequence[dict], columns: Sequence[str], title: str | None = None) -> str:
    lines = [f"# {title}", ""] if title else []
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


def write_table(
    out_dir: Path, name: str, rows: Sequence[dict], columns: Sequence[str], title: str | None = None
) -> list[Path]:
    """Write ``out_dir/name.{csv,md,tex}``; return the three paths."""
    out_dir = Path(out_dir)
    paths = [out_dir / f"{name}.csv", out_dir / f"{name}.md", out_dir / f"{name}.tex"]
    write_text(paths[0], to_csv(rows, columns))
    write_text(paths[1], to_markdown(rows, columns, title))
    write_text(paths[2], to_latex(rows, columns, title))
    return paths
