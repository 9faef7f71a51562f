"""``python -m pixelsmith`` runs the command line."""

from pixelsmith.cli import main

main()
