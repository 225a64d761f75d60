"""Run the payments demo service: ``python examples/payments/app.py --port 8080 --dsn ...``.

Also runs as ``python -m examples.payments.app``. The code lives in the ``payments`` package
beside this file; as a script we put its parent folder on ``sys.path`` first.
"""

import sys
from pathlib import Path

if __package__:
    from .service import main
else:
    # Run as a script: Python put this folder first on sys.path, where our module names
    # (pool, server, ...) could shadow others; the folder holding the package replaces it.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
    from payments.service import main

if __name__ == "__main__":
    sys.exit(main())
