"""Registry of CLI subcommands.

Every module in this package that defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int | None`` is a subcommand of ``expo``. Modules are discovered, so adding a
subcommand is adding a file.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def discover() -> dict[str, ModuleType]:
    """Return ``{subcommand name: module}`` for every command module in this package."""
    commands: dict[str, ModuleType] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        name = getattr(module, "NAME", None)
        if name is None:
            continue
        if name in commands:
            raise RuntimeError(f"duplicate subcommand {name!r} in {module.__name__}")
        commands[name] = module
    return commands
