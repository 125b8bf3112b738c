"""What can go wrong, as types: expected failures carry the stable ``code`` of their error line.

Handlers raise these; only the loop (``loop.dispatch``) turns them into error lines. The three
BaseExceptions end a command however much of it has run, and no ``except Exception`` in a
handler can swallow them.
"""

from __future__ import annotations

import signal


class SidecarError(Exception):
    """An expected failure: becomes one error line with a stable machine-readable code."""

    code = "internal"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class InvalidParams(SidecarError):
    code = "invalid_params"


class NoModel(SidecarError):
    code = "no_model"


class LoadFailed(SidecarError):
    code = "load_failed"


class Stopped(BaseException):
    """The running command must end now: cancelled, past its deadline, or cut by shutdown.

    Raised by ``RequestContext.check()``; ``code`` is "cancelled" or "timeout".
    """

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class ClientGone(BaseException):
    """The app closed its end of stdout: nobody reads answers any more."""


class Interrupted(BaseException):
    """SIGTERM, SIGINT or SIGHUP arrived; raised in the main thread, like KeyboardInterrupt."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def one_line(error: BaseException) -> str:
    """An exception's message on one line of at most 300 characters, for an error line."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."
