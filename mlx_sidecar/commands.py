"""The commands: ``HANDLERS`` maps each command name to a ``Command``.

A command's ``parse`` checks the request's fields once and returns its options (the
request's fields as they are, for commands with nothing to check); its handler takes the
session, those options and the request's context, and returns the response's fields
(after any progress or partial lines it writes through the context). It raises
SidecarError for what the user can act on; only the loop writes error lines. What the loop
needs to know of a command is declared with it: whether it needs a loaded model, whether
--request-timeout gives it a deadline, whether it is answered at once by the reader. To
add a command: a handler here (and a task module in tasks/ if the model answers it), its
line in HANDLERS, its request and response in protocol.schema.json, and a section in
docs/protocol.md.
"""

from __future__ import annotations

import logging
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import PROTOCOL_VERSION
from .answers import answer_document
from .answers.batch import BatchOptions, BatchRun
from .context import RequestContext
from .downloads import download_model
from .errors import InvalidParams, LoadFailed, SidecarError, one_line
from .job import Job
from .models import WEIGHT_LAYOUTS, load_model, resolve_model_path
from .models.memory import fits_beside
from .platform import backend_name, package_version
from .reading import read_document, require_format
from .session import Loaded, Session
from .tasks.chat import ChatOptions, chat_ask, chat_fields
from .tasks.extract import ExtractOptions, ExtractTask
from .tasks.summary import SummaryOptions, SummaryTask
from .tasks.tags import TagsOptions, TagsTask
from .validate import optional_bool, optional_str, require_str

log = logging.getLogger(__name__)


Handler = Callable[[Session, Any, RequestContext], dict]


@dataclass(frozen=True)
class Command:
    """A command's handler and how the loop treats it."""

    handler: Handler
    parse: Callable[[dict], Any] = dict  # the request's fields -> the handler's options
    needs_model: bool = False  # no_model (after its fields are checked) when none is loaded
    takes_deadline: bool = False  # --request-timeout bounds it (it can run for minutes)
    immediate: bool = False  # answered by the reader thread, even while another one runs


def check_availability(session: Session, req: dict, ctx: RequestContext) -> dict:
    usable = session.platform.load_mlx()
    answer = {
        "available": usable,
        "backend": backend_name() if usable else None,
        "mlx_version": package_version("mlx"),
        "mlx_lm_version": package_version("mlx-lm"),
        "protocol_version": PROTOCOL_VERSION,
        "model_loaded": session.loaded is not None,
        "platform": f"{sys.platform}-{platform.machine()}",
        "blas": session.platform.blas,
    }
    if not usable:
        answer["reason"] = session.platform.mlx_error
    elif answer["mlx_lm_version"] is None:
        answer["available"] = False
        answer["reason"] = "mlx-lm is not installed; run 'pip install mlx-lm'."
    return answer


def load_model_command(session: Session, req: dict, ctx: RequestContext) -> dict:
    path = resolve_model_path(optional_str(req, "model_path"))
    weights = req.get("weights", session.weights_request)
    if weights not in WEIGHT_LAYOUTS:
        raise InvalidParams('\'weights\' must be "auto", "quantized" or "float32".')
    session.platform.require_mlx()
    if session.loaded is not None and not fits_beside(session.loaded.model, path, weights):
        log.info("%s does not fit beside %s; unloading that first", path, session.loaded.model.name)
        session.unload()
    try:
        model = load_model(path, weights)
    except (SidecarError, MemoryError):
        raise  # MemoryError is answered out_of_memory by the loop
    except Exception as e:
        log.exception("loading %s failed", path)
        raise LoadFailed(f"Could not load {path}: {one_line(e)}") from e
    ctx.check()  # cancelled while loading: the previous model keeps serving
    session.unload()
    session.loaded = Loaded.of(model)
    log.info(
        "loaded %s (%s, %s) in %.2fs", model.name, model.format, model.weights, model.load_time_s
    )
    return {
        "success": True,
        "model_name": model.name,
        "format": model.format,
        "load_time_s": model.load_time_s,
        "weights": model.weights,
    }


def unload_model(session: Session, req: dict, ctx: RequestContext) -> dict:
    """Free the model and everything kept for it: an idle app gives its memory back (the
    command needs a model: the loop answers no_model without one)."""
    return {"success": True, "freed": session.unload()}


@dataclass(frozen=True)
class OnDocument:
    """The checked fields of a command that runs one task over one document."""

    content: str
    format: str
    progress: bool
    options: Any  # the task's own options (TagsOptions, SummaryOptions, ...)


def on_document(parse_options: Callable[[dict], Any]) -> Callable[[dict], OnDocument]:
    """The parser of a one-document command whose task reads its options with
    ``parse_options``."""

    def parse(req: dict) -> OnDocument:
        content = require_str(req, "content", non_blank=True)
        fmt = require_format(req.get("format"))
        return OnDocument(content, fmt, optional_bool(req, "progress"), parse_options(req))

    return parse


def answer_one(session: Session, request: OnDocument, task: Any, ctx: RequestContext) -> dict:
    """Read the document, run ``task`` over it (one pass or its chunks), and answer with
    the task's fields, the passes' counts and what was read."""
    job = Job.of(session.require_loaded(), ctx, request.progress)
    reading = read_document(request.content, request.format)
    ctx.check()  # reading a big document takes seconds; a cancel in them ends it here
    fields = answer_document(job, task, reading)
    return {**fields, **job.stats(), **reading.fields()}


def generate_tags(session: Session, request: OnDocument, ctx: RequestContext) -> dict:
    return answer_one(session, request, tags_task(session, request.options), ctx)


def summarize(session: Session, request: OnDocument, ctx: RequestContext) -> dict:
    stream = ctx.partial if request.options.stream else None
    return answer_one(session, request, SummaryTask(request.options, stream), ctx)


def tags_task(session: Session, options: TagsOptions) -> TagsTask:
    """Tags with the user's list worked out once by the session (it is sent every time)."""
    known = session.known_tags(list(options.known_tags)) if options.known_tags else None
    return TagsTask(options, known)


def extract(session: Session, request: OnDocument, ctx: RequestContext) -> dict:
    return answer_one(session, request, ExtractTask(request.options), ctx)


# What a batch may ask of each document, in this order (tags and summary by default): how
# each task's options are read from the batch's own fields, and how the task is made.
BATCH_TASKS: dict[str, tuple[Callable[[dict], Any], Callable[[Session, Any], Any]]] = {
    "tags": (TagsOptions.parse, tags_task),
    "summary": (SummaryOptions.parse, lambda session, options: SummaryTask(options)),
    "extract": (ExtractOptions.parse, lambda session, options: ExtractTask(options)),  # `schema`
}


@dataclass(frozen=True)
class BatchRequest:
    batch: BatchOptions
    options: dict[str, Any]  # each asked task's options, by its name

    @classmethod
    def parse(cls, req: dict) -> BatchRequest:
        batch = BatchOptions.parse(req, tuple(BATCH_TASKS))
        return cls(batch, {name: BATCH_TASKS[name][0](req) for name in batch.tasks})


def batch(session: Session, request: BatchRequest, ctx: RequestContext) -> dict:
    """Tasks over many documents, decoded together (answers/batch.py)."""
    tasks = [BATCH_TASKS[name][1](session, options) for name, options in request.options.items()]
    return BatchRun(session.require_loaded(), tasks, request.batch, ctx).run()


def model_info(session: Session, req: dict, ctx: RequestContext) -> dict:
    model = session.require_loaded().model
    return {**model.info(), "backend": backend_name(), "blas": session.platform.blas}


def download(session: Session, req: dict, ctx: RequestContext) -> dict:
    return download_model(req, ctx)


def shutdown(session: Session, req: dict, ctx: RequestContext) -> dict:
    return {"success": True}


def cancel(session: Session, req: dict, ctx: RequestContext) -> dict:
    """Answered at once by the reader thread; the cancelled command ends with `cancelled`."""
    if "request_id" not in req:
        raise InvalidParams("'request_id' is required: the id of the command to cancel.")
    request_id = req["request_id"]
    if isinstance(request_id, bool) or not isinstance(request_id, (str, int, float)):
        raise InvalidParams("'request_id' must be a string or a number: the id of a command.")
    return {"cancelled": ctx.cancel_others is not None and ctx.cancel_others(request_id)}


def chat(session: Session, options: ChatOptions, ctx: RequestContext) -> dict:
    """A conversation answered in the model's chat template (tasks/chat.py)."""
    loaded = session.require_loaded()
    ask = chat_ask(loaded.model, loaded.grammar, options, ctx)
    job = Job.of(loaded, ctx)
    answer = job.answer(ask)
    return {**chat_fields(answer), **job.passes[0].stats()}


def audio_unsupported(session: Session, req: dict, ctx: RequestContext) -> dict:
    """The app's audio commands (generate-transcript, copilot-analyze) need a model that
    hears; this sidecar runs text models only, and says so."""
    raise SidecarError(
        f"'{ctx.command}' needs an audio model; this sidecar runs text models only, so "
        "transcripts and audio analysis are not available here.",
        "unsupported",
    )


HANDLERS: dict[str, Command] = {
    "check-availability": Command(check_availability),
    "load-model": Command(load_model_command),
    "generate-tags": Command(
        generate_tags, on_document(TagsOptions.parse), needs_model=True, takes_deadline=True
    ),
    "summarize": Command(
        summarize, on_document(SummaryOptions.parse), needs_model=True, takes_deadline=True
    ),
    "chat": Command(chat, ChatOptions.parse, needs_model=True, takes_deadline=True),
    "extract": Command(
        extract, on_document(ExtractOptions.parse), needs_model=True, takes_deadline=True
    ),
    "batch": Command(batch, BatchRequest.parse, needs_model=True, takes_deadline=True),
    "download-model": Command(download),
    "model-info": Command(model_info, needs_model=True),
    "unload-model": Command(unload_model, needs_model=True),
    "shutdown": Command(shutdown),
    "cancel": Command(cancel, immediate=True),
    "generate-transcript": Command(audio_unsupported),
    "copilot-analyze": Command(audio_unsupported),
}
