"""Reading documents: each format by its own parser, the subject without the furniture.

The unit tests import server.py for its reading functions; the rest drive the real
server on the bundled SmolLM2 with real pages from the corpus.
"""

from __future__ import annotations

import pytest
from conftest import ROOT

from mlx_sidecar import errors, reading, repairs
from mlx_sidecar.reading import rst
from mlx_sidecar.repairs import tags as tag_rules

CORPUS = ROOT / "bench" / "corpus"
TOMLLIB_PAGE = CORPUS / "29-python-tomllib-page.html"
PYTEST_README = CORPUS / "34-pytest-readme.rst"
SORTED_README = CORPUS / "32-sortedcontainers-readme.rst"
DOTENV = CORPUS / "35-python-dotenv-readme-changelog.md"
MARKUP_WORDS = {"image", "images", "target", "alt", "link rel", "script src", "href", "meta"}

MARKDOWN = """# Tern

[![Build](https://ci.example.org/badge.svg)](https://ci.example.org)
[![PyPI](https://img.shields.io/pypi/v/tern.svg)](https://pypi.org/project/tern/)

Tern schedules seabird counts along a coastline and keeps the tallies per colony.

```python
import tern
tern.count("puffin")
```

## Installation

```
pip install tern
```

## Links

- [Documentation](https://tern.example.org)
- [Source](https://example.org/tern)

## Changelog

### 1.2.0 (2024-05-01)

- Add support for gannets.

## License

MIT, see LICENSE.
"""

RST = """Tern
====

.. image:: https://ci.example.org/badge.svg
   :target: https://ci.example.org
   :alt: Build status

.. |pypi| image:: https://img.shields.io/pypi/v/tern.svg

:Author: Jane Doe
:Version: 1.2

Tern schedules seabird counts along a coastline with :func:`tern.count`.

.. note:: Counts are kept per colony.

.. raw:: html

   <script>alert("raw")</script>

.. include:: /etc/hostname

.. toctree::
   :maxdepth: 2

   intro
   api

.. function:: count(species)

   Add one bird of *species* to the tally.

.. figure:: map.png

   A map of the colonies.
"""

HTML = """<!DOCTYPE html>
<html><head><title>Tern</title><meta name="description" content="metadescription">
<link rel="stylesheet" href="style.css"><script src="app.js"></script>
<style>body { colour: navy }</style></head>
<body>
<nav><a href="/">Home</a> <a href="/about">Aboutnav</a></nav>
<header><p>Headerbanner for every page</p></header>
<main><article>
<h1>Tern, a seabird counter</h1>
<p>Tern schedules seabird counts along a coastline and keeps the tallies per colony.
Volunteers walk fixed stretches of the shore at dawn and note every puffin, gannet and
kittiwake they see, and Tern adds the counts up per colony and per season.</p>
<p>Each colony has a history of counts, so a drop in numbers shows early. The counts are
exported as tables that the national survey reads every winter.</p>
</article></main>
<aside><p>Sidebarpromo: read our other tools</p></aside>
<footer><p>Copyright 2024 Footerco. All rights reserved.</p></footer>
<script>var trackingscript = 1;</script>
</body></html>
"""


def read(text: str, fmt: str = "auto") -> reading.Reading:
    return reading.read_document(text, fmt)


# --- Which format -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (HTML, "html"),
        (MARKDOWN, "markdown"),
        (RST, "rst"),
        ("A plain note about terns.\n\nThey nest on the coast.", "text"),
        ((CORPUS / "23-cpython-heapq-source.txt").read_text(encoding="utf-8"), "text"),
        (TOMLLIB_PAGE.read_text(encoding="utf-8"), "html"),
        (PYTEST_README.read_text(encoding="utf-8"), "rst"),
        ((CORPUS / "10-attrs-readme.md").read_text(encoding="utf-8"), "markdown"),
        ((CORPUS / "05-pride-and-prejudice-ch1-5.txt").read_text(encoding="utf-8"), "text"),
    ],
)
def test_each_format_is_detected(text, expected):
    assert reading.detect_format(text) == expected


def test_an_explicit_format_is_how_the_text_is_read():
    assert read(RST, "text").text == RST.strip()  # plain text stays as it is
    assert read(RST, "text").format == "text"
    assert ".. image::" not in read(RST, "rst").text


def test_an_unknown_format_is_invalid_params():
    with pytest.raises(errors.InvalidParams, match="format"):
        reading.require_format("docx")
    with pytest.raises(errors.InvalidParams, match="format"):
        reading.require_format({"format": 3})
    assert reading.require_format({}) == "auto"


# --- HTML ---------------------------------------------------------------------------------


def test_html_keeps_the_main_content_and_drops_head_scripts_and_furniture():
    text = read(HTML).text
    assert "Tern, a seabird counter" in text and "kittiwake" in text
    for furniture in (
        "metadescription",
        "stylesheet",
        "app.js",
        "navy",
        "Aboutnav",
        "Headerbanner",
        "Sidebarpromo",
        "Footerco",
        "trackingscript",
        "<",
    ):
        assert furniture not in text, furniture


def test_a_python_library_page_reads_as_its_module():
    text = read(TOMLLIB_PAGE.read_text(encoding="utf-8")).text
    assert text.startswith("tomllib — Parse TOML files")
    assert "tomllib.loads" in text
    for furniture in (
        "Python Software Foundation",
        "Navigation",
        "Previous topic",
        "Report a Bug",
        "Source code:",  # a label and a link
        "stylesheet",
        "documentation_options",
        "¶",
    ):
        assert furniture not in text, furniture


def test_an_html_fragment_gives_its_text():
    text = read("<div><p>Terns</p><p>nest</p><p>on</p><p>coasts</p><br></div>").text
    assert text.split() == ["Terns", "nest", "on", "coasts"]


SECTIONS = "".join(
    f"<h3>Step {n}</h3><p>The processor compiles template {n} of the stylesheet into a plan. "
    f"It then matches nodes of the source tree against pattern {n}, and the output tree "
    f"grows by the nodes that the template writes for each match it finds.</p>"
    for n in range(1, 31)
)
TABLE_LAID_OUT = (  # an old manual's page: the whole page is nested tables (libxslt's)
    "<html><head><title>The XSLT C library</title></head><body><table><tr><td><table><tr>"
    "<td><h1>The XSLT C library</h1><h2>Library internals</h2></td></tr></table></td></tr>"
    "</table><table><tr><td valign='top'><table><tr><td><a href='index.html'>Home</a></td>"
    "</tr><tr><td><a href='faq.html'>FAQ</a></td></tr></table></td><td valign='top'>"
    f"{SECTIONS}<table><tr><td>xsltApplyStylesheet</td><td><p>applies a stylesheet</p></td>"
    "</tr></table></td></tr></table></body></html>"
)


def test_a_page_laid_out_in_nested_tables_reads_once_paragraph_by_paragraph():
    page = read(TABLE_LAID_OUT)
    assert page.text.count("template 7 of the stylesheet") == 1  # no nested row read twice
    assert "Step 7\n\nThe processor compiles template 7" in page.text  # not run together
    assert "xsltApplyStylesheet | applies a stylesheet" in page.text  # a data table's row
    assert len(page.text) < len(TABLE_LAID_OUT)


# --- Markdown -------------------------------------------------------------------------------


def test_markdown_keeps_the_subject_and_code_and_drops_the_furniture():
    text = read(MARKDOWN).text
    assert text.startswith("Tern\n\nTern schedules seabird counts")
    assert 'tern.count("puffin")' in text  # code blocks are kept: they name the API
    for furniture in (
        "Build",
        "PyPI",
        "pip install",
        "Installation",
        "Documentation",
        "Source",
        "gannets",
        "1.2.0",
        "MIT",
        "License",
        "#",
        "](",
        "![",
    ):
        assert furniture not in text, furniture


def test_a_readme_with_a_changelog_reads_without_the_changelog():
    text = read(DOTENV.read_text(encoding="utf-8")).text
    assert "python-dotenv reads key-value pairs from a .env file" in text
    assert "ShamikOfficial" not in text and "[1.2.4]" not in text  # release entries
    assert len(text) < 0.4 * len(DOTENV.read_text(encoding="utf-8"))


def test_a_document_that_is_all_furniture_still_reads_as_something():
    text = read("## License\n\nMIT License. Copyright (c) 2024 Jane Doe.\n\n**Free** to use.")
    assert "MIT License" in text.text


# --- reStructuredText -------------------------------------------------------------------------


def test_rst_directives_options_and_fields_give_no_words_and_admonitions_do():
    text = read(RST).text
    assert "Tern schedules seabird counts along a coastline with tern.count." in text
    assert "Counts are kept per colony." in text  # the note's text
    assert "Add one bird of species to the tally." in text  # a Sphinx directive's content
    for silent in (
        "badge",
        "Build status",
        "ci.example.org",
        "Jane Doe",
        "Author",
        "pypi",
        "alert",
        "script",
        "intro",
        "maxdepth",
        "map.png",
        "A map of",
        ":func:",
    ):
        assert silent not in text, silent


def test_rst_never_reads_a_file_the_document_names(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("the contents of a private file", encoding="utf-8")
    doc = (
        f"Title\n=====\n\nSome text.\n\n.. include:: {secret}\n\n.. raw:: html\n   :file: {secret}"
        f"\n\n.. csv-table::\n   :file: {secret}\n\n.. literalinclude:: {secret}\n"
    )
    assert "private file" not in read(doc, "rst").text


def test_rst_with_errors_writes_nothing_to_stdout_or_stderr(capfd):
    text = read(
        "Title\n=====\n\n*unclosed emphasis and `a bad role <\n\n.. unknown:: x\n\n"
        "   body\n\n====\nNo\n",
        "rst",
    ).text
    assert "Title" in text
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_an_rst_readme_reads_without_badges_link_lists_or_sponsors():
    text = read(PYTEST_README.read_text(encoding="utf-8")).text
    assert "The pytest framework makes it easy to write small tests" in text
    for furniture in (
        "shields.io",
        "image",
        "Open Collective",
        "Tidelift",
        "MIT license",
        "pip install",
    ):
        assert furniture not in text, furniture
    sorted_text = read(SORTED_README.read_text(encoding="utf-8")).text
    assert "Sorted Containers is an Apache2 licensed sorted collections library" in sorted_text
    assert "Sorted Containers at PyPI" not in sorted_text  # a link list


def test_sphinx_roles_read_as_their_text():
    assert rst.role_text(":mod:`json`") == "json"
    assert rst.role_text(":ref:`the tutorial <tut-intro>`") == "the tutorial"
    assert rst.role_text(":func:`~json.loads`") == "loads"


# --- The subject the title names -------------------------------------------------------------

MENTIONS = " Then {0} again, and {0} once more."


# fmt: off
SUBJECT_CASES = [
    # Python's library page: the module before the dash of its <h1>.
    ("<html><head><title>x</title></head><body><nav>Index</nav><main>"
     "<h1>fnmatch — Unix filename pattern matching</h1><p>The fnmatch module matches names."
     "</p><p>Use fnmatch.fnmatch() to test one name; fnmatch.filter() for a list.</p>"
     "<p>The patterns of fnmatch are not regular expressions.</p></main></body></html>",
     "html", "fnmatch"),
    # A README that opens with its logo: the alt text (Markdown's HTML, reST's image).
    ('<p align="center"><a href="https://www.attrs.org/"><img src="logo.svg" alt="attrs" />'
     "</a></p>\n\n*attrs* writes classes for you." + MENTIONS.format("attrs"), "markdown", "attrs"),
    (".. image:: https://example.org/logo.svg\n   :target: https://example.org\n   :alt: pytest"
     "\n\nThe pytest framework makes tests easy." + MENTIONS.format("pytest"), "rst", "pytest"),
    # A genre word and an article around the name; a section number before it.
    ("Argparse Tutorial\n=================\n\nArgparse." + MENTIONS.format("argparse"),
     "rst", "Argparse"),
    ("An introduction to the ipaddress module\n" + "=" * 39 + "\n\nMeet ipaddress."
     + MENTIONS.format("ipaddress"), "rst", "ipaddress"),
    ("## B.5. L'espace utilisateur\n\nL'espace utilisateur." + MENTIONS.format("espace utilisateur"),
     "markdown", "espace utilisateur"),
    ("## B.5. ユーザ空間\n\n「ユーザ空間」とはプロセスの実行環境。ユーザ空間とユーザ空間。",
     "markdown", "ユーザ空間"),
    # A manual page's header: the name as the page writes it, not in capitals.
    ("JQ(1)        General Commands Manual        JQ(1)\n\nNAME\n       jq - JSON processor"
     + MENTIONS.format("jq"), "text", "jq"),
    # No subject: a title the text never repeats, a first heading after the text,
    # furniture, a first line that is a sentence.
    ("Whetting Your Appetite\n======================\n\nPython is easy. Python is fun.", "rst", ""),
    ("Terns count seabirds. Terns count.\n\n## Features\n\nFeatures, features.", "markdown", ""),
    ("# Installation\n\nInstallation is pip. Installation again. Installation.", "markdown", ""),
    ('"""Heap queue algorithm.\n\nheap heap heap"""', "text", ""),
]
# fmt: on


@pytest.mark.parametrize(("document", "fmt", "subject"), SUBJECT_CASES)
def test_the_subject_is_what_the_title_names_and_the_text_repeats(document, fmt, subject):
    assert tag_rules.title_subject(reading.read_document(document, fmt)) == subject


def test_the_title_subject_leads_the_tags_only_when_no_tag_names_it():
    page = reading.read_document(
        "fnmatch — Unix filename pattern matching\n\nThe fnmatch module."
        + MENTIONS.format("fnmatch")
    )
    assert repairs.with_title_subject(["pattern", "Unix"], page, 5) == [
        "fnmatch",
        "pattern",
        "Unix",
    ]
    assert repairs.with_title_subject(["pattern", "Unix", "glob"], page, 3) == [
        "fnmatch",
        "pattern",
        "Unix",
    ]
    named = ["fnmatch.filter", "patterns"]  # a strong model's answer: unchanged
    assert repairs.with_title_subject(named, page, 5) == named
    vpn = reading.read_document(
        "## 10.3. Virtual Private Network\n\nA Virtual Private Network links sites."
        + MENTIONS.format("Virtual Private Network")
    )
    assert repairs.with_title_subject(["VPN", "OpenVPN"], vpn, 5) == ["VPN", "OpenVPN"]
    assert repairs.with_title_subject(
        ["Sockets"],
        reading.read_document("Socket\n======\n\nA socket." + MENTIONS.format("socket")),
        5,
    ) == ["Sockets"]


# --- Through the server ---------------------------------------------------------------------


def test_the_response_says_what_was_read(loaded):
    line = loaded.ok({"command": "generate-tags", "content": RST, "max_tokens": 16})
    assert line["format"] == "rst"
    assert line["read_chars"] == len(reading.read_document(RST).text) < len(RST)
    line = loaded.ok(
        {"command": "generate-tags", "content": RST, "format": "text", "max_tokens": 16}
    )
    assert line["format"] == "text" and line["read_chars"] == len(RST.strip())


@pytest.mark.parametrize(
    ("doc", "expected"), [(HTML, "html"), (MARKDOWN, "markdown"), ("Terns nest on coasts.", "text")]
)
def test_the_server_detects_each_format(loaded, doc, expected):
    line = loaded.ok({"command": "summarize", "content": doc, "max_tokens": 24})
    assert line["format"] == expected and 0 < line["read_chars"] < len(doc) + 1


def test_an_unknown_format_gets_an_error_line_and_the_loop_continues(loaded):
    line = loaded.answer({"command": "summarize", "content": "Terns.", "format": "pdf"})
    assert line["type"] == "error" and line["code"] == "invalid_params"
    assert "format" in line["error"]
    after = loaded.ok({"command": "summarize", "content": "Terns are seabirds.", "max_tokens": 8})
    assert after["summary"] and after["format"] == "text"  # the loop continues


def test_a_library_page_gets_tags_and_a_summary_about_its_module(loaded):
    page = TOMLLIB_PAGE.read_text(encoding="utf-8")
    tags = loaded.ok({"command": "generate-tags", "content": page})["tags"]
    assert any("toml" in t.casefold() for t in tags), tags
    assert not {t.casefold() for t in tags} & MARKUP_WORDS, tags
    assert not any("python software foundation" in t.casefold() for t in tags), tags
    summary = loaded.ok({"command": "summarize", "content": page, "sentences": 1})["summary"]
    assert "toml" in summary.casefold(), summary
    assert "Python Standard Library" not in summary, summary


def test_an_rst_readme_with_image_directives_gets_no_markup_tags(loaded):
    for readme, subject in ((PYTEST_README, "pytest"), (SORTED_README, "sorted containers")):
        tags = loaded.ok({"command": "generate-tags", "content": readme.read_text("utf-8")})
        lowered = {t.casefold() for t in tags["tags"]}
        assert not lowered & MARKUP_WORDS, tags
        assert tags["format"] == "rst"
        assert any(subject in t for t in lowered), tags  # pytest: its logo's alt names it


def test_an_unknown_format_is_refused_before_a_model_is_needed(sidecar):
    for command in ("generate-tags", "summarize"):
        line = sidecar.answer({"command": command, "content": "Terns.", "format": "PDF"})
        assert line["type"] == "error" and line["code"] == "invalid_params", line


def test_a_manual_pages_words_hyphenated_at_line_ends_are_whole_again():
    # groff breaks a word at a line's end with U+2010 HYPHEN; an ASCII hyphen is the
    # word's own ("sätt-användar-") and stays.
    page = (
        "NAMN\n       chmod - ändra filrättigheter\n\nBESKRIVNING\n       chmod ändrar fil\u2010\n"
        "       rättighetsbitarna, vil\u2010\n       ket kan vara sätt-\n       användar-ID.\n"
    )
    text = reading.read_document(page, "text").text
    assert "filrättighetsbitarna, vilket kan" in text
    assert "sätt-\n" in text and "\u2010" not in text


NEWS_WITH_NOTICE = (
    "Copyright 2000-2023 Free Software Foundation, Inc.\n"
    "Contributed by the AriC and Caramba projects, INRIA.\n\n"
    "This file is part of the GNU MPFR Library.\n\n"
    "The GNU MPFR Library is free software; you can redistribute it and/or modify\n"
    "it under the terms of the GNU Lesser General Public License.\n\n"
    "##########\n\nChanges from versions 4.1.* to version 4.2.0:\n- New functions mpfr_cosu.\n"
)


def test_a_plain_text_s_opening_licence_notice_is_not_read():
    read = reading.read_document(NEWS_WITH_NOTICE)
    assert read.text.startswith("##########\n\nChanges from versions 4.1.*")
    assert "Free Software Foundation" not in read.text and read.title == ""  # no "####" title
    titled = (
        "GnuTLS NEWS\nCopyright (C) 2013 Nikos M.\nSee the end for copying conditions.\n\n* 3.7"
    )
    assert reading.read_document(titled).text == "GnuTLS NEWS\n\n* 3.7"  # the title stays


def test_a_licence_and_a_copyright_line_further_down_are_read_whole():
    licence = (
        "GNU LESSER GENERAL PUBLIC LICENSE\n\n Copyright (C) 1991 Free Software Foundation\n"
        " Everyone is permitted to copy and distribute verbatim copies.\n\nPreamble"
    )
    assert reading.read_document(licence).text == licence
    later = "A tool.\n\nIt reads.\n\nIt writes.\n\nIt sorts.\n\nIt runs.\n\nIt ends.\n\nCopyright 2020 X"
    assert reading.read_document(later).text == later
