"""The loop: read commands, run them one at a time, answer each with exactly one final line.

stdin is read on its own thread into the Inbox, so the sidecar keeps listening while a
command runs; commands still run one at a time, in order, on the main thread. The reader
answers at once the lines that need no turn (errors, unknown commands, `cancel`). Cancel,
deadlines and shutdown set the stop reason on the command's RequestContext, which the
work checks where it can stop. A command taken out of the queue is answered by the
thread that took it out.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import traceback
from typing import IO, Any

from .commands import HANDLERS
from .context import RequestContext
from .errors import ClientGone, Interrupted, InvalidParams, SidecarError, Stopped, one_line
from .session import Session
from .validate import truncate
from .wire import MAX_LINE_BYTES, LineTooLong, ProtocolWriter, Request, parse_request, read_lines

log = logging.getLogger(__name__)

MAX_TIMEOUT_S = 31_536_000  # a year: longer is no deadline, and overflows the OS's timers


def error_line(command: str | None, message: str, code: str) -> dict:
    """An error line; a command name the sidecar does not know is echoed shortened."""
    shown = command if command in HANDLERS or command is None else truncate(command)
    return {"type": "error", "command": shown, "error": message, "code": code}


def dispatch(session: Session, ctx: RequestContext) -> dict:
    """The final line for a request, after any progress lines it emits.

    Stopped (cancel, a deadline, shutdown) becomes its error line. Interrupted (a signal)
    still answers the command in flight, with code "interrupted", then goes on up to
    main(); ClientGone goes straight up.
    """
    req = ctx.request
    try:
        return run_handler(session, ctx)
    except Stopped as e:
        return error_line(req.command, str(e), e.code)
    except Interrupted as e:
        message = f"Stopped by {e} before the command finished."
        with contextlib.suppress(ClientGone, Interrupted):
            ctx.emit(error_line(req.command, message, "interrupted"))
        raise


def run_handler(session: Session, ctx: RequestContext) -> dict:
    """The handler's response, or an error line for what went wrong."""
    req = ctx.request
    try:
        if req.error is not None:
            raise req.error
        command = HANDLERS.get(req.command or "")
        if command is None:
            known = ", ".join(HANDLERS)
            raise SidecarError(
                f"Unknown command '{truncate(req.command)}'; known commands: {known}.",
                "unknown_command",
            )
        options = command.parse(req.fields)
        if command.needs_model:
            session.require_loaded()
        answer = command.handler(session, options, ctx)
        return {"type": "response", "command": req.command, **answer}
    except SidecarError as e:
        return error_line(req.command, str(e), e.code)
    except MemoryError:
        return error_line(req.command, "Out of memory while handling the command.", "out_of_memory")
    except Exception as e:
        # The traceback names code, not data; the message may quote the user's document, so
        # it is logged at debug level only.
        tb = "".join(traceback.format_tb(e.__traceback__)).rstrip()
        log.error("internal error in %s: %s\n%s", req.command, type(e).__name__, tb)
        log.debug("internal error in %s: %s", req.command, e)
        return error_line(req.command, f"Internal error: {one_line(e)}", "internal")


def send_final(ctx: RequestContext, final: dict) -> None:
    """Write the final line; one that is not valid JSON (NaN, a numpy type) becomes an
    internal error line instead, and nothing of it is written."""
    try:
        ctx.emit(final)
    except (TypeError, ValueError) as e:
        log.error("the %s answer is not valid JSON: %s", ctx.command, type(e).__name__)
        message = f"Internal error: the answer could not be encoded ({one_line(e)})."
        ctx.emit(error_line(ctx.command, message, "internal"))


class Inbox:
    """The commands read from stdin and not yet answered: the queue and the running one."""

    def __init__(self, writer: ProtocolWriter, default_timeout: float | None = None) -> None:
        self.writer = writer
        self.default_timeout = default_timeout  # --request-timeout, for takes_deadline commands
        self._cond = threading.Condition()
        self._waiting: list[RequestContext] = []
        self._running: RequestContext | None = None
        self._taken_out: list[RequestContext] = []  # stopped while queued, not yet answered
        self._closed = False  # EOF, shutdown or a closed stdout: nothing more will come

    def context(self, req: Request) -> RequestContext:
        """A new request's context: its lines carry its id; it may cancel others."""
        return RequestContext(
            req, emit=lambda obj: self.writer.write(req.stamp(obj)), cancel_others=self.cancel
        )

    def put(self, ctx: RequestContext, timeout: float | None) -> None:
        """Queue a command (reader thread), then start the clock of its deadline: a deadline
        that passes at once must find the command queued to take it out."""
        with self._cond:
            self._waiting.append(ctx)
            if timeout is not None:
                ctx.start_deadline(timeout, self.expire)
            self._cond.notify()

    def deadline_of(self, req: Request) -> float | None:
        """timeout_s of the request, else the default for long commands; a bad value becomes
        the request's error."""
        value = req.fields.get("timeout_s")
        if value is None:
            command = HANDLERS.get(req.command or "")
            return self.default_timeout if command and command.takes_deadline else None
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or not 0 < value <= MAX_TIMEOUT_S:
            req.error = InvalidParams(
                f"'timeout_s' must be a number of seconds above 0 and at most {MAX_TIMEOUT_S:,}."
            )
            return None
        return float(value)

    def take(self) -> RequestContext | None:
        """The next command to run (main thread); None once the input is over and all done."""
        with self._cond:
            while not self._waiting and not self._closed:
                self._cond.wait()
            if not self._waiting:
                return None
            self._running = self._waiting.pop(0)
            return self._running

    def finish(self, final: dict) -> dict:
        """The running command's final line, once no cancel can reach it: a stop that came
        as it ended still ends it, since its cancel was already answered true."""
        with self._cond:
            ctx, self._running = self._running, None
        if ctx is None:
            return final
        ctx.end_deadline()
        if ctx.stop_reason is not None and final.get("type") == "response":
            return error_line(ctx.command, str(ctx.stop_reason), ctx.stop_reason.code)
        return final

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()

    def stop(self, ctx: RequestContext, why: Stopped) -> bool:
        """Ask one command to end: the running one at its next check; a queued one is taken
        out, to be answered by answer_taken_out(). Whether it was still unanswered."""
        with self._cond:
            if ctx.stop_reason is not None:
                return False
            if ctx is not self._running:
                if ctx not in self._waiting:
                    return False  # answered already
                self._waiting.remove(ctx)
                self._taken_out.append(ctx)
            ctx.stop_reason = why
        if ctx is not self._running:
            ctx.end_deadline()
        return True

    def expire(self, ctx: RequestContext) -> None:
        """A deadline passed (timer thread)."""
        seconds = ctx.timer.interval if ctx.timer is not None else 0
        why = Stopped(
            f"The command ran past its {seconds:g} s deadline; work done so far is kept, "
            "so sending it again finishes sooner.",
            "timeout",
        )
        self.stop(ctx, why)
        self.answer_taken_out()

    def answer_taken_out(self) -> None:
        """The error line of each queued command that was stopped: it never runs."""
        with self._cond:
            taken, self._taken_out = self._taken_out, []
        for ctx in taken:
            reason = ctx.stop_reason
            with contextlib.suppress(ClientGone):
                ctx.emit(error_line(ctx.command, str(reason), reason.code))

    def cancel(self, request_id: Any) -> bool:
        """Stop every unanswered command whose id is ``request_id``; whether there was one."""
        with self._cond:
            unanswered = [c for c in [self._running, *self._waiting] if c is not None]
        targets = [c for c in unanswered if c.request.has_id and same_id(c.request.id, request_id)]
        why = Stopped(f"Cancelled (request_id {truncate(json.dumps(request_id))}).", "cancelled")
        return any([self.stop(c, why) for c in targets])

    def stop_all(self, why: Stopped) -> None:
        with self._cond:
            everything = [c for c in [self._running, *self._waiting] if c is not None]
        for ctx in everything:
            self.stop(ctx, why)
        self.answer_taken_out()


def same_id(a: Any, b: Any) -> bool:
    """Ids match as JSON values: 1 and 1.0 do, 1 and "1" do not."""
    return isinstance(a, str) == isinstance(b, str) and a == b


def read_commands(session: Session, stdin: IO[bytes], inbox: Inbox, max_line: int) -> None:
    """The reader thread: parse each line and queue it. A line that is no valid command
    (unknown ones included), and `cancel`, are answered here at once."""
    try:
        for raw in read_lines(stdin, max_line):
            if not isinstance(raw, LineTooLong) and (not raw or raw.isspace()):
                continue  # not raw.strip(): that would copy a 32 MiB line
            req = request_from(raw, max_line)
            timeout = inbox.deadline_of(req) if req.error is None else None
            ctx = inbox.context(req)
            if answered_by_reader(req):
                send_final(ctx, dispatch(session, ctx))
                inbox.answer_taken_out()  # after the cancel's own answer
                continue
            if req.command == "shutdown":
                inbox.stop_all(Stopped("Cancelled: the sidecar is shutting down.", "cancelled"))
                inbox.put(ctx, None)
                return  # nothing after shutdown is read
            inbox.put(ctx, timeout)
    except ClientGone:
        log.warning("the app closed stdout; no more commands are read")
    except Exception:
        log.exception("reading commands failed")
    finally:
        inbox.close()


def request_from(raw: bytearray | LineTooLong, max_line: int) -> Request:
    """The request a line holds; a line too long, or too big to parse in the memory left,
    becomes a request whose error is its answer."""
    short_of_memory = SidecarError(
        "Out of memory while reading the command; send a shorter document.", "out_of_memory"
    )
    if isinstance(raw, LineTooLong) and raw.out_of_memory:
        return Request(error=short_of_memory)
    if isinstance(raw, LineTooLong):
        message = (
            f"The line is {raw.size} bytes, over the {max_line}-byte limit; "
            "send less per command or raise --max-line-bytes."
        )
        return Request(error=SidecarError(message, "line_too_long"))
    try:
        return parse_request(raw)  # empties raw: the line's memory is given back here
    except MemoryError:
        raw.clear()
        return Request(error=short_of_memory)


def answered_by_reader(req: Request) -> bool:
    """Lines that need no turn on the main thread: errors, unknown commands, `cancel`."""
    command = HANDLERS.get(req.command or "")
    return req.error is not None or command is None or command.immediate


def serve(
    session: Session,
    stdin: IO[bytes],
    writer: ProtocolWriter,
    max_line: int = MAX_LINE_BYTES,
    request_timeout: float | None = None,
) -> int:
    """Run commands until EOF (after finishing what was received) or shutdown; exit code."""
    inbox = Inbox(writer, request_timeout)
    reader = threading.Thread(
        target=read_commands,
        args=(session, stdin, inbox, max_line),
        name="stdin-reader",
        daemon=True,
    )
    reader.start()
    while (ctx := inbox.take()) is not None:
        send_final(ctx, inbox.finish(dispatch(session, ctx)))
        if ctx.command == "shutdown" and ctx.request.error is None:
            break
    return 0
