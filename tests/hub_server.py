"""A local stand-in for the Hugging Face Hub file API, for download tests.

Serves repo info, tree listings and `resolve` URLs (HEAD/GET, ETags, Range) closely
enough that huggingface_hub 2.4 behaves as against huggingface.co, errors included
(X-Error-Code -> RepositoryNotFoundError, RevisionNotFoundError, GatedRepoError,
EntryNotFoundError). HF_ENDPOINT is read when huggingface_hub is imported: set it to
`start()`'s URL first. Manual use: `python tests/hub_server.py DIR REPO_ID`.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

# The Hub keeps files above 10 MB in LFS; their ETag is the sha256 of the content.
LFS_THRESHOLD = 10 * 1024 * 1024
# Body write size: small enough for smooth throttling and exact cuts.
CHUNK_SIZE = 64 * 1024
# Throttling sleeps after each write; lateness below this is caught up on.
THROTTLE_SLACK = 0.05
LOGGED_HEADERS = ("Range", "Authorization")
API_PATH = re.compile(
    r"^/api/models/(?P<repo>.+?)"
    r"(?:/(?P<kind>revision|tree)/(?P<rev>[^/]+)(?P<path>/.*)?)?$"
)
RESOLVE_PATH = re.compile(r"^/(?P<repo>.+?)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")
RANGE_HEADER = re.compile(r"^bytes=(\d+)-(\d*)$")
LAST_MODIFIED = "2024-01-01T00:00:00.000Z"


def _chunks(data: bytes | Path, start: int, end: int) -> Iterator[bytes | memoryview]:
    """Yield bytes start..end-1 of data in CHUNK_SIZE pieces, never a whole file."""
    if isinstance(data, bytes):
        view = memoryview(data)
        for pos in range(start, end, CHUNK_SIZE):
            yield view[pos : min(pos + CHUNK_SIZE, end)]
        return
    with data.open("rb") as f:
        f.seek(start)
        while start < end and (chunk := f.read(min(CHUNK_SIZE, end - start))):
            start += len(chunk)
            yield chunk


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class _File:
    data: bytes | Path
    size: int
    oid: str  # git blob sha1 (of the LFS pointer for LFS files), as the tree shows
    sha256: str | None = None  # LFS files only
    pointer_size: int = 0  # LFS files only

    @classmethod
    def load(cls, data: bytes | Path) -> _File:
        size = data.stat().st_size if isinstance(data, Path) else len(data)
        sha1, sha256 = hashlib.sha1(b"blob %d\0" % size), hashlib.sha256()
        for chunk in _chunks(data, 0, size):
            sha1.update(chunk)
            sha256.update(chunk)
        if size <= LFS_THRESHOLD:
            return cls(data, size, sha1.hexdigest())
        pointer = "version https://git-lfs.github.com/spec/v1\n"
        pointer += f"oid sha256:{sha256.hexdigest()}\nsize {size}\n"
        blob = pointer.encode()
        return cls(data, size, _git_blob_sha1(blob), sha256.hexdigest(), len(blob))

    def tree_entry(self, path: str) -> dict[str, Any]:
        entry = {"type": "file", "oid": self.oid, "size": self.size, "path": path}
        if self.sha256:
            lfs = {"oid": self.sha256, "size": self.size, "pointerSize": self.pointer_size}
            entry["lfs"] = lfs
        return entry


@dataclass
class _Repo:
    gated: bool
    branches: dict[str, tuple[str, dict[str, _File]]]  # name -> (commit sha, files)


@dataclass(eq=False)
class _HubError(Exception):
    """An error answer: HTTP status, X-Error-Code and X-Error-Message."""

    status: int
    code: str
    message: str
    commit: str = ""  # X-Repo-Commit, which the Hub sends with EntryNotFound


class FakeHub:
    """An in-process Hub serving registered repos over HTTP on 127.0.0.1.

    Switches, settable at any time:
    - `throttle_bps`: cap on all GET bodies together (one shared link), or None.
    - `cut_after_bytes`: end each file GET after that many body bytes, or None; with
      `cut_once` only the first such GET is cut. The end is a FIN, which httpx reports
      as RemoteProtocolError (huggingface_hub retries with Range); with `cut_reset` it
      is an RST, reported as ReadError (huggingface_hub raises it).
    - `required_token`: the Bearer token gated repos want (None: any token passes).
    - `fail_status` (with `fail_message`, sent as X-Error-Message, and no X-Error-Code):
      answer every API request (`fail_on="api"`) or every file request (`fail_on="file"`)
      with that HTTP status instead, as the Hub does for a refused token (401, "Invalid
      credentials in Authorization header"), a forbidden resource (403) or an outage (5xx).
    Paths are listed exactly as registered: a repo may list "../evil.json" or
    "a/../../b.json", as a hostile or broken Hub could, to test that a client refuses them.
    Counters: `bytes_sent` (file body bytes, resettable) and `requests`, a log of
    (method, path with query, {"Range", "Authorization"} when sent).
    """

    def __init__(self) -> None:
        self.throttle_bps: int | None = None
        self.cut_after_bytes: int | None = None
        self.cut_once: bool = False
        self.cut_reset: bool = False
        self.required_token: str | None = None
        self.fail_status: int | None = None
        self.fail_message: str = ""
        self.fail_on: str = "api"  # "api" or "file"
        self.bytes_sent: int = 0
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._repos: dict[str, _Repo] = {}
        self._lock = threading.Lock()
        self._link_free_at = 0.0  # time.monotonic() when the throttled link is idle
        self._server: ThreadingHTTPServer | None = None

    def add_repo(
        self,
        repo_id: str,
        files: dict[str, bytes | Path],
        revision: str = "main",
        gated: bool = False,
    ) -> str:
        """Register (or replace) a branch of a repo; returns its 40-hex commit sha."""
        entries: dict[str, _File] = {}
        for path, data in files.items():
            entries[path] = _File.load(data if isinstance(data, bytes) else Path(data))
        listing = "".join(f"{p}\0{f.oid}\n" for p, f in sorted(entries.items()))
        sha = hashlib.sha1(f"{repo_id}\0{revision}\0{listing}".encode()).hexdigest()
        repo = self._repos.setdefault(repo_id, _Repo(gated, {}))
        repo.gated = gated
        repo.branches[revision] = (sha, entries)
        return sha

    def start(self, port: int = 0) -> str:
        """Serve from a background thread; returns the URL to use as HF_ENDPOINT."""
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._server.daemon_threads = True
        self._server.hub = self  # type: ignore[attr-defined]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeHub:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _resolve(self, repo_id: str, rev: str) -> tuple[_Repo, str, dict[str, _File]]:
        """Find a revision by branch name or commit sha, or raise the Hub's 404."""
        repo = self._repos.get(repo_id)
        if repo is None:
            raise _HubError(404, "RepoNotFound", "Repository not found")
        by_sha = dict(repo.branches.values())
        if rev in repo.branches:
            return repo, *repo.branches[rev]
        if rev in by_sha:
            return repo, rev, by_sha[rev]
        raise _HubError(404, "RevisionNotFound", f"Invalid rev id: {rev}")

    def _claim_cut(self, sent_after: int) -> int | None:
        """The cut point, if a GET that will have sent `sent_after` bytes is cut."""
        with self._lock:
            cut = self.cut_after_bytes
            if cut is None or sent_after < cut:
                return None
            if self.cut_once:
                self.cut_after_bytes = None
            return cut

    def _count(self, n: int) -> None:
        """Account for n body bytes, sleeping as long as throttle_bps requires."""
        with self._lock:
            self.bytes_sent += n
            if not self.throttle_bps:
                return
            start = max(self._link_free_at, time.monotonic() - THROTTLE_SLACK)
            self._link_free_at = wake = start + n / self.throttle_bps
        time.sleep(max(0.0, wake - time.monotonic()))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the Hub does
    timeout = 60  # drop idle keep-alive connections eventually

    @property
    def hub(self) -> FakeHub:
        return self.server.hub  # type: ignore[attr-defined]

    def log_message(self, fmt: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # telemetry and the like: accept and ignore
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.hub.requests.append((self.command, self.path, {}))
        self._send(200, {"Content-Length": "0"})

    def do_GET(self) -> None:
        wanted = {h: v for h in LOGGED_HEADERS if (v := self.headers.get(h))}
        self.hub.requests.append((self.command, self.path, wanted))
        url = urlsplit(self.path)
        try:
            self._maybe_fail(url.path)
            if m := RESOLVE_PATH.match(url.path):
                self._serve_file(*(unquote(m[k]) for k in ("repo", "rev", "path")))
            elif (m := API_PATH.match(url.path)) and self.command == "GET":
                repo, rev = unquote(m["repo"]), unquote(m["rev"] or "main")
                if m["kind"] != "tree":
                    self._send_json(self._info(repo, rev))
                    return
                sub = unquote(m["path"] or "").strip("/")
                recursive = "recursive=true" in url.query.lower()
                self._send_json(self._tree(repo, rev, sub, recursive))
            else:
                self._send(200, {"Content-Length": "0"})
        except _HubError as e:
            headers = {"X-Error-Message": e.message}
            if e.code:
                headers["X-Error-Code"] = e.code
            if e.commit:
                headers["X-Repo-Commit"] = e.commit
            self._send_json({"error": e.message}, e.status, headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_HEAD(self) -> None:
        self.do_GET()

    def _maybe_fail(self, path: str) -> None:
        """The error every request of the kind `fail_on` gets while `fail_status` is set."""
        status = self.hub.fail_status
        kind = "file" if RESOLVE_PATH.match(path) else "api" if API_PATH.match(path) else None
        if status is not None and kind == self.hub.fail_on:
            raise _HubError(status, "", self.hub.fail_message or f"HTTP {status}")

    def _info(self, repo_id: str, revision: str) -> dict[str, Any]:
        repo, sha, files = self.hub._resolve(repo_id, revision)
        siblings = [{"rfilename": p, "size": f.size} for p, f in sorted(files.items())]
        return {
            "_id": sha[:24],
            "id": repo_id,
            "modelId": repo_id,
            "sha": sha,
            "lastModified": LAST_MODIFIED,
            "createdAt": LAST_MODIFIED,
            "private": False,
            "gated": "manual" if repo.gated else False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "siblings": siblings,
        }

    def _tree(self, repo_id: str, rev: str, sub: str, recursive: bool) -> list[dict]:
        files = self.hub._resolve(repo_id, rev)[2]
        prefix = f"{sub}/" if sub else ""
        dirs = {p.rsplit("/", n)[0] for p in files for n in range(1, p.count("/") + 1)}
        out = []
        for path in sorted(dirs | files.keys()):
            rest = path.removeprefix(prefix)
            if (prefix and rest == path) or (not recursive and "/" in rest):
                continue
            if path in files:
                out.append(files[path].tree_entry(path))
            else:  # a directory: any stable oid will do
                oid = _git_blob_sha1(path.encode())
                out.append({"type": "directory", "oid": oid, "path": path})
        if sub and not out:
            raise _HubError(404, "EntryNotFound", f"{sub} does not exist at {rev}")
        return out

    def _serve_file(self, repo_id: str, revision: str, path: str) -> None:
        repo, sha, files = self.hub._resolve(repo_id, revision)
        if repo.gated and not self._authorized():
            message = f"Access to model {repo_id} is restricted. Please log in."
            raise _HubError(401, "GatedRepo", message)
        f = files.get(path)
        if f is None:
            raise _HubError(404, "EntryNotFound", "Entry not found", commit=sha)
        etag = f'"{f.sha256 or f.oid}"'
        headers = {"ETag": etag, "X-Repo-Commit": sha, "Accept-Ranges": "bytes"}
        if f.sha256:
            headers |= {"X-Linked-Etag": etag, "X-Linked-Size": str(f.size)}
        start, end, status = 0, f.size, 200
        wanted = RANGE_HEADER.match(self.headers.get("Range", ""))
        if wanted and self.command == "GET":
            start, status = int(wanted[1]), 206
            end = min(int(wanted[2]) + 1, f.size) if wanted[2] else f.size
            if start >= f.size:
                headers["Content-Range"] = f"bytes */{f.size}"
                self._send(416, headers | {"Content-Length": "0"})
                return
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{f.size}"
        self._send(status, headers | {"Content-Length": str(end - start)})
        sent = 0
        for chunk in _chunks(f.data, start, end) if self.command == "GET" else ():
            if (cut := self.hub._claim_cut(sent + len(chunk))) is not None:
                self._write(chunk[: max(0, cut - sent)])
                self._drop_connection()
                return
            self._write(chunk)
            sent += len(chunk)

    def _write(self, data: bytes | memoryview) -> None:
        """Write body bytes, in slices of ~1/20 s when throttled."""
        bps = self.hub.throttle_bps
        step = max(1024, bps // 20) if bps else max(1, len(data))
        for pos in range(0, len(data), step):
            piece = data[pos : pos + step]
            self.wfile.write(piece)
            self.hub._count(len(piece))

    def _authorized(self) -> bool:
        auth = self.headers.get("Authorization", "")
        if self.hub.required_token is not None:
            return auth == f"Bearer {self.hub.required_token}"
        return auth.startswith("Bearer ") and len(auth) > len("Bearer ")

    def _drop_connection(self) -> None:
        """End the connection mid-body: FIN (truncated body), or RST if cut_reset."""
        if self.hub.cut_reset:
            linger_off = struct.pack("ii", 1, 0)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger_off)
        else:
            self.connection.shutdown(socket.SHUT_RDWR)
        self.connection.close()
        self.close_connection = True

    def _send(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(
        self, obj: object, status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        body = json.dumps(obj).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
        self._send(status, headers | {"Content-Length": str(len(body))}, body)


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Serve a folder as a fake Hub repo.")
    parser.add_argument("dir", type=Path, help="folder whose files become the repo")
    parser.add_argument("repo_id", help="e.g. mlx-community/tiny-model")
    parser.add_argument("--port", type=int, default=0, help="default: any free port")
    parser.add_argument("--throttle-bps", type=int, help="cap on download speed")
    args = parser.parse_args()
    files: dict[str, bytes | Path] = {}
    for p in sorted(args.dir.rglob("*")):
        rel = p.relative_to(args.dir)
        if p.is_file() and not any(part.startswith(".") for part in rel.parts):
            files[rel.as_posix()] = p
    hub = FakeHub()
    hub.throttle_bps = args.throttle_bps
    sha = hub.add_repo(args.repo_id, files)
    url = hub.start(args.port)
    print(f"Serving {len(files)} files as {args.repo_id} (commit {sha}) at {url}")
    print(f"Try: HF_ENDPOINT={url} hf download {args.repo_id} --local-dir DIR")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        hub.stop()


if __name__ == "__main__":
    main()
