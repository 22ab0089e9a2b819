"""``python -m poseclf`` runs the command line."""

from .cli import console

raise SystemExit(console())
