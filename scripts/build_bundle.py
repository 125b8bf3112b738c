#!/usr/bin/env python3
"""Build the one-file bundle: dist/mlx-sidecar.pyz, for apps that ship one resource.

    python scripts/build_bundle.py [--out dist/mlx-sidecar.pyz]
    python dist/mlx-sidecar.pyz            # serves NDJSON, exactly as server.py does

The bundle is a standard-library zipapp of the mlx_sidecar package; it carries no
dependencies, so it runs with a Python that has requirements.txt installed.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import zipapp
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "dist" / "mlx-sidecar.pyz"


def build(out: Path) -> Path:
    """Copy the package's sources (no caches) into a staging folder and zip it."""
    with tempfile.TemporaryDirectory() as staging:
        shutil.copytree(
            ROOT / "mlx_sidecar",
            Path(staging) / "mlx_sidecar",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        (Path(staging) / "__main__.py").write_text(
            "import sys\n\nfrom mlx_sidecar.cli import main\n\nsys.exit(main())\n",
            encoding="utf-8",
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        zipapp.create_archive(staging, out, interpreter="/usr/bin/env python3", compressed=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default {DEFAULT_OUT}")
    print(build(parser.parse_args().out))


if __name__ == "__main__":
    main()
