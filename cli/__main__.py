"""`python -m cli ...` is `payable ...` (how tests and the demo start processes from a checkout)."""

from .main import main

raise SystemExit(main())
