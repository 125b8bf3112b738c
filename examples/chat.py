"""A chat, as the app's project features use it: research topics held to a JSON list, then
a follow-up turn that re-reads only what is new.

    python examples/chat.py

Spawns `python server.py` through the package's client, loads the bundled model and
prints each answer with how many prompt tokens came from the cache. Runs from any
directory, no install.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the package, no install

from mlx_sidecar.client import SidecarClient

TOPICS = {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 5}


def main() -> int:
    conversation = [
        {"role": "system", "content": "You are a research assistant."},
        {"role": "user", "content": "Suggest research topics on honeybees as a JSON array."},
    ]
    with SidecarClient() as sidecar:
        sidecar.call({"command": "load-model"}, timeout=300)
        first = sidecar.chat(conversation, format=TOPICS, max_tokens=80)
        print("topics:", json.loads(first["response"]))
        conversation += [
            {"role": "assistant", "content": first["response"]},
            {"role": "user", "content": "Which of these matters most to farmers, and why?"},
        ]
        second = sidecar.chat(conversation, max_tokens=60)
        print("answer:", second["response"])
        print(f"cached: {second['cached_tokens']} of {second['prompt_tokens']} prompt tokens")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
