"""``python -m coursekit doctor``: check this environment for the course."""

import sys

from coursekit.doctor import main

sys.exit(main())
