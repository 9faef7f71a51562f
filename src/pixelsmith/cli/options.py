"""Click options shared by several commands (kept free of heavy imports: ``--help`` is fast)."""

from __future__ import annotations

import click

quiet_option = click.option(
    "-q", "--quiet", is_flag=True,
    help="No progress bars and no line per output; errors, notes and warnings still show.",
)
skip_existing_option = click.option(
    "--skip-existing", is_flag=True,
    help="Leave outputs that already exist (resume an interrupted folder; outputs appear only "
         "once complete).",
)
