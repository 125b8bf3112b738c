"""The main job, as an app runs it: load the bundled model, tag and summarize a text.

    python examples/demo.py [FILE]

Spawns `python server.py` through the package's client (mlx_sidecar.client), sends
NDJSON commands on its stdin and prints every line it answers with, exactly as the app
reads them. FILE defaults to a Python HOWTO page. Runs from any directory, no install.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the package, no install

from mlx_sidecar.client import SidecarClient

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEXT = ROOT / "bench" / "corpus" / "14-python-whetting-your-appetite.txt"
COMMAND_TIMEOUT_S = 3600.0  # a long FILE on a small CPU takes minutes


def main() -> int:
    text = Path(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_TEXT).read_text(encoding="utf-8")
    commands = [
        {"command": "check-availability", "id": 1},
        {"command": "load-model", "id": 2},
        {"command": "generate-tags", "id": 3, "content": text},
        {"command": "summarize", "id": 4, "content": text},
        {"command": "shutdown", "id": 5},
    ]
    # stderr=None: the sidecar's logs go to this terminal, as when the app spawns it.
    with SidecarClient(stderr=None) as sidecar:
        shown_lines = 0  # sidecar.raw_lines printed so far
        for command in commands:
            shown = (
                {**command, "content": command["content"][:60] + "..."}
                if "content" in command
                else command
            )
            print(">>", json.dumps(shown, ensure_ascii=False), flush=True)
            try:
                sidecar.request(command, COMMAND_TIMEOUT_S)
            except EOFError:
                break  # the sidecar exited: its lines so far are printed below
            finally:
                # Every line read, as the sidecar wrote it (raw_lines keeps them in order).
                for raw in sidecar.raw_lines[shown_lines : len(sidecar.lines)]:
                    print(raw.decode("utf-8").rstrip("\n"), flush=True)
                shown_lines = len(sidecar.lines)
        return sidecar.proc.wait(timeout=60)


if __name__ == "__main__":
    sys.exit(main())
