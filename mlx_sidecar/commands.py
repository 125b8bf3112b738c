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
from .answers import document_summary, document_tags
from .answers.batch import BatchOptions, BatchRun, require_documents, require_tasks
from .answers.job import Job, Loaded, Progress
from .answers.passes import run_ask
from .answers.summary import MAX_SENTENCES, Summary
from .context import RequestContext
from .downloads import download_model
from .errors import InvalidParams, LoadFailed, SidecarError, one_line
from .language import require_language
from .models import WEIGHT_LAYOUTS, load_model, resolve_model_path
from .models.memory import fits_beside
from .platform import backend_name, package_version
from .reading import read_document, require_format
from .repairs import new_tags
from .session import Session
from .tasks.chat import ChatOptions, chat_ask, chat_fields
from .tasks.options import max_tokens_option, temperature_option
from .validate import (
    optional_bool,
    optional_count,
    optional_int,
    optional_str,
    require_str,
)
from .vocabulary import require_known_tags, require_max_new_tags

log = logging.getLogger(__name__)

DEFAULT_MAX_TAGS = 5  # the seed's example shows a handful; the app shows them as chips
MAX_TAGS_LIMIT = 20
DEFAULT_TAG_TOKENS = 64  # five tags of <= 4 words in a JSON array fit in ~50 tokens
TOKENS_PER_TAG = 12  # room for each tag beyond the five
DEFAULT_SUMMARY_TOKENS = 160  # ~3 sentences; SmolLM2 copies the text when given more room
MAX_WORDS_RANGE = (5, 2000)

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
    """Free the model and everything kept for it: an idle app gives its memory back."""
    session.require_loaded()
    return {"success": True, "freed": session.unload()}


def generate_tags(session: Session, req: dict, ctx: RequestContext) -> dict:
    content = require_str(req, "content", non_blank=True)
    fmt = require_format(req)
    limit, known_tags, max_new = tag_options(req)
    job = new_job(session, req, ctx, tag_tokens(limit))
    if known_tags is not None:
        job.known, job.max_new = session.known_tags(known_tags), max_new
    reading = read_document(content, fmt)
    ctx.check()  # reading a big document takes seconds; a cancel in them ends it here
    found = document_tags(job, reading, limit)
    extra = {"summary_prepared": True} if found.summary_prepared else {}
    if job.known is not None:
        extra["new_tags"] = new_tags(found.tags, job.known)
    return {
        "tags": found.tags,
        "raw_output_parsed": found.parsed,
        **job.stats(),
        **reading.fields(),
        **extra,
    }


def summarize(session: Session, req: dict, ctx: RequestContext) -> dict:
    content = require_str(req, "content", non_blank=True)
    fmt = require_format(req)
    max_words, sentences = summary_length_options(req)
    stream = optional_bool(req, "stream")
    job = new_job(session, req, ctx, DEFAULT_SUMMARY_TOKENS)
    reading = read_document(content, fmt)
    ctx.check()
    summary = Summary(max_words, sentences, partial_lines(ctx) if stream else None)
    document_summary(job, reading, summary)
    extra = {"extractive": True} if summary.extractive else {}
    if job.reused:
        extra["reused_chunks"] = job.reused
    return {"summary": summary.text(), **job.stats(), **reading.fields(), **extra}


def batch(session: Session, req: dict, ctx: RequestContext) -> dict:
    """Tags and summaries of many documents, decoded together (answers/batch.py)."""
    documents = require_documents(req)
    tasks = require_tasks(req)
    limit, known_tags, max_new = tag_options(req)
    tokens_for_tags = max_tokens_option(req, tag_tokens(limit))
    tokens_for_summary = max_tokens_option(req, DEFAULT_SUMMARY_TOKENS)
    temperature = temperature_option(req)
    fmt = require_format(req)
    max_words, sentences = summary_length_options(req)
    options = BatchOptions(
        tasks=tasks,
        limit=limit,
        tag_tokens=tokens_for_tags,
        summary_tokens=tokens_for_summary,
        temperature=temperature,
        fmt=fmt,
        max_words=max_words,
        sentences=sentences,
        language=require_language(req),
        known=session.known_tags(known_tags) if known_tags is not None else None,
        max_new=max_new,
        progress=optional_bool(req, "progress"),
    )
    return BatchRun(session.require_loaded(), options, ctx).run(documents)


def new_job(session: Session, req: dict, ctx: RequestContext, default_tokens: int) -> Job:
    """The model work of generate-tags or summarize, with the request's options."""
    max_tokens = max_tokens_option(req, default_tokens)
    temperature = temperature_option(req)
    progress = Progress(ctx, enabled=optional_bool(req, "progress"))
    language = require_language(req)
    loaded = session.require_loaded()
    return Job(
        loaded,
        ctx,
        max_tokens,
        temperature,
        progress,
        language=language,
    )


def tag_options(req: dict) -> tuple[int, list[str] | None, int | None]:
    """`max_tags`, `known_tags` and `max_new_tags`, as generate-tags and batch take them."""
    limit = optional_int(req, "max_tags", DEFAULT_MAX_TAGS, 1, MAX_TAGS_LIMIT)
    known_tags = require_known_tags(req)
    return limit, known_tags, require_max_new_tags(req, limit, known_tags)


def tag_tokens(limit: int) -> int:
    """The default answer length for ``limit`` tags."""
    return DEFAULT_TAG_TOKENS + TOKENS_PER_TAG * limit


def summary_length_options(req: dict) -> tuple[int | None, int | None]:
    """`max_words` and `sentences`, as summarize and batch take them."""
    max_words = optional_count(req, "max_words", *MAX_WORDS_RANGE)
    return max_words, optional_count(req, "sentences", 1, MAX_SENTENCES)


def partial_lines(ctx: RequestContext) -> Callable[[str], None]:
    """`stream: true` on summarize: each sentence as a `partial` line as it is ready."""
    return lambda text: ctx.emit({"type": "partial", "command": "summarize", "text": text})


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
    job = Job(loaded, ctx, options.max_tokens, options.temperature, Progress(ctx))
    answer = run_ask(job, ask)
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
    "generate-tags": Command(generate_tags, needs_model=True, takes_deadline=True),
    "summarize": Command(summarize, needs_model=True, takes_deadline=True),
    "chat": Command(chat, ChatOptions.parse, needs_model=True, takes_deadline=True),
    "batch": Command(batch, needs_model=True, takes_deadline=True),
    "download-model": Command(download),
    "model-info": Command(model_info, needs_model=True),
    "unload-model": Command(unload_model, needs_model=True),
    "shutdown": Command(shutdown),
    "cancel": Command(cancel, immediate=True),
    "generate-transcript": Command(audio_unsupported),
    "copilot-analyze": Command(audio_unsupported),
}
