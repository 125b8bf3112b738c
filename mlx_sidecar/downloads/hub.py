"""The Hugging Face Hub, through huggingface_hub's public API.

Written against huggingface_hub 2.4, whose HTTP client is httpx2 2.16 (``get_session()``
returns an ``httpx2.Client``). Everything the sidecar needs from the Hub is here: the
commit a revision names, that commit's file list, one file's bytes from an offset, and
the Hub's errors as one sentence with a code. huggingface_hub's own file download cannot
resume across calls (it deletes its partial file when a call fails), so a file's bytes
are read here with a Range request on the session huggingface_hub configures.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..errors import SidecarError, one_line

log = logging.getLogger(__name__)

READ_BYTES = 1024 * 1024  # 1 MiB pieces: smooth progress, at most 1 MiB lost to a drop
RETRIES = 5  # a dropped connection is resumed this often without new bytes in between
RETRY_PAUSE_S = 1.0
AGAIN = "run download-model again to continue where it stopped"


@dataclass
class RemoteFile:
    """One file of the commit being downloaded, as the Hub's tree listing describes it."""

    path: str  # inside the repo, "/"-separated
    size: int
    sha256: str | None  # LFS files: sha256 of the content
    blob_id: str  # git blob sha1; of the content itself for files not in LFS


def is_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.is_offline_mode())


def commit_of(repo_id: str, revision: str) -> str:
    """The commit a branch, tag or commit id names: every file comes from that one."""
    from huggingface_hub import HfApi

    commit = HfApi().model_info(repo_id, revision=revision).sha
    if not commit:
        raise SidecarError(f"The Hub did not say which commit {revision} is.", "hub_error")
    return commit


def list_files(repo_id: str, commit: str, patterns: list[str]) -> list[RemoteFile]:
    """The commit's files that match the glob patterns, with their sizes and checksums."""
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile
    from huggingface_hub.utils import filter_repo_objects

    tree = HfApi().list_repo_tree(repo_id, revision=commit, recursive=True)
    entries = [e for e in tree if isinstance(e, RepoFile)]
    chosen = filter_repo_objects(entries, allow_patterns=patterns, key=lambda e: e.path)
    return [RemoteFile(e.path, e.size, e.lfs.sha256 if e.lfs else None, e.blob_id) for e in chosen]


def read_file(
    repo_id: str, commit: str, f: RemoteFile, out: IO[bytes], on_write: Callable[[int], None]
) -> None:
    """Append the rest of ``f`` to ``out`` (which holds its first bytes already), calling
    ``on_write`` with the bytes now held after each piece. A dropped connection (the
    server's FIN, a refused connect, a timeout) is resumed up to RETRIES times in a row;
    a reset connection is raised, to be resumed by the next download-model."""
    import httpx2
    from huggingface_hub import constants, get_session, hf_hub_url
    from huggingface_hub.utils import build_hf_headers, hf_raise_for_status

    url = hf_hub_url(repo_id, f.path, revision=commit)
    have, tries = out.tell(), RETRIES
    while have < f.size:
        headers = build_hf_headers()
        if have:
            headers["Range"] = f"bytes={have}-"
        try:
            with get_session().stream(
                "GET", url, headers=headers, timeout=constants.HF_HUB_DOWNLOAD_TIMEOUT
            ) as response:
                hf_raise_for_status(response)
                if have and response.status_code == 200:  # the server ignored the Range
                    out.seek(0)
                    out.truncate()
                    have = 0
                for piece in response.iter_bytes(READ_BYTES):
                    out.write(piece)
                    have += len(piece)
                    tries = RETRIES  # bytes came: the count of retries starts again
                    on_write(have)
        except (httpx2.ConnectError, httpx2.TimeoutException, httpx2.RemoteProtocolError) as e:
            if tries <= 0:
                raise
            tries -= 1
            log.warning("%s: the connection dropped (%s); resuming", f.path, one_line(e))
            time.sleep(RETRY_PAUSE_S)
            continue
        if have < f.size:  # the body ended early without an error
            raise SidecarError(
                f"{f.path} arrived short ({have} of {f.size} bytes); {AGAIN}.", "network_error"
            )


def endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


@contextlib.contextmanager
def hub_errors(repo_id: str, revision: str, dest: Path) -> Iterator[None]:
    """Turn Hub, network and disk exceptions into one clear sentence with a code."""
    import httpx2
    from huggingface_hub import get_token
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    token = get_token()
    try:
        yield
    except SidecarError:
        raise
    except GatedRepoError:
        raise SidecarError(_gated_message(repo_id, token), "gated") from None
    except RepositoryNotFoundError:
        hint = "that HF_TOKEN can read it" if token else "set HF_TOKEN if it is private"
        raise SidecarError(
            f"Repository {repo_id} was not found on {endpoint()}; check the name and {hint}.",
            "repo_not_found",
        ) from None
    except RevisionNotFoundError:
        raise SidecarError(
            f"Repository {repo_id} has no branch, tag or commit named {revision!r}.",
            "revision_not_found",
        ) from None
    except OfflineModeIsEnabled:
        raise SidecarError(
            "HF_HUB_OFFLINE is set, so nothing can be downloaded.", "offline"
        ) from None
    except HfHubHTTPError as e:
        raise _http_error(repo_id, e) from None
    except httpx2.TransportError as e:
        detail = redact(f"{type(e).__name__}: {one_line(e)}", token)
        raise SidecarError(
            f"The connection to {endpoint()} failed ({detail}); check the network and {AGAIN}.",
            "network_error",
        ) from None
    except OSError as e:
        raise _disk_error(e, dest) from None


def _gated_message(repo_id: str, token: str | None) -> str:
    if token:
        return (
            f"The token in HF_TOKEN has no access to the gated repository {repo_id}; accept "
            "its terms on the Hub with that account."
        )
    return (
        f"{repo_id} is gated: accept its terms on the Hub, then set HF_TOKEN to an access "
        "token of that account."
    )


def _http_error(repo_id: str, error: Exception) -> SidecarError:
    response = getattr(error, "response", None)
    status = response.status_code if response is not None else "error"
    if status in (401, 403):
        return SidecarError(
            f"The Hub refused access to {repo_id} (HTTP {status}); check that HF_TOKEN "
            "is valid and can read it.",
            "unauthorized",
        )
    return SidecarError(
        f"The Hub answered HTTP {status} for {repo_id}; {AGAIN} later.", "hub_error"
    )


def _disk_error(error: OSError, dest: Path) -> BaseException:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return SidecarError(
            f"The disk holding {dest} is full; free some space and {AGAIN}.", "disk_full"
        )
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return SidecarError(
            f"Cannot write into {dest} ({error.strerror}); choose a folder you can write to.",
            "not_writable",
        )
    return error


def redact(text: str, token: str | None) -> str:
    """Never let the token reach a protocol line, whatever a library put in a message."""
    return text.replace(token, "<token>") if token else text
