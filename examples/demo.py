"""The main job, as an app runs it: load the bundled model, tag and summarize a text.

    python examples/demo.py [FILE]

Spawns `python server.py`, sends NDJSON commands on its stdin and prints every line
it answers with, exactly as the app reads them. FILE defaults to a Python HOWTO page.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEXT = ROOT / "bench" / "corpus" / "14-python-whetting-your-appetite.txt"


def main() -> int:
    text = Path(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_TEXT).read_text(encoding="utf-8")
    commands = [
        {"command": "check-availability", "id": 1},
        {"command": "load-model", "id": 2},
        {"command": "generate-tags", "id": 3, "content": text},
        {"command": "summarize", "id": 4, "content": text},
        {"command": "shutdown", "id": 5},
    ]
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "server.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    for command in commands:
        shown = (
            {**command, "content": command["content"][:60] + "..."}
            if "content" in command
            else command
        )
        print(">>", json.dumps(shown, ensure_ascii=False), flush=True)
        proc.stdin.write(json.dumps(command).encode() + b"\n")
        proc.stdin.flush()
        while True:
            line = proc.stdout.readline()
            if not line:
                break
            print(line.decode().rstrip("\n"), flush=True)
            if json.loads(line)["type"] in ("response", "error"):
                break
    return proc.wait(timeout=60)


if __name__ == "__main__":
    sys.exit(main())
