"""``python -m taskfleet`` runs the command line."""

from taskfleet.cli.main import main

main()
