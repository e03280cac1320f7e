"""``python -m expo`` runs the CLI."""

import sys

from expo.cli import main

sys.exit(main())
