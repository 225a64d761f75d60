"""``python -m examples.notes --port 8080 --dsn ...``: run the notes service."""

import sys

from .service import main

sys.exit(main())
