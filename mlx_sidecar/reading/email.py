"""E-mail: one RFC 822 message, or a thread of them (an mbox file), read with the standard
library's ``email`` package.

What a person reads of a message: its Subject (the title), who wrote to whom and when,
and its own text. Transport headers (Received, Message-ID, References, Content-Type...)
give no words. The text is the text/plain part, else the text/html part through the HTML
reader; attachments are named, not read. Quoted replies ("> " lines, with the "On ...
wrote:" line before them) are kept, marked as quoted, and never longer than the
message's own text; the signature (after "-- ") and a mailing list's footer go.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import email.utils
import itertools
import re
from email.message import EmailMessage

from .blocks import blocks_text
from .furniture import about_the_subject

# Header names that start a message: a text opening with a block of headers that
# includes From and one of the others is an e-mail (detect.py).
MESSAGE_HEADERS = ("from", "date", "subject", "to", "message-id", "received", "return-path")
HEADER_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9-]{0,40}):(?:[ \t]|$)")
MBOX_SEPARATOR = re.compile(
    r"^From \S+.*\d{4}\s*$", re.M
)  # "From alice@x Mon May  6 10:00:00 2024"
REPLY_PREFIX = re.compile(r"^(?:\s*(?:re|fwd?|aw|sv|vs|antw|tr)\s*(?:\[\d+\])?\s*:\s*)+", re.I)
LIST_TAG = re.compile(r"^\s*\[[^\]]{1,40}\]\s*")  # "[ANNOUNCE] ", "[Python-Dev] "
QUOTE = re.compile(r"^\s*>")
ADDRESS = re.compile(r"\s*[<(]?[\w.+-]+@[\w-]+(?:\.[\w-]+)+[>)]?")
ATTRIBUTION = re.compile(
    r"^(?:On .{4,160} wrote:|.{2,80} (?:wrote|writes|a écrit|schrieb|escribió)\s*:)\s*$"
)
# A list's footer: a rule of underscores (Mailman) or dashes, then lines about the list.
FOOTER_RULE = re.compile(r"^(?:_{20,}|-{20,})\s*$")
FOOTER_WORDS = re.compile(r"mailing list|listinfo|unsubscribe|list-?manager|mailman", re.I)
MAX_HEADER_LINES = 400  # a message relayed many times carries dozens of Received lines
SIGNATURE_MAX_LINES = 12  # a bare "--" line counts as a signature mark this near the end
QUOTED_SHARE = 1.0  # quoted text may be as long as the message's own text
QUOTED_MIN_CHARS = 400  # ...or this long, for a short reply to a long message
QUOTED_NOTE = "[...]"


def looks_like_email(head: str) -> bool:
    """A block of header lines opening the text (an mbox "From " line may come first),
    with From and at least one other message header."""
    lines = head.split("\n", MAX_HEADER_LINES)[:MAX_HEADER_LINES]
    if lines and lines[0].startswith("From ") and not HEADER_LINE.match(lines[0]):
        lines = lines[1:]
    names = []
    for line in lines:
        if not line.strip():
            break
        match = HEADER_LINE.match(line)
        if match:
            names.append(match[1].lower())
        elif not line[:1].isspace():  # not a folded continuation line
            return False
    return "from" in names and len(set(names) & set(MESSAGE_HEADERS)) >= 2


def read_email(content: str) -> tuple[str, str]:
    """The text of a message or thread, and its title (the first Subject)."""
    messages = [_parse(raw) for raw in split_mbox(content)]
    title = next((subject(m) for m in messages if subject(m)), "")
    parts = [message_text(m, with_subject=len(messages) > 1) for m in messages]
    return "\n\n".join(p for p in parts if p.strip()), title


def split_mbox(content: str) -> list[str]:
    """The messages of an mbox (each after its "From " separator line), or the one message."""
    starts = [m.start() for m in MBOX_SEPARATOR.finditer(content)]
    if not starts or content[: starts[0]].strip():
        return [content]
    bounds = [*starts, len(content)]
    messages = []
    for a, b in itertools.pairwise(bounds):
        text = content[a:b].split("\n", 1)[1] if "\n" in content[a:b] else ""
        messages.append(re.sub(r"(?m)^>(>*From )", r"\1", text))  # mboxrd's escaped lines
    return [m for m in messages if m.strip()]


def _parse(raw: str) -> EmailMessage:
    return email.message_from_string(raw, policy=email.policy.default)


def subject(message: EmailMessage) -> str:
    """The Subject without "Re:", "Fwd:" and a list's "[tag]"."""
    text = " ".join(str(message.get("subject", "") or "").split())
    text = REPLY_PREFIX.sub("", text)
    return REPLY_PREFIX.sub("", LIST_TAG.sub("", text)).strip()


def message_text(message: EmailMessage, with_subject: bool = False) -> str:
    """Who wrote to whom and when, the body as a person reads it, the attachments' names."""
    body = "\n\n".join([body_text(message), *inline_texts(message)])
    attached = attachment_names(message)
    if attached:
        body += f"\n\nAttachments: {', '.join(attached)}."
    about = subject(message) if with_subject else ""
    return who_wrote(message, about) + ("\n\n" + body.strip() if body.strip() else "")


def who_wrote(message: EmailMessage, about: str = "") -> str:
    """ "Bob Builder wrote to Alice Example (copied to dev) on 07 May 2024.": the sender,
    the recipients and the day, in a sentence a summary can repeat. Names only: an
    address without a name gives the part before "@"."""
    sender = ", ".join(names(message, "from")) or "Someone"
    to, cc = names(message, "to"), names(message, "cc")
    line = f"{sender} wrote"
    if to:
        line += f" to {', '.join(to)}"
    if cc:
        line += f" (copied to {', '.join(cc)})"
    with contextlib.suppress(TypeError, ValueError):  # a date no parser understands
        sent = email.utils.parsedate_to_datetime(str(message.get("date")))
        line += f" on {sent.day} {sent:%B %Y}"
    if about:
        line += f" about “{about}”"
    return line + "."


# who_wrote's sentence as the read text has it: "Bob wrote to Alice (copied to dev) on 7 May
# 2024 about “Subject”."
WHO_WROTE = re.compile(
    r"^(?P<sender>[^“\n]+?) wrote(?: to (?P<to>[^“\n]+?))?(?: \(copied to (?P<cc>[^“\n]+?)\))?"
    r"(?: on \d{1,2} [^\W\d_]+ \d{4})?(?: about “.*”)?\.$"
)
ON_DATE = re.compile(
    r"^On .*(?:\d{1,2}:\d{2}(?::\d{2})?(?:\s?[AaPp][Mm])?|\d{4}(?:-\d\d-\d\d)?)\s*,?\s+"
)


def writers(text: str) -> list[str]:
    """Who wrote (and was written to) in a read e-mail: the names of its who_wrote lines
    and of the attribution lines above quoted replies ("On Mon, 6 May 2024 at 10:00,
    Alice Example wrote:", "Junio C Hamano writes:", mutt's "* Chris Wareham [000724
    18:24]:"). The reader knows them; they are not what the message is about."""
    found: list[str] = []
    for line in text.split("\n"):
        s = line.strip()
        who = WHO_WROTE.match(s)
        if who:
            for part in (who["sender"], who["to"], who["cc"]):
                found.extend(n.strip() for n in (part or "").split(", ") if n.strip())
        elif s.endswith(":") and (ATTRIBUTION.match(s) or s.startswith("* ")):
            found.append(attributed_name(s))
    return [n for n in dict.fromkeys(found) if n and n != "Someone"]


def attributed_name(line: str) -> str:
    """The name in an attribution line, without its date, address and verb."""
    s = ON_DATE.sub("", ADDRESS.sub("", line)).rstrip(": ")
    s = re.sub(r"\s+(?:wrote|writes|a écrit|schrieb|escribió)$", "", s)
    s = re.sub(r"^\*\s*|\s*\[[^\]]*\]$", "", s).split(", ")[-1].strip(" \"'")
    return s if len(s.split()) <= 5 else ""


def names(message: EmailMessage, header: str) -> list[str]:
    found = email.utils.getaddresses([str(v) for v in message.get_all(header, [])])
    return [n for n in (_name(name, address) for name, address in found) if n]


def _name(name: str, address: str) -> str:
    name = name.strip().strip('"').strip()
    return name or address.split("@", 1)[0]


def body_text(message: EmailMessage) -> str:
    """The message's own text: text/plain preferred, text/html read as a page; a message
    of one part of another text type (git's how-tos are text/asciidoc) is read as text."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None and not message.is_multipart() and message.get_content_maintype() == "text":
        part = message
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset or a broken encoding
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace")
    if part.get_content_subtype() == "html":
        from .html import html_blocks

        blocks = html_blocks(content)
        return blocks_text(about_the_subject(blocks)) or blocks_text(blocks)
    return plain_body(content)


def plain_body(text: str) -> str:
    """A plain-text body without its signature and list footer, quotes kept in check."""
    lines = without_footer(without_signature(text.replace("\r\n", "\n").split("\n")))
    return "\n".join(weigh_quotes(lines)).strip()


def without_signature(lines: list[str]) -> list[str]:
    """Everything before the signature mark: "-- " (RFC 3676), or a bare "--" near the end."""
    for i, line in enumerate(lines):
        near_end = len([x for x in lines[i + 1 :] if x.strip()]) <= SIGNATURE_MAX_LINES
        if line == "-- " or (line.rstrip() == "--" and near_end):
            return lines[:i]
    return lines


def without_footer(lines: list[str]) -> list[str]:
    """Everything before a mailing list's footer: a rule, then lines about the list."""
    for i, line in enumerate(lines):
        if FOOTER_RULE.match(line) and FOOTER_WORDS.search("\n".join(lines[i + 1 : i + 6])):
            return lines[:i]
    return lines


def weigh_quotes(lines: list[str]) -> list[str]:
    """Quoted replies in quotation marks, after who wrote them ("On Mon, Alice wrote:"
    or "Quoted:"), and together never longer than the
    message's own text (QUOTED_SHARE, at least QUOTED_MIN_CHARS): each quoted run keeps
    its first lines, and "[...]" says the rest was left out."""
    own = sum(len(x) for x in lines if not QUOTE.match(x))
    budget = max(QUOTED_MIN_CHARS, int(own * QUOTED_SHARE))
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        nonlocal budget
        if not run:
            return
        text = " ".join(" ".join(run).split())
        if budget <= 0:
            text = ""
        elif len(text) > budget:
            text = text[:budget].rsplit(" ", 1)[0] + " " + QUOTED_NOTE
        budget -= len(text)
        if text:
            said_by = out and is_attribution(out[-1], [">"])  # "On ..., Alice wrote:" above it
            out.extend(["", f"“{text}”" if said_by else f"Quoted: “{text}”", ""])
        run.clear()

    for i, line in enumerate(lines):
        if QUOTE.match(line):
            run.append(re.sub(r"^(?:\s*>)+\s?", "", line))
        elif not run and is_attribution(line, lines[i + 1 : i + 3]):
            out.append(ADDRESS.sub("", line).strip())  # who wrote it, without the address
        else:
            flush()
            out.append(line)
    flush()
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).split("\n")


def is_attribution(line: str, following: list[str]) -> bool:
    """ "On Mon, Alice wrote:", or any line ending in ":" just before a quote (mutt's
    "* Alice (alice@example.org) [240506 18:02]:")."""
    text = line.strip()
    before_quote = any(QUOTE.match(x) for x in following[:2] if x.strip())
    return bool(ATTRIBUTION.match(text)) or (text.endswith(":") and before_quote)


def attachment_names(message: EmailMessage) -> list[str]:
    """Each attachment as "name (type)": named, not read."""
    return [
        f"{part.get_filename() or 'unnamed'} ({part.get_content_type()})"
        for part in message.iter_attachments()
        if not is_inline_text(part)
    ]


def inline_texts(message: EmailMessage) -> list[str]:
    """More text parts after the body, unnamed and not marked as attachments: a person
    reads them as part of the message."""
    return [
        plain_body(str(part.get_content()))
        for part in message.iter_attachments()
        if is_inline_text(part)
    ]


def is_inline_text(part: EmailMessage) -> bool:
    plain_text = part.get_content_type() == "text/plain" and not part.get_filename()
    return plain_text and part.get_content_disposition() != "attachment"
