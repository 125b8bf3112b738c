"""The command line: ``python server.py [options]``, ``mlx-sidecar``, ``python -m mlx_sidecar``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from .errors import ClientGone, Interrupted
from .loop import MAX_TIMEOUT_S, serve
from .platform import BLAS_ENV
from .session import Session
from .wire import MAX_LINE_BYTES, ProtocolWriter, Signals, take_over_stdin, take_over_stdout

log = logging.getLogger("mlx_sidecar")

REQUEST_TIMEOUT_ENV = "MLX_SIDECAR_REQUEST_TIMEOUT"
LOG_LEVEL_ENV = "MLX_SIDECAR_LOG_LEVEL"
DESCRIPTION = """\
mlx-sidecar: a local-LLM sidecar that tags and summarizes documents with MLX.

A desktop app spawns it and talks NDJSON: one JSON command per line on stdin, one JSON
line per response (and per opted-in progress event) on stdout. Logs go to stderr.

Example:  echo '{"command":"check-availability"}' | python server.py"""
EPILOG = (
    "Protocol: write one JSON object per line to stdin, e.g. "
    '{"command": "load-model"} then {"command": "summarize", "content": "..."}; '
    'read one JSON line per answer on stdout ({"type": "response"|"error"|'
    '"progress", "command": ...}). An optional "id" is echoed. Logs go to stderr. '
    "Commands run one at a time, in order, while stdin keeps being read: "
    '{"command": "cancel", "request_id": ID} answers at once and ends the command whose '
    '"id" is ID (running or queued) with an error line of code "cancelled"; "timeout_s" '
    'on any command sets its deadline (error code "timeout"); shutdown cancels what runs, '
    "then exits 0; EOF finishes what was received, then exits 0. A second download-model "
    'into a folder that is being downloaded into gets code "busy". '
    "See docs/protocol.md for every command."
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mlx-sidecar",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--log-level",
        default=os.environ.get(LOG_LEVEL_ENV, "WARNING"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        type=str.upper,
        help=f"stderr logging level (env {LOG_LEVEL_ENV}; default WARNING)",
    )
    parser.add_argument(
        "--blas",
        default=os.environ.get(BLAS_ENV),
        help=f"CPU only: path of an optimized CBLAS library to load, or 'off' (env {BLAS_ENV}; "
        "default: the mkl wheel's MKL, else the first of MKL/OpenBLAS/BLIS found)",
    )
    parser.add_argument(
        "--weights",
        default="auto",
        choices=["auto", "quantized", "float32"],
        help="weight layout in memory: auto = float32 on CPU, quantized on GPU",
    )
    parser.add_argument(
        "--export-mlx",
        metavar="DIR",
        help="write the bundled GGUF (or --model) as an MLX model folder to DIR, then exit",
    )
    parser.add_argument("--model", help="with --export-mlx: the .gguf file to convert")
    parser.add_argument(
        "--max-line-bytes",
        type=positive_int,
        default=MAX_LINE_BYTES,
        help=f"longest accepted command line in bytes (default {MAX_LINE_BYTES}); "
        "a longer line gets a line_too_long error",
    )
    parser.add_argument(
        "--request-timeout",
        metavar="SECONDS",
        type=positive_seconds,
        default=env_seconds(REQUEST_TIMEOUT_ENV),
        help=f"default deadline of generate-tags and summarize (env {REQUEST_TIMEOUT_ENV}; "
        "default none): at it the command ends with a timeout error line, its work so far "
        "kept. Set it a few seconds below your client's own timeout",
    )
    args = parser.parse_args(argv)
    export = Path(args.export_mlx).expanduser() if args.export_mlx else None
    if export is not None and export.exists() and not export.is_dir():
        parser.error(f"--export-mlx {args.export_mlx} is a file; give a folder")
    return args


def positive_seconds(text: str) -> float:
    value = float(text)
    if not 0 < value <= MAX_TIMEOUT_S:
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds above 0 and at most {MAX_TIMEOUT_S:,}, not {text}"
        )
    return value


def env_seconds(name: str) -> float | None:
    """A deadline from the environment; unset or empty means none. A bad value is an error."""
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        return positive_seconds(text)
    except (ValueError, argparse.ArgumentTypeError):
        sys.exit(f"mlx-sidecar: {name}={text!r} is not a number of seconds above 0")


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def export_mlx(args: argparse.Namespace, session: Session) -> int:
    """--export-mlx: the GGUF as an MLX folder (the same model in both formats, for tests)."""
    from .models import bundled_model_path
    from .models.gguf import export_mlx_folder

    session.platform.require_mlx()
    source = Path(args.model) if args.model else bundled_model_path()
    weights = "quantized" if args.weights == "auto" else args.weights
    print(json.dumps(export_mlx_folder(source, Path(args.export_mlx), weights)))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Serve the protocol on stdin/stdout. Exit codes: 0 after shutdown, EOF on stdin, or
    the app closing stdout; 128 + the signal number when stopped by a signal (SIGINT 130,
    SIGTERM 143, SIGHUP 129)."""
    args = parse_args(argv)
    session = Session(weights_request=args.weights)
    session.platform.blas_request = args.blas
    if args.export_mlx:
        return export_mlx(args, session)
    signals = Signals()
    signals.install()
    protocol_in, protocol_out = take_over_stdin(), take_over_stdout()
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    writer = ProtocolWriter(protocol_out, signals)
    try:
        return serve(session, protocol_in, writer, args.max_line_bytes, args.request_timeout)
    except ClientGone:
        log.warning("the app closed stdout; exiting")
        return 0
    except Interrupted as e:
        log.warning("stopped by %s; exiting", e)
        return 128 + e.signum
