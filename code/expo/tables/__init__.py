"""Paper tables from raw benchmark results (ours and the authors'), side by side with the published numbers.

One reader per benchmark (``alpaca``, ``mt_bench``, ``open_llm``, ``open_llm_v2``), the selection reader
(``selection``), the published numbers (``published``), the paper views (``views``), provenance
(``provenance``), the table writer (``writer``), plots (``plots``) and the orchestration (``build``).
"""
