"""What frames a document's text rather than says it: who wrote an e-mail and whom the text
credits (a name beside an address, a citation's author, a copyright holder, a changelog
entry's "(Michael Howell)"), a listing's rows, code, a footer, a chat's speakers, an
option's placeholder. keyphrases.py ``DocumentLines`` sorts a document's lines with these,
so that no tag is taken from them."""

from __future__ import annotations

import functools
import re
from collections import Counter

from .reading.email import ADDRESS, writers
from .topics import word_classes

# An option ("-l", "--replace[", ".open", ".shell"): what a placeholder follows.
OPTION = r"(?<![\w-])(?:--?|\.)[^\W\d_][\w-]*\[?"
FOOTER_MIN_LINES = 10  # a last line is a footer only in a document this long
FOOTER_MAX_WORDS = 10
LISTING_FIELD = re.compile(r"^(?:[\w.-]*\d[\w.:/-]*|[-dlrwxst]{10}[.+@]?|[^\w\s]+)$")
COLUMN_GAP = re.compile(r"[^\s.!?:;,\"'”]\s{2,}(?=\S)")  # two spaces after a word: a column
CODE_MARK = re.compile(r"^(?:>>>|\$|//|/\*|#\s*(?:include|define|ifn?def|endif|pragma)\b)")
# A statement's end: a brace, or ';' after code ("len = 0;", "free(buf);", "std::cin >>
# root;"), not after wrapped prose ("... of this License;").
CODE_END = re.compile(
    r"(?:[{}]|\*/)\s*$|^(?=.*(?:\w\(|=|->|::|<<|>>)).*;\s*$|^\S+(?: \S+){0,2};$"
    r"|\w\s?\((?:\s*|[^()\"]*[,*][^()\"]*)\)\s*;\s*$"  # "GArray *g_array_new (gboolean a, ...);"
)
CODE_START = re.compile(
    r"^(?:import [\w.]+(?:, [\w.]+)*$|from [\w.]+ import [\w, *()]+$"
    r"|(?:def|class|return|elif|var|let|const|func|fn|if|for|while)\b.*[(){}\[\]=:]"
    r"|[\w.]+(?:::\w+|->\w+)*\(.*\)$"
    r"|[\w.\[\]\"'>-]+\s*[-+*/|&]?=\s*\S"
    r"|\"[^\"]*\"\s*[:,]|\"[^\"]*\"$|[\[\](){},;]+$"  # JSON's keys and items, brackets
    r"|.*\s(?:==?|!=|<=|>=)\s.*[^.!?]$)"  # "SET balance = balance - 100.00"
)
OPENS, CLOSES = re.compile(r"[(\[{]"), re.compile(r"[)\]}]")
STATEMENT_MAX_LINES = 40  # a bracket left open longer was no code's (a stray "(")
SPEAKER_LINE = re.compile(r"^([^\s:]{1,32}): \S")  # "ogra_ac: that too" (reading/chat.py)
QUOTED = "Quoted: “"  # how reading/email.py marks a quote with no attribution line
SPEAKER_SHARE = 0.5  # of a text's lines said by speakers: a chat transcript
# A byline in the title or the first lines names the author: "The Zen of Python, by Tim Peters".
BYLINE = re.compile(r"\b[Bb]y\s+((?:[A-Z]\. ?|[A-Z][\w'’-]+ ?){1,4})(?<! )")
PERSON = r"[A-Z][\w'’-]+(?:[ \t]+(?:[A-Z]\.|[A-Z][\w'’-]+)){0,3}"  # "Barry A. Warsaw"
# The last word of an organization's name: its words name no person ("Python" of "Python
# Software Foundation", "Free Software Foundation, Inc.").
ORGANIZATION = frozenset(
    "Foundation Inc Corporation Corp Company Project Group Team Ltd LLC GmbH Software "
    "University Institute Organization Consortium Contributors Authors Developers".split()
)
EMAIL = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
CREDITS = (
    re.compile(rf"({PERSON})[ \t]*\n?[ \t]*[<(]{EMAIL}[>)]"),  # "Clint Adams\n <clint@...>"
    re.compile(rf"{EMAIL}[ \t]*\(({PERSON})\)"),  # "barry@zope.com (Barry A. Warsaw)"
    re.compile(rf"(?i:author)s?[ \t]*[=:][ \t]*[{{\"]?({PERSON})"),  # "author = {Robyn Speer}"
    re.compile(rf"(?i:copyright|\(c\)|©)(?:[ \t]*(?:\([Cc]\)|©))?[ \t\d,–-]*({PERSON})"),
    BYLINE,
    re.compile(r"\b([A-Z][a-z]+ [A-Z]\. [A-Z][\w'’-]+)"),  # "Ian T. Henry": a person
    re.compile(rf"\bThanks to ({PERSON})"),  # "Thanks to Michael Howell, ..."
    re.compile(rf"^({PERSON})[ \t]+\(\d+\):[ \t]*$", re.M),  # git shortlog's "Cong Wang (2):"
)
# A changelog entry's "(Michael Howell)", or "(dbus#343; Peter Benie, Simon McVittie)" after
# an issue's number: a credit of each name that can be a person's (is_person).
ENTRY_CREDIT = re.compile(
    rf"\((?:[\w.-]*[#!]\d+[;,][ \t]*)?({PERSON}(?:,[ \t]*{PERSON})*)\)\.?[ \t]*$", re.M
)


def is_person(name: str) -> bool:
    """A name in parentheses that can be a person's: two words or more, the first no word
    of the English lexicon ("(Michael Howell)"; "(Linux Kernel)", "(GNU Emacs)" name none)."""
    words = name.split()
    return len(words) > 1 and not word_classes(words[0])


def credited_names(text: str) -> list[str]:
    """The names ``text`` credits (CREDITS, ENTRY_CREDIT), an organization's aside."""
    found = [m[1] for credit in CREDITS for m in credit.finditer(text)]
    found += [name for m in ENTRY_CREDIT.finditer(text) for name in entry_persons(m)]
    return [name for name in found if name.split()[-1].strip(".,") not in ORGANIZATION]


def uncredited(text: str) -> str:
    """``text`` without its credits (CREDITS, and a person's ENTRY_CREDIT: "(Michael
    Howell)" after each of ten changelog entries credits him ten times, no more)."""
    text = functools.reduce(lambda t, credit: credit.sub(" ", t), CREDITS, text)
    return ENTRY_CREDIT.sub(lambda m: " " if entry_persons(m) else m[0], text)


def entry_persons(credit: re.Match) -> list[str]:
    """The persons an ENTRY_CREDIT names ("Peter Benie", "Simon McVittie")."""
    return [name for name in re.split(r",[ \t]*", credit[1]) if is_person(name)]


def is_code_line(line: str) -> bool:
    """A line of a program: a prompt or a comment mark first, a statement's ';' or a
    brace last, or the shape of an import, a call or an assignment; never a sentence."""
    s = line.strip()
    if not s:
        return False
    if CODE_MARK.match(s) or CODE_END.search(s):
        return True
    return not re.search(r"[.!?]$", s) and bool(CODE_START.match(s))


def code_lines(lines: list[str]) -> set[int]:
    """Which of ``lines`` are code: each that is_code_line finds, and those a statement
    goes on over while a bracket it opened stays open ("from graphql import (" to
    "    GraphQLField, GraphQLString)", a call's arguments a line each), up to a blank
    line or STATEMENT_MAX_LINES; and what a doctest's ">>> " line prints, up to a blank
    line (psutil's README: "{'lo': [snicaddr(family=<AddressFamily.AF_INET: 2>, ...")."""
    found: set[int] = set()
    depth, start = 0, 0  # brackets the statement has left open; its first line
    prints = False  # the lines that follow are what a doctest prints
    for i, line in enumerate(lines):
        if depth > 0 and line.strip() and i - start <= STATEMENT_MAX_LINES:
            found.add(i)
        elif is_code_line(line):
            found.add(i)
            depth, start = 0, i
            prints = line.lstrip().startswith(">>>")
        elif prints and line.strip():
            found.add(i)
            continue
        else:
            depth, prints = 0, False
            continue
        depth = max(0, depth + len(OPENS.findall(line)) - len(CLOSES.findall(line)))
    return found


def is_listing_line(line: str) -> bool:
    """A row of a listing or a table: columns two spaces apart ("JQ(1)   General
    Commands Manual   JQ(1)"), or fields mostly numbers, dates, sizes and modes
    ("-rw-r--r-- 1 david git 4096 Jan 5 12:00 notes.txt"), or cells between bars."""
    s = line.strip()
    if s.startswith("|") or s.count(" | ") >= 2:
        return True
    if len(COLUMN_GAP.findall(s)) >= 2:
        return True
    fields = s.split()
    odd = sum(bool(LISTING_FIELD.match(f)) for f in fields)
    return len(fields) >= 5 and odd * 2 >= len(fields) and not re.search(r"[.!?]$", s)


def is_header_line(line: str, following: list[str]) -> bool:
    """Who wrote the message (reading/email.py's who_wrote line) or the reply below."""
    s = line.strip()
    if not s:
        return False
    return bool(writers(s)) or (
        s.endswith(":") and any(x.strip().startswith(("“", ">", "Quoted: “")) for x in following)
    )


def introduces_quote(lines: list[str], i: int) -> bool:
    """A line of a short paragraph (one or two lines) that a quoted reply follows: the
    attribution some mail programs write without "wrote:" (Andrew's "Excerpts from
    ...")."""
    if not lines[i].strip():
        return False
    start = i
    while start > 0 and lines[start - 1].strip():
        start -= 1
    end = i
    while end + 1 < len(lines) and lines[end + 1].strip():
        end += 1
    after = next((ln.strip() for ln in lines[end + 1 :] if ln.strip()), "")
    return (
        end - start < 2
        and after.startswith(("“", QUOTED))
        and not lines[i].startswith(("“", QUOTED))
    )


def quoted_name(line: str) -> list[str]:
    """The name on a line that introduces a quote, its address and notes aside ("Mark
    Crispin@cac.washing (429*)" gives "Mark"); none when more than a name is left."""
    left = re.sub(r"\([^()]*\)|\[[^\]]*\]", "", ADDRESS.sub("", line)).strip(" :")
    return [left] if re.fullmatch(r"(?:[A-Z][\w'’.-]*\s?){1,3}", left) else []


def is_footer(line: str) -> bool:
    """A short last line that is no sentence: "Part of the git(1) suite", "Generated on
    Wed Mar 30 2022 for JsonCpp by"."""
    s = line.strip()
    return len(s.split()) <= FOOTER_MAX_WORDS and not re.search(r"[.!?:”\"]$", s)


def chat_speakers(lines: list[str]) -> list[str]:
    """The speakers of a chat transcript as reading/chat.py writes it ("nick: text"):
    names that speak on more than one line, when such lines are most of the text."""
    filled = [ln for ln in lines if ln.strip()]
    said = [m[1] for ln in filled if (m := SPEAKER_LINE.match(ln))]
    if len(said) < SPEAKER_SHARE * max(1, len(filled)) or len(said) < 5:
        return []
    counts = Counter(said)
    return [name for name, n in counts.items() if n > 1]
