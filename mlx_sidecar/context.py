"""The per-request context: one command's id, its way to report, and why it must stop.

As in mlx-lm's server, a request's cancel is a flag on its own context object, not a
global: the loop sets it (cancel, a deadline, shutdown) and the code doing the work calls
``ctx.check()`` where it can stop: at every generated token and prefill step, at every MiB
a download writes, after a model has loaded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import Stopped
from .wire import Request

Emit = Callable[[dict], None]


@dataclass(eq=False)
class RequestContext:
    """A received command, waiting or running, and what it needs while it runs."""

    request: Request
    emit: Emit = field(default=lambda line: None)  # writes a line stamped with the id
    stop_reason: Stopped | None = None  # set once: why the command must end
    timer: threading.Timer | None = None  # fires at the deadline (timeout_s)
    cancel_others: Callable[[object], bool] | None = None  # the loop's `cancel`

    @property
    def command(self) -> str | None:
        return self.request.command

    def progress(self, **fields: object) -> None:
        """A `progress` line of this command."""
        self.emit({"type": "progress", "command": self.command, **fields})

    def partial(self, text: str) -> None:
        """A `partial` line: the next piece of a streamed answer."""
        self.emit({"type": "partial", "command": self.command, "text": text})

    def result(self, **fields: object) -> None:
        """A `result` line: one item of a command that answers many (batch)."""
        self.emit({"type": "result", "command": self.command, **fields})

    def check(self) -> None:
        """Raise Stopped if the command was asked to end; called where work can stop."""
        if self.stop_reason is not None:
            raise self.stop_reason

    def start_deadline(self, seconds: float, on_expiry: Callable[[RequestContext], None]) -> None:
        """Start the clock: at ``seconds`` from now, ``on_expiry`` stops this command."""
        self.timer = threading.Timer(seconds, on_expiry, (self,))
        self.timer.daemon = True
        self.timer.start()

    def end_deadline(self) -> None:
        if self.timer is not None:
            self.timer.cancel()


def detached_context(emit: Emit | None = None) -> RequestContext:
    """A context for work outside the loop (benchmarks, scripts, tests): never stopped."""
    return RequestContext(Request(), emit or (lambda line: None))
