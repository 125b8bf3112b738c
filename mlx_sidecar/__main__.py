"""``python -m mlx_sidecar`` and the one-file bundle (scripts/build_bundle.py) start here."""

import sys

from mlx_sidecar.cli import main

sys.exit(main())
