"""``python -m kxt_middleware`` runs the ``kxt`` command."""

from .cli import main

raise SystemExit(main())
