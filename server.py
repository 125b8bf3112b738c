#!/usr/bin/env python3
"""mlx-sidecar's entry point: ``python /any/path/server.py`` serves NDJSON on stdin/stdout.

The app spawns this file with no install, from any working directory, so the package
beside it is put on the import path first. Everything else lives in mlx_sidecar/
(docs/architecture.md).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mlx_sidecar.cli import main

if __name__ == "__main__":
    sys.exit(main())
