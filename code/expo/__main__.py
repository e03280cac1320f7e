"""``python -m expo`` runs the CLI (guarded: vLLM's engine processes start with spawn and re-import __main__)."""

import sys

from expo.cli import main

if __name__ == "__main__":
    sys.exit(main())
