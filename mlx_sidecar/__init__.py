"""mlx-sidecar: a local-LLM sidecar that tags and summarizes documents with MLX.

A desktop app spawns ``python server.py`` (or ``mlx-sidecar``) and talks NDJSON on its
stdin and stdout. docs/architecture.md maps the modules; docs/protocol.md is the protocol.
"""

__version__ = "0.2.0"
# 1.0 is the original protocol; later versions only add fields, opt-in lines and
# commands (1.1: progress, streaming, download-model; 1.2: cancel, timeout_s; 1.3: chat,
# extract, the app's audio commands answered unsupported).
PROTOCOL_VERSION = "1.3"
