"""Fields into an app's own fields: the correspondent and date of a letter, with the values
the letter does not state named.

    python examples/extract.py [FILE]

Spawns `python server.py` through the package's client, loads the bundled model and
prints the extracted data and `not_in_document`. FILE defaults to a letter from Pride and
Prejudice. Runs from any directory, no install.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the package, no install

from mlx_sidecar.client import SidecarClient

ROOT = Path(__file__).resolve().parent.parent
LETTER = ROOT / "bench" / "corpus" / "extract" / "09-pride-and-prejudice-collins-letter.txt"
SCHEMA = {
    "type": "object",
    "properties": {
        "correspondent": {
            "type": ["string", "null"],
            "description": "Who wrote the letter; null when it is not signed.",
        },
        "date": {"type": ["string", "null"], "description": "When it was written, as written."},
    },
    "required": ["correspondent", "date"],
}


def main() -> int:
    text = Path(sys.argv[1] if len(sys.argv) > 1 else LETTER).read_text(encoding="utf-8")
    with SidecarClient() as sidecar:
        sidecar.call({"command": "load-model"}, timeout=300)
        answer = sidecar.extract(text, SCHEMA)
    print(json.dumps(answer["data"], ensure_ascii=False))
    print("not in the document:", answer["not_in_document"] or "none")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
