"""Shared fixtures: a real `python server.py` subprocess driven over NDJSON through the
package's own client (mlx_sidecar.client), with every line checked against the schema."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mlx_sidecar.client import FINAL_TYPES, SERVER, SidecarClient

ROOT = Path(__file__).resolve().parent.parent
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Several test files run at once (scripts/test.sh): one BLAS thread per process, so a
    # worker's timed steps do not wait on another worker's matmuls for a core.
    for variable in ("MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
SCHEMA_PATH = ROOT / "protocol.schema.json"
__all__ = ["FINAL_TYPES", "SERVER", "Sidecar"]


def _validator() -> jsonschema.Draft202012Validator:
    """Every stdout line any test sees is checked against the published schema (which
    must exist: a missing schema fails the suite instead of turning the check off)."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    line_schema = {"$ref": "#/$defs/ServerLine", "$defs": schema["$defs"]}
    return jsonschema.Draft202012Validator(line_schema)


VALIDATOR = _validator()


class Sidecar(SidecarClient):
    """One server process for tests: commands keep the ids the test gives them (none
    added), every line is schema-checked, and stderr is kept in a file."""

    def __init__(self, *args: str, env: dict | None = None, cwd: str | None = None) -> None:
        self.stderr_file = tempfile.NamedTemporaryFile(prefix="sidecar-stderr-", delete=False)  # noqa: SIM115
        super().__init__(
            *args,
            env=env,
            cwd=cwd or str(ROOT),
            stderr=self.stderr_file,
            auto_ids=False,
            on_line=VALIDATOR.validate,
        )

    def read(self, timeout: float = 600) -> dict:
        try:
            return super().read(timeout)
        except EOFError:
            raise EOFError(f"server closed stdout; stderr:\n{self.stderr()[-3000:]}") from None

    def answer(self, obj: Any, timeout: float = 600) -> dict:
        """The final line of one command, a response or an error."""
        return self.request(obj, timeout)[1]

    def ok(self, obj: Any, timeout: float = 600) -> dict:
        """The response to one command; the test fails on an error line."""
        line = self.answer(obj, timeout)
        assert line["type"] == "response", line
        return line

    def stderr(self) -> str:
        return Path(self.stderr_file.name).read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        self.close()
        os.unlink(self.stderr_file.name)


@pytest.fixture(scope="module")
def sidecar():
    """A server without a model, shared by one test module."""
    s = Sidecar()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def loaded():
    """A server with the bundled SmolLM2 loaded, shared by one test module."""
    s = Sidecar()
    s.ok({"command": "load-model"}, timeout=300)
    yield s
    s.stop()


@pytest.fixture(scope="session")
def mlx_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled GGUF written out as an MLX model folder (config.json + safetensors), by
    ``--export-mlx DIR --model GGUF``."""
    from mlx_sidecar.models import bundled_model_path

    dest = tmp_path_factory.mktemp("smollm2-mlx")
    gguf = bundled_model_path()
    subprocess.run(
        [sys.executable, str(SERVER), "--export-mlx", str(dest), "--model", str(gguf)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return dest


DOCUMENT = (
    "The Apollo 11 mission landed the first humans on the Moon on 20 July 1969. "
    "Neil Armstrong and Buzz Aldrin spent about two and a quarter hours outside the "
    "lunar module, collecting samples and setting up experiments, while Michael Collins "
    "orbited above in the command module. The mission fulfilled a goal set by President "
    "John F. Kennedy in 1961 and ended the Space Race between the United States and the "
    "Soviet Union."
)


@pytest.fixture(scope="session")
def family_folders(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Build a tiny random-weight MLX folder of a family on first use (tests/families.py)."""
    from families import FAMILIES, build

    root = tmp_path_factory.mktemp("families")
    built: dict = {}

    def get(name: str) -> Any:
        if name not in built:
            built[name] = build(FAMILIES[name], root / name)
        return built[name]

    return get


LONG_TEXT = (ROOT / "bench" / "corpus" / "18-debian-backup.txt").read_text(encoding="utf-8")[
    :5000
]  # ~1,150-1,300 tokens: two chunks in a 1,024-token context


@pytest.fixture(scope="session")
def short_context_folder(family_folders, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Mistral folder with a 1,024-token context: LONG_TEXT is read in two
    chunks there, on any backend, in seconds (random weights: bookkeeping, not prose)."""
    return with_context(
        family_folders("mistral").path, tmp_path_factory.mktemp("short-context"), 1024
    )


def with_context(source: Path, folder: Path, tokens: int) -> Path:
    """An MLX folder like ``source`` (its files linked) whose config declares ``tokens``
    of context."""
    for path in source.iterdir():
        if path.name != "config.json":
            (folder / path.name).symlink_to(path)
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    config["max_position_embeddings"] = tokens
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def tag_grammar(built: Any) -> Any:
    """The tags grammar (grammar.TagGrammar) on a built family folder's real tokenizer, with
    no weights loaded: what the grammar tests need."""
    from mlx_lm.utils import load_tokenizer

    from mlx_sidecar.grammar import TagGrammar
    from mlx_sidecar.models import Model

    tokenizer = load_tokenizer(built.path, eos_token_ids=built.family.config["eos_token_id"])
    model = Model(None, tokenizer, "x", "", "mlx", "x", 0, None, None, None, "quantized")
    return TagGrammar(model)
