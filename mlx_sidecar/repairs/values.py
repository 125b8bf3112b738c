"""Values of an `extract` answer against their document: which ones the document does not
state (``not_in_document``), and how the answers of a long document's chunks combine
(``merge_chunk_answers``).

The rule of ``not_in_document``: it lists the JSON pointer of every value the document does
not state, compared the way a person reading both would. It is never a filter: the value
stays in the answer and the caller decides.

- Which values: strings and numbers, array items one by one (/tags/0). Not an ``enum`` or
  ``const`` choice (a choice is the schema's word, not the document's), not a boolean (a
  judgment, not a quote), never null, and not an empty string (it claims nothing). Numbers
  are checked like strings: an invoice total or a year the document never writes is as
  invented as a name, and that is what a caller needs to know.
- Text: found when its words stand in the document in that order, with case, whitespace,
  line breaks and punctuation between or around them not counting, nor typographic quotes
  and dashes against plain ones, nor a "v" before a version number ("v2.0" and "2.0").
  Text in a CJK script is found inside a longer run of CJK characters (no word breaks).
- A name in another order: a value of 2 to 4 words (no digits) is also found when the same
  words stand next to each other in another order: "John Smith" in "Smith, John" or
  "SMITH John". Initials and left-out middle names are not matched: "J. Smith" against
  "John Smith" is listed, as the document never writes it so.
- Dates: a value that is a date, however written, is found when the document writes the
  same day in any of the common ways: 2007-11-09, 9 November 2007, Nov 9, 2007, 9th of
  November 2007, 09.11.2007, 9-Nov-07, "Fri, 9 Nov 2007 10:12:00 +0100" in an e-mail header,
  2007年11月9日, with month names (full and abbreviated) of English, French, German, Spanish,
  Italian, Portuguese and Dutch from babel, and of any language passed in ``languages``.
  Numeric day/month orders count either way (09/11/2007 is 9 November and 11 September);
  a two-digit year is 19xx or 20xx; a weekday is not compared. A month (2007-11, "November 2007") is found when the
  document names that month or a day in it. A time in the value (2007-11-09T10:12) must
  also stand in the document (10:12, 10:12 am); its time zone is not compared.
- Numbers: a value that is a number (a JSON number, or a string such as "1234.50",
  "$1,234.50", "12 %", "EUR 1.234,50") is found when a number of the same value stands in
  the document, with thousands separators (",", ".", "'", spaces) and decimal commas read
  both ways where ambiguous (1,234 is 1234 or 1.234), trailing zeros not counting
  (1234.5 = 1,234.50) and the sign not compared (a discount written 20.00 may be -20).
  A currency the value names ("$", "USD", "€") must also stand in the document, as its
  symbol or its ISO code; a percent value needs that number followed by "%" or "percent".
  Numbers written in words ("twelve") are not read.

``merge_chunk_answers``: the answers of a long document's chunks, in document order, become
one answer that still validates against the schema: for a scalar, the first non-null value
the document states wins (else the first non-null, else null); an array is the union of the
chunks' arrays in order without repeats (strings case-folded), cut at ``maxItems`` keeping
the items the document states first; a nested object is merged field by field.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from ..schemas import pointer
from ..text import CJK

# Month names of these languages are always read; a request's `language` adds its own.
DATE_LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "nl")
NAME_ORDER_WORDS = (2, 4)  # values of 2-4 words may stand in the document in another order
TYPOGRAPHY = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "‚": "'",
        "‛": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "«": '"',
        "»": '"',
        "‐": "-",
        "‑": "-",
        "‒": "-",
        "–": "-",
        "—": "-",
        "−": "-",
        "\u00ad": None,  # a soft hyphen is invisible
    }
)
WORD = re.compile(r"\w+")
VERSION_V = re.compile(r"v(\d+)")
NUMBER = re.compile(r"\d+(?:[.,' ]\d+)*")
TIME = r"(\d{1,2}):(\d{2})(?::\d{2}(?:\.\d+)?)?(?:\s*([ap])\.?m\b\.?)?"
TIME_AT_END = re.compile(
    rf"(?:[t\s,]+|\s+at\s+){TIME}(?:\s*(?:z|utc|gmt|[+-]\d{{2}}:?\d{{2}}|\(?[a-z]{{2,5}}\)?))*$"
)
PERCENT_AFTER = re.compile(r"\s*(?:%|percent\b|per cent\b)")


def text_key(text: str) -> str:
    """Text as compared: NFKC (no-break spaces, full-width letters, ligatures), typographic
    quotes and dashes plain, case-folded, whitespace and line breaks one space."""
    normal = unicodedata.normalize("NFKC", text).translate(TYPOGRAPHY)
    return " ".join(normal.casefold().split())


def not_in_document(
    data: Any, schema: dict, document: str, *, languages: Iterable[str] = ()
) -> list[str]:
    """The JSON pointers of the answer's string and number values (not enum/const choices)
    that ``document`` does not state, by the rule in this module's docstring."""
    evidence = Evidence(document, languages)
    missing: list[str] = []
    _walk(data, schema, (), evidence, missing)
    return missing


def merge_chunk_answers(
    answers: list[dict],
    schema: dict,
    document: str | None = None,
    *,
    languages: Iterable[str] = (),
) -> dict:
    """One answer from the answers of a long document's chunks (in document order), by the
    rule in this module's docstring. Without ``document`` no value counts as stated: the
    first non-null one wins."""
    if not answers:
        raise ValueError("no chunk answers to merge")
    evidence = Evidence(document, languages) if document is not None else None
    return _merge(answers, schema, evidence)


class Evidence:
    """What a document states, read once for many values: its words, dates, times and
    numbers, each read the first time a value needs it."""

    def __init__(self, document: str, languages: Iterable[str] = ()) -> None:
        self.key = text_key(document)
        self.languages = tuple(dict.fromkeys((*DATE_LANGUAGES, *languages)))

    def states(self, value: Any) -> bool:
        """Whether the document states this string or number (True for an empty string)."""
        if isinstance(value, bool) or value is None:
            return True
        if isinstance(value, (int, float)):
            return bool(_number_candidates(value) & self.numbers)
        key = text_key(value)
        if not WORD.search(key):
            return True
        number = _parse_number(key, value)
        if number is not None and (number[1] or number[2]):  # a currency or a percentage
            return self._states_number(*number)
        if self._states_text(key):
            return True
        if number is not None:
            return self._states_number(*number)
        date = _parse_date(key, self.languages)
        if date is not None:
            return self._states_date(*date)
        return self._states_in_other_order(key)

    # --- words ---

    @functools.cached_property
    def words(self) -> list[str]:
        return _loose_words(self.key)

    @functools.cached_property
    def words_text(self) -> str:
        return " " + " ".join(self.words) + " "

    def _states_text(self, key: str) -> bool:
        needle = " ".join(_loose_words(key))
        left = "" if CJK.match(needle[0]) else " "
        right = "" if CJK.match(needle[-1]) else " "
        return left + needle + right in self.words_text

    def _states_in_other_order(self, key: str) -> bool:
        words = _loose_words(key)
        low, high = NAME_ORDER_WORDS
        if not low <= len(words) <= high or any(w.isdigit() for w in words):
            return False
        target, first = sorted(words), set(words)
        return any(
            word in first and sorted(self.words[i : i + len(words)]) == target
            for i, word in enumerate(self.words)
        )

    # --- dates ---

    @functools.cached_property
    def dates(self) -> tuple[set, set, set]:
        """(days, months, times) the document writes: (y, m, d), (y, m) and (h, m)."""
        days, months = _dates_in(self.key, self.languages, search=True)
        months |= {(y, m) for y, m, _ in days}
        times = {_time(*t) for t in re.findall(TIME, self.key)}
        return days, months, times

    def _states_date(self, days: set, months: set, time: tuple | None) -> bool:
        doc_days, doc_months, doc_times = self.dates
        if time is not None and time not in doc_times:
            return False
        return bool(days & doc_days or months & doc_months)

    # --- numbers ---

    @functools.cached_property
    def numbers(self) -> set[Decimal]:
        found: set[Decimal] = set()
        for match in NUMBER.finditer(self.key):
            found |= _interpretations(match.group(), runs=True)
        return found

    @functools.cached_property
    def percents(self) -> set[Decimal]:
        found: set[Decimal] = set()
        for match in NUMBER.finditer(self.key):
            if PERCENT_AFTER.match(self.key, match.end()):
                found |= _interpretations(match.group(), runs=False)
        return found

    def _states_number(self, values: set[Decimal], currencies: list[str], percent: bool) -> bool:
        if not values & (self.percents if percent else self.numbers):
            return False
        return all(self._states_currency(c) for c in currencies)

    def _states_currency(self, mark: str) -> bool:
        for form in _currency_forms(mark):
            pattern = re.escape(form.casefold())
            if form.isalpha():
                pattern = rf"(?<![^\W\d_]){pattern}(?![^\W\d_])"
            if re.search(pattern, self.key):
                return True
        return False


# --- walking answers ------------------------------------------------------------------


def _walk(value: Any, node: dict | None, path: tuple, evidence: Evidence, missing: list) -> None:
    if value is None or isinstance(value, bool) or _is_choice(node):
        return
    node = node or {}
    if isinstance(value, dict):
        properties = node.get("properties", {})
        for name, sub in value.items():
            _walk(sub, properties.get(name), (*path, name), evidence, missing)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _walk(item, node.get("items"), (*path, i), evidence, missing)
    elif not evidence.states(value):
        missing.append(pointer(path))


def _is_choice(node: dict | None) -> bool:
    return node is not None and ("enum" in node or "const" in node)


def _merge(values: list, node: dict, evidence: Evidence | None) -> Any:
    present = [v for v in values if v is not None]
    if not present:
        return None
    first = present[0]
    if isinstance(first, dict):
        dicts = [v for v in present if isinstance(v, dict)]
        names = dict.fromkeys([*node.get("properties", {}), *(k for d in dicts for k in d)])
        merged = {}
        for name in names:
            found = [d[name] for d in dicts if name in d]
            if found:
                merged[name] = _merge(found, node.get("properties", {}).get(name, {}), evidence)
        return merged
    if isinstance(first, list):
        return _union([v for v in present if isinstance(v, list)], node, evidence)
    if evidence is not None and not _is_choice(node):
        for value in present:
            if evidence.states(value):
                return value
    return first


def _union(lists: list[list], node: dict, evidence: Evidence | None) -> list:
    """The lists' items in order, each once (strings case-folded), at most maxItems of them
    (those the document states first), at least minItems (repeats put back if need be)."""
    union, repeats, seen = [], [], set()
    for items in lists:
        for item in items:
            key = _item_key(item)
            (repeats if key in seen else union).append(item)
            seen.add(key)
    least, most = node.get("minItems", 0), node.get("maxItems")
    if len(union) < least:
        union += repeats[: least - len(union)]
    if most is not None and len(union) > most:
        keep = list(range(len(union)))
        if evidence is not None:
            item_node = node.get("items", {})
            keep.sort(key=lambda i: not _stated(union[i], item_node, evidence))
        union = [union[i] for i in sorted(keep[:most])]
    return union


def _stated(value: Any, node: dict, evidence: Evidence) -> bool:
    missing: list[str] = []
    _walk(value, node, (), evidence, missing)
    return not missing


def _item_key(item: Any) -> str:
    if isinstance(item, str):
        return "s" + text_key(item)
    if isinstance(item, (int, float)) and not isinstance(item, bool):
        return "n" + str(next(iter(_number_candidates(item))).normalize())
    return "j" + text_key(json.dumps(item, sort_keys=True, ensure_ascii=False))


# --- words ----------------------------------------------------------------------------


def _loose_words(key: str) -> list[str]:
    """The words of a text key, punctuation dropped, "v2" read as "2"."""
    return [VERSION_V.sub(r"\1", w) if VERSION_V.fullmatch(w) else w for w in WORD.findall(key)]


# --- numbers --------------------------------------------------------------------------


def _number_candidates(value: int | float) -> set[Decimal]:
    return {abs(Decimal(value if isinstance(value, int) else repr(value)))}


def _interpretations(token: str, runs: bool) -> set[Decimal]:
    """The values a written number may have: separators read as thousands groups or a
    decimal point/comma, where the groups allow; with ``runs`` also each run of digits of a
    token with two separators or more (a document's "09.11.2007" states 9, 11 and 2007,
    "1.7.9" states 7). A token with one separator is one number: "12,080" states 12080
    or 12.08, never 12 (an answer that cut the document's total at its comma)."""
    separators = re.findall(r"\D", token)
    found = (
        {Decimal(r) for r in re.findall(r"\d+", token)} if runs and len(separators) > 1 else set()
    )
    if not separators:
        return found | {Decimal(token)}
    if _grouped(token):
        found.add(Decimal(re.sub(r"\D", "", token)))
    if separators[-1] in ".,":
        head, _, fraction = token.rpartition(separators[-1])
        if _grouped(head):
            found.add(Decimal(re.sub(r"\D", "", head) + "." + fraction))
    return found


def _grouped(token: str) -> bool:
    """Digits in thousands groups with one separator: "1,234,567", "1 234", or no separator."""
    separators = set(re.findall(r"\D", token))
    if not separators:
        return True
    if len(separators) > 1:
        return False
    groups = re.split(r"\D", token)
    return 1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])


def _parse_number(key: str, raw: str) -> tuple[set[Decimal], list[str], bool] | None:
    """A string value that is a number: (its possible values, the currencies it names,
    whether it is a percentage); None for any other string."""
    currencies = [c for c in raw if unicodedata.category(c) == "Sc"]
    rest = "".join(c for c in key if unicodedata.category(c) != "Sc")
    codes = _currency_codes()
    edge = re.match(r"^([a-z]{3})\b\s*", rest) or re.search(r"\s*\b([a-z]{3})$", rest)
    if edge and edge.group(1).upper() in codes:
        currencies.append(edge.group(1).upper())
        rest = rest[: edge.start()] + rest[edge.end() :]
    rest = rest.strip(" ()")
    percent = bool(re.search(r"\s*%$", rest))
    rest = re.sub(r"\s*%$", "", rest)
    rest = re.sub(r"^[-+]\s*", "", rest)
    if not re.fullmatch(NUMBER.pattern, rest):
        return None
    try:
        values = _interpretations(rest, runs=False)
    except InvalidOperation:
        return None
    return (values, currencies, percent) if values else None  # "3.2.1" is a version


@functools.cache
def _currency_codes() -> frozenset[str]:
    from babel.numbers import list_currencies

    return frozenset(list_currencies())


@functools.cache
def _currency_forms(mark: str) -> tuple[str, ...]:
    """A currency as a document may write it: the symbol and the ISO codes it stands for
    ("$" and "USD"; "EUR" and "€"), by babel's English symbols."""
    from babel.numbers import get_currency_symbol

    if mark.isalpha():
        return (mark, get_currency_symbol(mark, locale="en"))
    codes = [c for c in _currency_codes() if get_currency_symbol(c, locale="en") == mark]
    return (mark, *codes)


# --- dates ----------------------------------------------------------------------------


@functools.cache
def _calendar_words(languages: tuple[str, ...]) -> tuple[dict[str, int], frozenset[str]]:
    """Month names (full and abbreviated, both grammatical forms) to numbers, and weekday
    names, of the languages, case-folded, from babel's CLDR data."""
    from babel import Locale, UnknownLocaleError

    months: dict[str, int] = {"sept": 9}
    weekdays: set[str] = set()
    for language in languages:
        try:
            locale = Locale.parse(language)
        except (ValueError, TypeError, UnknownLocaleError):
            continue
        for context in ("format", "stand-alone"):
            for width in ("wide", "abbreviated"):
                for number, name in locale.months[context][width].items():
                    name = text_key(name).rstrip(".")
                    if len(name) >= 3 and not any(c.isdigit() for c in name):
                        months.setdefault(name, number)
                for name in locale.days[context][width].values():
                    weekdays.add(text_key(name).rstrip("."))
    return months, frozenset(weekdays)


@functools.cache
def _date_patterns(languages: tuple[str, ...]) -> tuple[list, list]:
    """Regexes of a day (groups named y, m, d; ``mon`` for a month name) and of a month."""
    months, _ = _calendar_words(languages)
    mon = "|".join(re.escape(n) for n in sorted(months, key=len, reverse=True))
    mon = rf"(?P<mon>{mon})(?!\w)\.?"
    day = r"(?P<d>\d{1,2})(?!\d)"
    year = r"(?P<y>\d{4}|\d{2})(?!\d)"
    days = [
        rf"(?P<y>\d{{4}})([-/.])(?P<m>\d{{1,2}})\2{day}",  # 2007-11-09
        rf"(?P<swap>){day}([./-]) ?(?P<m>\d{{1,2}})\3 ?{year}",  # 09.11.2007, 9/11/07
        rf"{day}(?:st|nd|rd|th|er|º)?\.?[\s/-]*(?:of |de )?{mon},?[\s/-]*(?:de |del )?{year}",
        rf"{mon},?\s*{day}(?:st|nd|rd|th)?,?\s+{year}",  # Nov 9, 2007
        rf"(?P<y>\d{{4}})\.?\s+{mon}\s+{day}",  # 2007 Nov 9
        rf"(?P<y>\d{{4}})\s*[年년]\s*(?P<m>\d{{1,2}})\s*[月월]\s*{day}\s*[日일]",
    ]
    month_only = [
        rf"{mon},?\s+(?:de |del )?(?P<y>\d{{4}})(?!\d)",  # November 2007
        r"(?P<y>\d{4})-(?P<m>\d{2})(?![\d-])",  # 2007-11
        r"(?P<y>\d{4})\s*[年년]\s*(?P<m>\d{1,2})\s*[月월](?!\s*\d)",
    ]
    edge = r"(?<![\w.])"
    return (
        [re.compile(edge + p) for p in days],
        [re.compile(edge + p) for p in month_only],
    )


def _dates_in(key: str, languages: tuple[str, ...], search: bool) -> tuple[set, set]:
    """The days (y, m, d) and months (y, m) a text writes (``search``), or that the whole
    text is (not ``search``): a value that is a date."""
    months_by_name, _ = _calendar_words(languages)
    day_patterns, month_patterns = _date_patterns(languages)
    days: set = set()
    months: set = set()
    for patterns, into in ((day_patterns, days), (month_patterns, months)):
        for pattern in patterns:
            matches = pattern.finditer(key) if search else [pattern.fullmatch(key)]
            for match in filter(None, matches):
                into |= _readings(match.groupdict(), months_by_name, into is days)
    return days, months


def _readings(groups: dict, months_by_name: dict[str, int], with_day: bool) -> set:
    """The dates one match may mean: both day/month orders of an all-numeric date, both
    centuries of a two-digit year; none that is no real date."""
    month = months_by_name[groups["mon"]] if groups.get("mon") else int(groups["m"])
    years = [int(groups["y"])]
    if len(groups["y"]) == 2:
        years = [1900 + years[0], 2000 + years[0]]
    if not with_day:
        return {(y, month) for y in years if 1 <= month <= 12}
    day = int(groups["d"])
    orders = [(month, day)]
    if groups.get("swap") is not None:  # an all-numeric day.month.year: month.day too
        orders.append((day, month))
    found = set()
    for y in years:
        for m, d in orders:
            if 1 <= m <= 12 and 1 <= d <= 31:
                found.add((y, m, d))
    return found


def _parse_date(key: str, languages: tuple[str, ...]) -> tuple[set, set, tuple | None] | None:
    """A string value that is a date (with a weekday and a time allowed around it):
    (its possible days, its possible months, its time or None); None for other strings."""
    _, weekdays = _calendar_words(languages)
    time = None
    timed = TIME_AT_END.search(key)
    if timed and timed.start() > 0:
        time = _time(*timed.groups())
        key = key[: timed.start()]
    first = re.match(r"([^\W\d_]+)\.?,?\s+", key)
    if first and first.group(1) in weekdays:
        key = key[first.end() :]
    key = key.strip(" ,.")
    days, months = _dates_in(key, languages, search=False)
    if not days and not months:
        return None
    return days, months, time


def _time(hour: str, minute: str, half: str | None = None) -> tuple[int, int]:
    h = int(hour) % 12 + (12 if half == "p" else 0) if half else int(hour)
    return h, int(minute)
