"""``python -m pixelsmith`` runs the command line."""

from pixelsmith.cli.main import main

main()
