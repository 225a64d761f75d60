"""Run the notes example service: ``python examples/notes/app.py --port 8080 --dsn ...``.

Also runs as ``python -m examples.notes``. The code lives in the ``examples.notes`` package
(it shares the server, pool and retry policies of ``examples.payments``); as a script we put
the repository root first on ``sys.path`` so that both packages import.
"""

import sys
from pathlib import Path

if __package__:
    from .service import main
else:
    # Run as a script: Python put this folder first on sys.path, where our module names
    # (api, store, ...) could shadow others; the repository root replaces it.
    sys.path[0] = str(Path(__file__).resolve().parents[2])
    from examples.notes.service import main

if __name__ == "__main__":
    sys.exit(main())
