"""`python -m adapters.cli ...`: the `policybot` command without the installed script."""
import sys

from . import main

sys.exit(main())
