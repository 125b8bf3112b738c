"""download-model: an MLX model from the Hugging Face Hub into a folder, resumable.

It leaves the same result as huggingface_hub's snapshot_download(repo_id, revision=...,
allow_patterns=..., local_dir=destination): the same files at the same paths. It runs its
own per-file loop over the Hub's file API (hub.py) because snapshot_download cannot be
trusted with gigabytes: when a call fails it deletes its partial file, so a restart begins
again at zero; and when the Hub cannot be reached it returns a non-empty local_dir as if
the download had succeeded.

The steps: (1) resolve the revision to one commit and list that commit's files with their
sizes, so the total and the free-space check come before any byte; (2) write
DOWNLOAD_MARKER, which makes load-model refuse the folder; (3) for each file, continue
destination/.mlx-sidecar-partial/<path>.part with an HTTP Range request, check it against
the Hub's checksum, fsync it and rename it into place; (4) remove the marker. Only then is
the answer success. A cancel or a deadline stops it at the next MiB; the .part stays.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..context import Emit, RequestContext
from ..errors import InvalidParams, LoadFailed, SidecarError
from ..models import DOWNLOAD_MARKER, check_model_folder
from ..validate import optional_str, require_folder, require_repo_id
from . import hub
from .hub import RemoteFile

log = logging.getLogger(__name__)

# mlx-lm's own DEFAULT_ALLOW_PATTERNS (mlx_lm/utils.py) without "*.py": the sidecar never
# runs a repo's code. Configs, tokenizer files, chat templates and model*.safetensors (the
# only weights mlx-lm loads); *.bin, *.pt, *.pth, *.gguf, ONNX and consolidated.* copies
# of the weights stay on the Hub.
ALLOW_PATTERNS = (
    "*.json",
    "model*.safetensors",
    "tokenizer.model",
    "*.tiktoken",
    "tiktoken.model",
    "*.txt",
    "*.jsonl",
    "*.jinja",
)
DOWNLOAD_LOCK = ".mlx-sidecar-download.lock"  # held (flock) by the one download into a folder
PARTIAL_DIR = ".mlx-sidecar-partial"  # inside destination: same disk, so renames are atomic
HASH_READ_BYTES = 1024 * 1024
PROGRESS_INTERVAL_S = 0.25  # at most four progress lines a second
MB = 1_000_000  # sizes in protocol lines are decimal megabytes, as the Hub shows them


@dataclass
class DownloadPlan:
    repo_id: str
    revision: str
    commit: str
    destination: Path
    files: list[RemoteFile]

    @property
    def total(self) -> int:
        return sum(f.size for f in self.files)

    def target(self, f: RemoteFile) -> Path:
        return self.destination.joinpath(*f.path.split("/"))

    def partial(self, f: RemoteFile) -> Path:
        path = self.destination.joinpath(PARTIAL_DIR, *f.path.split("/"))
        return path.with_name(path.name + ".part")


@dataclass
class DownloadProgress:
    """Progress lines from the bytes on disk: at most a few a second, never going back."""

    emit: Emit
    total: int
    done: int = 0  # bytes of the files already complete
    shown: int = 0  # the most bytes reported so far
    file: str | None = None
    last_time: float = 0.0

    def update(self, file_bytes: int = 0, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_time < PROGRESS_INTERVAL_S:
            return
        self.last_time = now
        self.shown = max(self.shown, min(self.done + file_bytes, self.total))
        line = {
            "type": "progress",
            "command": "download-model",
            "progress": percent(self.shown, self.total),
            "downloaded_mb": round(self.shown / MB, 1),
            "total_mb": round(self.total / MB, 1),
        }
        if self.file is not None:
            line["file"] = self.file
        self.emit(line)


def percent(part: int, total: int) -> float:
    """Rounded down to 0.1, so 100 means every byte is there."""
    return math.floor(1000 * part / total) / 10 if total else 100.0


def download_model(req: dict, ctx: RequestContext) -> dict:
    repo_id = require_repo_id(req)
    revision = optional_str(req, "revision")
    if revision is not None and not revision.strip():
        raise InvalidParams("'revision' must be a branch, tag or commit, not an empty string.")
    patterns = require_patterns(req)  # None: the defaults, which must find MLX weights
    destination = require_folder(req, "destination")
    with hub.hub_errors(repo_id, revision or "main", destination):
        if hub.is_offline():
            return offline_answer(repo_id, destination)
        with download_lock(destination):
            plan = plan_download(repo_id, revision or "main", patterns, destination)
            prepare_destination(destination)
            todo = [f for f in plan.files if not is_complete(plan.target(f), f)]
            check_free_space(plan, todo)
            write_marker(plan)
            progress = DownloadProgress(
                ctx.emit, plan.total, done=plan.total - sum(f.size for f in todo)
            )
            progress.update(force=True)
            for f in todo:
                download_file(plan, f, progress, ctx)
            shutil.rmtree(destination / PARTIAL_DIR, ignore_errors=True)
            (destination / DOWNLOAD_MARKER).unlink()
            progress.file = None
            progress.update(force=True)
    log.info("downloaded %s@%s into %s", repo_id, plan.commit[:12], destination)
    return download_answer(repo_id, plan.commit, destination, [f.path for f in plan.files])


@contextlib.contextmanager
def download_lock(dest: Path) -> Iterator[None]:
    """One download per folder, across processes: a second gets `busy` and touches nothing.

    The lock is an flock on DOWNLOAD_LOCK inside the folder (filelock), held for the whole
    download; the OS drops it when the holder exits, however it exits. Its file is removed
    afterwards, so a finished folder holds only the model.
    """
    from filelock import FileLock, Timeout

    path = dest / DOWNLOAD_LOCK
    created = not dest.exists()
    try:
        dest.mkdir(parents=True, exist_ok=True)
        lock = FileLock(path, timeout=0)
        lock.acquire()
    except Timeout:
        raise SidecarError(
            f"Another download into {dest} is running (in this or another sidecar process); "
            "wait for it to finish, or choose another destination.",
            "busy",
        ) from None
    try:
        yield
    finally:
        lock.release()
        with contextlib.suppress(OSError):
            path.unlink()
            if created:
                dest.rmdir()  # only when empty: a download that failed before any file


def require_patterns(req: dict) -> list[str] | None:
    value = req.get("allow_patterns")
    if value is None:
        return None
    patterns = [value] if isinstance(value, str) else value
    usable = isinstance(patterns, list) and patterns
    if not usable or not all(isinstance(p, str) and p.strip() for p in patterns):
        raise InvalidParams(
            "'allow_patterns' must be a glob pattern or a non-empty list of them, "
            'e.g. ["*.json", "*.safetensors"].'
        )
    return patterns


def plan_download(
    repo_id: str, revision: str, patterns: list[str] | None, dest: Path
) -> DownloadPlan:
    """The commit's files that match the patterns (None: what MLX needs), with checksums."""
    commit = hub.commit_of(repo_id, revision)
    files = hub.list_files(repo_id, commit, patterns or list(ALLOW_PATTERNS))
    if patterns is None and not any(is_mlx_weights(f.path) for f in files):
        raise SidecarError(
            f"{repo_id} has no MLX weights (model*.safetensors) at {revision}, so it is not an "
            "MLX model; look for an mlx-community conversion, or name files in allow_patterns.",
            "not_mlx_model",
        )
    if not files:
        raise SidecarError(
            f"{repo_id} has no files matching {patterns} at {revision}.", "no_matching_files"
        )
    for f in files:
        if f.path.startswith("/") or any(p in ("", ".", "..") for p in f.path.split("/")):
            raise SidecarError(f"{repo_id} lists an unsafe file path: {f.path!r}.", "hub_error")
    return DownloadPlan(repo_id, revision, commit, dest, files)


def prepare_destination(dest: Path) -> None:
    """Create the folder and make sure a file can be written in it (root ignores modes)."""
    try:
        dest.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=dest):
            pass
    except OSError as e:
        raise SidecarError(
            f"Cannot write into {dest} ({e.strerror or e}); choose a folder you can write to.",
            "not_writable",
        ) from None


def is_complete(path: Path, f: RemoteFile) -> bool:
    """Already in place: the right size, and for small files the right git hash.

    Big (LFS) files are trusted by size: the sidecar renames them into place only after
    their sha256 matched, and hashing gigabytes on every call would take minutes.
    """
    if not path.is_file() or path.stat().st_size != f.size:
        return False
    return f.sha256 is not None or content_matches(path, f)


def content_matches(path: Path, f: RemoteFile) -> bool:
    """The Hub's checksum: sha256 for LFS files, git's blob sha1 for the others."""
    digest = hashlib.sha256() if f.sha256 else hashlib.sha1(b"blob %d\0" % f.size)
    with open(path, "rb") as data:
        while chunk := data.read(HASH_READ_BYTES):
            digest.update(chunk)
    return digest.hexdigest() == (f.sha256 or f.blob_id)


def check_free_space(plan: DownloadPlan, todo: list[RemoteFile]) -> None:
    needed = sum(f.size - min(partial_size(plan.partial(f)), f.size) for f in todo)
    free = shutil.disk_usage(plan.destination).free
    if needed > free:
        raise SidecarError(
            f"Downloading {plan.repo_id} needs {size_text(needed)} but only {size_text(free)} "
            f"is free at {plan.destination}; free some space or choose another destination.",
            "insufficient_space",
        )


def partial_size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def size_text(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / MB:.1f} MB"


def write_marker(plan: DownloadPlan) -> None:
    """Say the folder is partial, before the first byte; removed after the last file."""
    record = {
        "repo_id": plan.repo_id,
        "revision": plan.revision,
        "commit": plan.commit,
        "files": [f.path for f in plan.files],
        "total_bytes": plan.total,
    }
    marker = plan.destination / DOWNLOAD_MARKER
    tmp = marker.with_name(marker.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, marker)


def download_file(
    plan: DownloadPlan, f: RemoteFile, progress: DownloadProgress, ctx: RequestContext
) -> None:
    """Fetch one file (resuming its .part), check it, and rename it into place."""
    part = plan.partial(f)
    resumed = fetch(plan, f, part, progress, ctx) > 0
    ok = content_matches(part, f)
    if not ok and resumed:  # the bytes kept from before were not this file's
        log.warning("%s: the partial file did not match; downloading it again", f.path)
        part.unlink()
        fetch(plan, f, part, progress, ctx)
        ok = content_matches(part, f)
    if not ok:
        part.unlink()
        raise SidecarError(
            f"{f.path} arrived corrupted (its checksum differs from the Hub's); "
            "run download-model again.",
            "checksum_mismatch",
        )
    target = plan.target(f)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(part, target)
    progress.done += f.size


def fetch(
    plan: DownloadPlan, f: RemoteFile, part: Path, progress: DownloadProgress, ctx: RequestContext
) -> int:
    """Append the rest of a file to its .part, then fsync it; how many bytes were already
    on disk. The request's context is checked at every MiB written."""
    part.parent.mkdir(parents=True, exist_ok=True)
    have = partial_size(part)
    if have > f.size:
        part.unlink()
        have = 0
    progress.file = f.path
    log.info("downloading %s (%d of %d bytes already on disk)", f.path, have, f.size)

    def written(file_bytes: int) -> None:
        progress.update(file_bytes)
        ctx.check()  # a cancel or deadline ends the download here; the .part stays

    with open(part, "ab") as out:
        hub.read_file(plan.repo_id, plan.commit, f, out, written)
        out.flush()
        os.fsync(out.fileno())
    return have


def is_mlx_weights(path: str) -> bool:
    """The weights mlx-lm loads: model*.safetensors at the top of the folder."""
    return "/" not in path and path.startswith("model") and path.endswith(".safetensors")


def mlx_ready(dest: Path) -> bool:
    """Whether load-model takes the folder: the one rule, models.check_model_folder."""
    try:
        check_model_folder(dest)
    except LoadFailed:
        return False
    return True


def download_answer(repo_id: str, commit: str | None, dest: Path, files: list[str]) -> dict:
    total = sum(dest.joinpath(*p.split("/")).stat().st_size for p in files)
    return {
        "success": True,
        "destination": str(dest),
        "repo_id": repo_id,
        "commit": commit,
        "files": files,
        "total_mb": round(total / MB, 1),
        "mlx_ready": mlx_ready(dest),
    }


def offline_answer(repo_id: str, dest: Path) -> dict:
    """HF_HUB_OFFLINE: nothing can be fetched or checked; a complete folder is used as is."""
    if not mlx_ready(dest):
        raise SidecarError(
            f"HF_HUB_OFFLINE is set and {dest} holds no complete download of {repo_id}; "
            "unset HF_HUB_OFFLINE to download it.",
            "offline",
        )
    files = sorted(
        p.relative_to(dest).as_posix()
        for p in dest.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(dest).parts)
    )
    return download_answer(repo_id, None, dest, files)
