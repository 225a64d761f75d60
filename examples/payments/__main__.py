"""``python -m examples.payments``: run the payments demo service."""

import sys

from .service import main

sys.exit(main())
