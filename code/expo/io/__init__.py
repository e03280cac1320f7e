"""File input/output helpers: atomic writes, JSON/JSONL readers with line-numbered errors."""
