"""Compare HTML main-content extractors on real pages ("Which HTML extractor" in
docs/architecture.md).

    apt-get download python3.11-doc debian-handbook && for d in *.deb; do dpkg -x $d pages; done
    .venv/bin/pip install selectolax inscriptis justext readability-lxml html-text resiliparse
    .venv/bin/python bench/html_extractors.py pages/usr/share/doc [-v]

The reference is the element a page marks as its content (Sphinx: [role=main]; the
DocBook handbook: the body's section). Subject words kept: the share of the reference's
distinct words (4+ letters) found in an extractor's output. Furniture leaked: the share
of words found only in head, navigation, sidebar, footer and attributes (not in the
reference) that reach the output. Candidates that are not installed are skipped.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

PY_PAGES = [
    "tomllib",
    "fnmatch",
    "hmac",
    "heapq",
    "json",
    "glob",
    "sched",
    "copy",
    "colorsys",
    "textwrap",
    "functools",
]
HANDBOOK_PAGES = [
    "sect.backup",
    "sect.apt-get",
    "the-debian-project",
    "sect.virtual-private-network",
]
FURNITURE = [
    "head",
    "script",
    "style",
    "nav",
    "[role=navigation]",
    ".sphinxsidebar",
    ".footer",
    ".related",
    "#navigation",
    ".docnav",
    "#banner",
    ".breadcrumbs",
    ".mobile-nav",
    "#title",
    "footer",
    "header",
]
WORD = re.compile(r"[^\W\d_]{4,}")


def words(text: str) -> set[str]:
    return {w.casefold() for w in WORD.findall(text)}


def attribute_words(node) -> set[str]:
    return words(" ".join(str(v) for v in node.attributes.values() if v))


def reference(html: str) -> tuple[set[str], set[str]]:
    """(words of the page's own content element, words found only in its furniture)."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    main = tree.css_first("[role=main]") or tree.css_first("body > div.section")
    main = main or tree.css_first("body > div.chapter") or tree.css_first("body > div")
    for node in main.css("script, style, .headerlink"):
        node.decompose()
    content = words(main.text(separator=" "))
    page = LexborHTMLParser(html)
    furniture = {"script", "link", "meta", "stylesheet", "href", "charset", "viewport"}
    for selector in FURNITURE:
        for node in page.css(selector):
            furniture |= words(node.text(separator=" ")) | attribute_words(node)
            for child in node.css("*"):
                furniture |= attribute_words(child)
    return content, furniture - content


def trafilatura_recall(html: str) -> str:
    import trafilatura

    return trafilatura.extract(html, include_tables=True, favor_recall=True) or ""


def trafilatura_precision(html: str) -> str:
    import trafilatura

    return trafilatura.extract(html, include_tables=True) or ""


def resiliparse_main(html: str) -> str:
    from resiliparse.extract.html2text import extract_plain_text

    return extract_plain_text(html, main_content=True)


def selectolax_strip(html: str) -> str:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    for node in tree.css(
        "head, script, style, nav, header, footer, aside, noscript, template, "
        "[role=navigation], [role=banner], [role=contentinfo], [role=complementary]"
    ):
        node.decompose()
    return tree.body.text(separator="\n") if tree.body else ""


def inscriptis_text(html: str) -> str:
    from inscriptis import get_text

    return get_text(html)


def justext_paragraphs(html: str) -> str:
    import justext

    paragraphs = justext.justext(html.encode(), justext.get_stoplist("English"))
    return "\n".join(p.text for p in paragraphs if not p.is_boilerplate)


def readability_summary(html: str) -> str:
    import lxml.html
    from readability import Document

    return lxml.html.fromstring(Document(html).summary(html_partial=True)).text_content()


def html_text_text(html: str) -> str:
    import html_text

    return html_text.extract_text(html)


EXTRACTORS: dict[str, Callable[[str], str]] = {
    "trafilatura (favor_recall)": trafilatura_recall,
    "trafilatura (precision)": trafilatura_precision,
    "resiliparse (main_content)": resiliparse_main,
    "selectolax (drop furniture tags)": selectolax_strip,
    "inscriptis": inscriptis_text,
    "jusText": justext_paragraphs,
    "readability-lxml": readability_summary,
    "html-text": html_text_text,
}


def available(fn: Callable[[str], str]) -> bool:
    try:
        fn("<html><body><p>probe</p></body></html>")
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("docs", type=Path, help="the unpacked packages' usr/share/doc folder")
    parser.add_argument("-v", action="store_true", help="each page's figures and leaked words")
    args = parser.parse_args(argv)
    docs = args.docs
    pages = [docs / "python3.11/html/library" / f"{p}.html" for p in PY_PAGES]
    pages += [docs / "debian-handbook/html/en-US" / f"{p}.html" for p in HANDBOOK_PAGES]
    tools = {name: fn for name, fn in EXTRACTORS.items() if available(fn)}
    results: dict[str, list[tuple[float, float, float, list[str]]]] = {n: [] for n in tools}
    for page in pages:
        html = page.read_text(encoding="utf-8")
        content, furniture = reference(html)
        for name, fn in tools.items():
            started = time.perf_counter()
            found = words(fn(html))
            seconds = time.perf_counter() - started
            kept = len(content & found) / len(content)
            leaked = len(furniture & found) / max(1, len(furniture))
            results[name].append((kept, leaked, seconds, sorted(furniture & found)[:8]))
    print(
        "| extractor | subject words kept (mean, worst) | furniture leaked (mean, worst) | ms/page |"
    )
    print("|---|---|---|---:|")
    for name, rows in results.items():
        print(
            f"| {name} | {statistics.mean(r[0] for r in rows):.1%}, {min(r[0] for r in rows):.1%} "
            f"| {statistics.mean(r[1] for r in rows):.1%}, {max(r[1] for r in rows):.1%} "
            f"| {1000 * statistics.mean(r[2] for r in rows):.0f} |"
        )
    if args.v:
        for name, rows in results.items():
            for page, r in zip(pages, rows, strict=True):
                print(f"{name}: {page.name}: kept {r[0]:.0%}, leaked {r[1]:.0%} {r[3]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
