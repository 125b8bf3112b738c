"""Key phrases (keyphrases.py): the phrases a document names its subject with, and the lines
that only frame it (who wrote an e-mail, a listing, code, a footer), on real corpus texts
and small documents written like the review's. Pure functions; the tags grammar that offers
the phrases is checked on a real vocabulary."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT, tag_grammar

from mlx_sidecar import repairs
from mlx_sidecar.grammar import TagGrammar
from mlx_sidecar.keyphrases import (
    DocumentLines,
    key_phrases,
    worth_a_tag,
)
from mlx_sidecar.lexicon import calendar_words, is_common_phrase
from mlx_sidecar.prompts import candidate_tags_task
from mlx_sidecar.reading import read_document
from mlx_sidecar.reading.email import writers
from mlx_sidecar.repairs.tags import (
    frames_the_document,
    heads_each_release,
    help_description,
    is_topic,
    title_subject,
    usage_name,
    with_title_subject,
)
from mlx_sidecar.topics import is_name_phrase, is_noun_phrase, names_a_topic

CORPUS = ROOT / "bench" / "corpus"
MANIFEST = {e["file"]: e for e in json.loads((CORPUS / "MANIFEST.json").read_text())}


def corpus_page(prefix: str):
    name = next(f for f in MANIFEST if f.startswith(prefix))
    return name, read_document((CORPUS / name).read_text(encoding="utf-8", errors="replace"))


# --- Who wrote: the reader knows it ------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "names"),
    [
        (
            "Bob Builder wrote to Alice Example, dev (copied to Carol) on 7 May 2024 about “x”.",
            ["Bob Builder", "Alice Example", "dev", "Carol"],
        ),
        ("On Mon, 6 May 2024 at 10:00, Alice Example wrote:", ["Alice Example"]),
        ("On Tue, May 7, 2024 at 9:14 AM Jeff King wrote:", ["Jeff King"]),
        ("Junio C Hamano <gitster@pobox.com> writes:", ["Junio C Hamano"]),
        ("* Chris Wareham [000724 18:24]:", ["Chris Wareham"]),
        ("Le mar. 7 mai 2024 à 09:14, Jean Dupont a écrit :", ["Jean Dupont"]),
        ("Tolkien wrote The Lord of the Rings.", []),  # a sentence, not who wrote a message
    ],
)
def test_who_wrote_comes_from_the_header_and_attribution_lines(line, names):
    assert writers(line) == names


# --- What frames a document -------------------------------------------------------------

LISTING = """Check the permissions with ls -l:

-rw-rw-r--  1 david git   23 Mar  4 10:12 HEAD
drwxrwsr-x  2 david git 4096 Mar  4 10:12 branches

Every member of the group can push."""


def test_a_listing_s_columns_frame_the_text_and_its_sentences_do_not():
    lines = DocumentLines.of(LISTING)
    assert "david git" in lines.frame and "david" not in lines.prose
    assert lines.only_in_frame("david git")
    assert not lines.only_in_frame("group")


def test_code_frames_the_text_and_a_name_only_code_uses_is_no_topic():
    text = (
        "Arrays grow as elements are added.\n\n"
        "GArray *g_array_append_vals (GArray *array, gconstpointer data, guint len);\n"
        "#define G_ELEMENT_SIZE(a) ((a)->elt_size)\n\n"
        "g_array_append_vals() adds elements to the array."
    )
    lines = DocumentLines.of(text)
    assert "guint len" in lines.code
    assert lines.is_code_name("len") and lines.is_code_name("guint")
    assert lines.is_code_name("ELEMENT")  # a word in capitals: a constant's spelling
    assert not lines.is_code_name("g_array_append_vals")  # its sentences name it
    assert not lines.is_code_name("JSON")  # an acronym is no word of the language


def test_a_footer_and_a_manual_s_header_frame_it():
    lines = DocumentLines.of(
        "GIT-BISECT(1)        Git Manual        GIT-BISECT(1)\n\nNAME\n       git-bisect - "
        + "find the commit that introduced a bug.\n" * 10
        + "\nGIT\n       Part of the git(1) suite\n"
    )
    assert lines.only_in_frame("Part of the git") and lines.only_in_frame("Git Manual")
    assert lines.only_as_heading("NAME")


def test_a_link_s_words_frame_the_sentence_that_holds_it():
    lines = DocumentLines.of(
        "The sources are at ftp://ftp.example.org/wine/Wine-20020904.tar.gz for Wine users."
    )
    assert lines.only_in_frame("20020904.tar.gz") and not lines.only_in_frame("Wine")


def test_a_name_with_capitals_inside_is_spelled_as_the_document_spells_it():
    text = "ReadImage() dumps core. Calling ReadImage with a NULL filename crashes."
    assert repairs.ground_tags(["readImage", "core"], text, 5, top_up=False) == [
        "ReadImage",
        "core",
    ]


def test_a_tag_with_commas_is_a_list_of_tags():
    # SmolLM2's one new tag on the Apache License, under the candidates grammar.
    said = ["Apache License", "Source,Source form,Legal Entity"]
    assert repairs.normalize_tags(said, 5) == [
        "Apache License",
        "Source",
        "Source form",
        "Legal Entity",
    ]


def test_a_part_s_label_is_no_topic_but_a_heading_the_text_discusses_is():
    lines = DocumentLines.of("Chapter 1. Backup\n\nA backup copies files.\n\nAbstract\n\nIt is.")
    assert lines.only_as_heading("Chapter") and lines.only_as_heading("Abstract")
    assert not lines.only_as_heading("Backup")


def test_a_heading_the_text_seldom_uses_besides_labels_a_part():
    text = "Features\n\nIt has the features you need.\n\nColors\n\nColors for text; colors for"
    lines = DocumentLines.of(text + " backgrounds. Colors may nest.")
    assert lines.only_as_heading("Features") and not lines.only_as_heading("Colors")
    news = DocumentLines.of("* Improvements\n  * Faster decoding.\n\n* Improvements\n  * More.")
    assert news.only_as_heading("Improvements")  # a list's label
    fixes = DocumentLines.of(
        "man-db 2.11\n\nFixes:\n\n * A crash.\n\nman-db 2.10\n\nFixes:\n\n * A leak."
    )
    assert fixes.only_as_heading("Fixes")  # over each release's list, with a colon
    outline = DocumentLines.of("* Noteworthy changes in release 3.8\n\n** Bug fixes\n\n  A leak.")
    assert outline.only_as_heading("Bug fixes")  # an outline's heading (GNU NEWS files)


def test_a_heading_of_ordinary_words_labels_a_part_and_one_naming_a_topic_does_not():
    text = (
        "Statement of Purpose\n\nThe laws confer rights on a Work.\n\nKeyring Support\n\n"
        "pip reads the keyring.\n\nTests\n\nRun tests/test_colorlog.py and tests/test_config.py."
    )
    lines = DocumentLines.of(text)
    assert lines.only_as_heading("Statement of Purpose")
    assert lines.only_as_heading("Tests")  # a path is not the word said
    assert not lines.only_as_heading("Keyring Support")


def test_a_capitalized_ordinary_word_written_only_where_lines_begin_is_a_label():
    javadoc = DocumentLines.of(
        "Method Summary\n\nMethod\tDescription\nget()\tReturns the object.\n\n"
        "Table of Contents\n\n1. Colors\n\nColors nest; a style may hold Colors."
    )
    assert javadoc.only_opens_lines("Method") and javadoc.only_opens_lines("Table")
    assert not javadoc.only_opens_lines("Colors")  # also said in running text
    assert javadoc.only_opens_lines("Contents")  # not a line's start, but a label's line
    assert not javadoc.only_opens_lines("Method Summary")  # a heading of words may name a topic
    labels = DocumentLines.of(
        "Class LazyInitializer\n\n- Type Parameters:\n\nT - the object.\n\n"
        "Modifier and Type\n\nThe Type of a field is its class."
    )
    assert labels.only_opens_lines("Type") is False  # said in running text once
    labels = DocumentLines.of(labels.text.rsplit("\n\n", 1)[0])
    assert labels.only_opens_lines("Type")  # a table's header and a label before a colon


def test_a_statement_s_lines_while_its_bracket_is_open_are_code():
    readme = DocumentLines.of(
        "GraphQL-core is a Python port of GraphQL.js. GraphQL-core is fast.\n\n"
        "It runs queries.\n\nIt checks schemas.\n\nIt is tested.\n\nIt is typed.\n\n"
        "from graphql import (\n    graphql, GraphQLSchema, GraphQLObjectType)\n\n"
        "schema = GraphQLSchema(\n    query=GraphQLObjectType(\n        name='RootQueryType'))\n\n"
        "A (stray bracket opens here\nand this line is prose."
    )
    assert "GraphQLObjectType" not in readme.prose and "GraphQLObjectType" in readme.code
    assert frames_the_document("GraphQLObjectType", readme)  # its code's name only
    assert "and this line is prose." in readme.prose  # prose: no code line opened it


def test_a_passage_quoted_again_in_replies_is_said_once():
    thread = DocumentLines.of(
        "I noticed that in revised haskell guidelines [1], there is a macro.\n\nWhy?\n\n"
        "“Hi, I noticed that in revised haskell guidelines [1], there is a "
        "macro.”\n\nThe macros of the Haskell guidelines differ. See the Haskell guidelines."
    )
    assert thread.mentions("revised haskell guidelines", "own") == 2
    assert thread.sayings("revised haskell guidelines") == 1
    assert thread.sayings("Haskell guidelines") == 3  # said in other words twice more


def test_a_unit_of_measure_is_no_topic():
    lines = DocumentLines.of(
        "Humanize turns 1500 milliseconds into words. A code is nine bits long."
    )
    assert frames_the_document("milliseconds", lines) and frames_the_document("Kilobytes", lines)
    assert frames_the_document("bits long", lines)  # a size: a unit and an adjective
    assert not frames_the_document("Huffman tree", lines)
    assert not frames_the_document("point release", lines)  # a unit's word before a noun


def test_a_help_text_s_usage_line_names_its_program_in_any_language():
    for text, name in [
        ("Употреба: readelf <опција(е)> елф-датотека(е)\nПриказује податке о садржају", "readelf"),
        ("Forma d’ús: xgettext [OPCIÓ] [FITXER_ENTRADA]…\n\nExtreu les cadenes.", "xgettext"),
        ("GNU Wget 1.21.3，非互動式檔案下載工具。\n用法: wget [選項]... [URL]...", "wget"),
    ]:
        assert usage_name(text) == name
        reading = read_document(text)
        assert with_title_subject(["приказује", "податке"], reading, 5) == [
            name
        ]  # no junk beside it
    assert usage_name("Received: from [204.245.199.98] (helo=zinfandel)\nText.") == ""


def test_a_help_text_describes_its_program_after_its_usage_or_in_a_banner_above_it():
    for text, description in [
        (
            "Употреба: localedef [ОПЦИЯ...] ИМЕ\n    или:  localedef [ОПЦИЯ...]\n"
            "            [--add-to-archive] ФАЙЛ...\nКомпилира указания за езикова настройка\n\n"
            " Входни файлове:\n  -f, --charmap=ФАЙЛ     Символични имена",
            "Компилира указания за езикова настройка",
        ),
        (
            "Kullanım:\n  appstreamcli [SEÇENEK…] - AppStream CLI.\n\n"
            "AppStream komut satırı arayüzü\n\nAlt komutlar:\n  search TERM     - Ara.",
            "AppStream komut satırı arayüzü",
        ),
        (
            "GNU Wget 1.21.3，非互動式檔案下載工具。\n用法: wget [選項]... [URL]...\n\n長選項。",
            None,
        ),
        ("Usage: tool [OPTION]...\n\nOptions:\n  -h, --help   show this help", ""),
        ("Tool reads files.\n\nIt writes them again.", ""),  # no usage line
    ]:
        expected = text.split("\n")[0] if description is None else description
        assert help_description(text) == expected
    assert usage_name("Kullanım:\n  appstreamcli [SEÇENEK…] - AppStream CLI.") == "appstreamcli"


def test_a_one_letter_variable_s_attribute_is_no_topic():
    lines = DocumentLines.of(
        "PLY builds tables. The p.lr_items list holds the items. Use urllib.parse."
    )
    assert not names_a_topic("p.lr_items", lines) and not names_a_topic("f.write", lines)
    assert names_a_topic("urllib.parse", lines)  # a module's name
    assert not is_topic("p.lr_items", lines) and is_topic("urllib.parse", lines)


def test_a_doctest_s_output_is_code_up_to_a_blank_line():
    readme = DocumentLines.of(
        "psutil reports system utilization.\n\n>>> psutil.net_if_addrs()\n"
        "{'lo': [snicaddr(family=2, address='127.0.0.1'),\n"
        "        snicaddr(family=10, address='::1')]}\n\nThe snicaddr tuples list addresses."
    )
    assert "        snicaddr(family=10, address='::1')]}" in readme.code
    assert "The snicaddr tuples list addresses." in readme.prose


def test_git_shortlog_s_authors_are_credits():
    mail = DocumentLines.of(
        "The following changes fix the networking stack.\n\nCong Wang (2):\n"
        "      net: fix a leak\n      net: fix a race\n\nMarcelo Ricardo Leitner (1):\n"
        "      sctp: fix sockopt lengths\n\nThe networking stack is fixed.\n"
    )
    assert frames_the_document("Cong Wang", mail)
    assert frames_the_document("Marcelo Ricardo Leitner", mail)
    assert not frames_the_document("networking stack", mail)


def test_a_word_glued_to_a_one_letter_option_is_its_placeholder():
    page = DocumentLines.of(
        "SYNOPSIS\n       cscope [-bC] [-Iincdir] [files]\n\nOPTIONS\n       -Iincdir\n"
        "              Look in incdir before the standard place. Run make -j4 first.\n"
    )
    assert page.is_placeholder("incdir") and frames_the_document("incdir", page)
    assert not page.is_placeholder("standard place") and not page.is_placeholder("make")


def test_a_heading_over_each_release_may_hold_a_few_words_before_its_version():
    news = DocumentLines.of(
        "Overview of changes between 1.0.7 and 1.0.8\n\n* A fix in FriBidi.\n\n"
        "Overview of changes between 1.0.6 and 1.0.7\n\n* FriBidi builds with meson.\n"
    )
    assert heads_each_release("Overview", news)
    assert not heads_each_release("FriBidi", news)


def test_an_ordinary_word_capitalized_only_inside_a_longer_name_is_a_piece_of_it():
    gpl = DocumentLines.of(
        "The Free Software Foundation publishes it. Write to the Free Software Foundation. "
        "Free Software matters. Software is free when you may share it. This License "
        "applies to the Program. The License says so. You accept this License."
    )
    assert gpl.part_of_a_name("Software")  # "Free Software", "Free Software Foundation"
    assert not gpl.part_of_a_name("License")  # "this License": capitalized on its own
    assert not gpl.part_of_a_name("Free Software Foundation")  # the name itself


def test_a_news_file_s_heading_over_each_release_is_no_subject_but_its_name_is():
    strace = read_document(
        "Noteworthy changes in release 5.11 (2021-03-17)\n"
        "===============================================\n\n"
        "* Improvements\n  * Enhanced decoding of ioctl commands.\n\n"
        "Noteworthy changes in release 5.10 (2020-12-14)\n"
        "===============================================\n\n"
        "* Bug fixes\n  * Fixed a leak in the decoder.\n"
    )
    lines = DocumentLines.of(strace.text, strace.title)
    assert title_subject(strace) == "" and lines.subjects == []
    assert frames_the_document("Noteworthy changes in release", lines)
    nettle = read_document(
        "NEWS for the Nettle 3.8.1 release\n\n  Fixes a bug in the Nettle library.\n\n"
        "NEWS for the Nettle 3.8 release\n\n  Adds SHA3 to the Nettle library.\n"
    )
    assert title_subject(nettle) == "Nettle"
    lines = DocumentLines.of(nettle.text, nettle.title)
    assert frames_the_document("NEWS for the Nettle", lines)
    assert not frames_the_document("Nettle", lines)
    gcc = DocumentLines.of(
        "Versions of GCC\n\n- GCC 5 is the default compiler.\n"
        "- GCC 4.9 is the default compiler for Ada.\n"
    )
    assert not heads_each_release("GCC", gcc)  # a list's sentences, no headings


@pytest.mark.parametrize(
    ("tag", "text", "plain"),
    [
        ("fișier", "Comprimă fișier cu xz. Fiecare fișier este comprimat de xz.", True),
        ("выводить", "ls будет выводить список файлов. ls может выводить размер.", True),
        ("pagine", "whatis cerca le pagine di manuale. Le pagine hanno un nome.", True),
        ("xz", "Comprimă fișier cu xz. Fiecare fișier este comprimat de xz.", False),
        # Polish has no frequency list: its dictionary (simplemma) knows "szuka", not "whereis"
        ("szuka", "whereis szuka plików binarnych. Program whereis szuka też źródeł.", True),
        ("whereis", "Program whereis szuka plików binarnych. whereis szuka też źródeł.", False),
        ("Datenschutz", "Der Datenschutz regelt, wer Daten speichern darf.", False),
        ("logiciel libre", "Debian est un système fait de logiciel libre.", False),
    ],
)
def test_outside_english_a_lone_lowercase_word_of_the_language_is_no_topic(tag, text, plain):
    lines = DocumentLines.of(text)
    assert lines.language != "en"
    assert is_topic(tag, lines) is not plain


def test_a_manual_page_s_sections_label_its_parts_in_any_language():
    page = read_document(
        "APROPOS(1)            手册分页显示工具            APROPOS(1)\n\n名称\n"
        "       apropos - 搜索手册页名称和描述\n\n描述\n       每个手册页里都有一小段描述。\n"
    )
    lines = DocumentLines.of(page.text, page.title)
    assert lines.only_as_heading("名称") and lines.only_as_heading("描述")
    assert not lines.only_as_heading("apropos")


CREDITS = """fakeroot(1)

fakeroot runs a command in an environment that fakes root privileges. fakeroot
is used to build packages, and Joost and Clint added most of fakeroot's code.

AUTHORS
       Joost Witteveen
              <joostje@debian.org>
       Clint Adams
              <clint@debian.org>

Copyright (C) 2009 Python Software Foundation. Python and fakeroot work together;
Python calls fakeroot, and Python reads what fakeroot writes. Python is fast.

A citation: author = {Robyn Speer}. I'm Robyn Speer. Thanks, Robyn Speer.
Today's topics: 1. testing (Barry A. Warsaw)
 - Fix ordering of text for right-to-left languages (Michael Howell).
 - Key bindings as in Emacs (GNU Emacs)
 - Fix a crash on exit (dbus#343; Simon McVittie, Barnabás Pőcze)
""" + "".join(f" - Fix leak {n} in the parser (David Kilzer)\n" for n in range(8))


@pytest.mark.parametrize(
    ("tag", "credited"),
    [
        ("Clint", True),  # a name above an address
        ("Clint Adams", True),
        ("Robyn Speer", True),  # a citation's author, said three times besides
        ("Barry A. Warsaw", True),  # a middle initial: a person's name
        ("Michael Howell", True),  # in parentheses after a changelog's entry
        ("David Kilzer", True),  # ...after eight of them: eight credits, not a subject
        ("David", True),
        ("Barnabás Pőcze", True),  # after an issue's number, beside another name
        ("GNU Emacs", False),  # in parentheses too, but "GNU" is a word: no person's name
        ("Python", False),  # the copyright holder's name, which the text keeps using
        ("fakeroot", False),
    ],
)
def test_a_person_the_document_credits_is_no_topic(tag, credited):
    page = read_document(CREDITS)
    lines = DocumentLines.of(page.text, page.title)
    assert lines.names_a_credited_person(tag) is credited


def test_what_an_option_s_line_holds_the_place_of_is_no_topic():
    page = read_document(
        "SQLITE3(1)\n\nSYNOPSIS\n       sqlite3 [options] [FILENAME [SQL]]\n\n"
        "sqlite3 runs SQL against a database file.\n\n       -l len, --length=len\n"
        "              Stop after <len> bytes.\n       .open ?FILENAME?   Reopen FILENAME\n"
        "       .read FILENAME     Run the SQL in FILENAME\n       -H pid, --highlight-pid pid\n"
    )
    lines = DocumentLines.of(page.text, page.title)
    for placeholder in ("FILENAME", "len", "highlight-pid pid"):
        assert lines.is_placeholder(placeholder), placeholder
    assert not lines.is_placeholder("SQL") and not lines.is_placeholder("sqlite3")


def test_the_words_a_changelog_s_entries_open_with_are_no_topic():
    news = DocumentLines.of(
        "less 590\n\n  * Fix bug when the screen is resized.\n  * Fix bug in lesskey.\n"
        "  * Update Unicode tables.\n  * Update Unicode tables again.\n  * Unicode 14 support.\n"
    )
    assert news.opens_entries("Fix bug") and news.opens_entries("Update Unicode")
    assert not news.opens_entries("Unicode")  # one word, a name
    novel = DocumentLines.of("Pride and Prejudice is a novel by Jane Austen.")
    assert not novel.opens_entries("Pride and Prejudice")  # a title that opens one line


# --- A topic's shape ----------------------------------------------------------------------

NEWS = (
    "The merge of a topic branch now keeps its history. A bug introduced in 9.0 made ls "
    "slow; it was fixed a few milliseconds ago. Use the merge strategy below, then add "
    "emphasis with the Huffman tree of the compressor. Call deflate() to compress. A fix "
    "prints the updated value of a field; the data updated daily. Patch by Dong-hee Na."
)


@pytest.mark.parametrize(
    ("phrase", "topic"),
    [
        ("bug introduced", False),  # a clause: its last word is a verb only
        ("milliseconds ago", False),
        ("Fixed", False),
        ("Updated", False),  # "the updated value": an adjective before its noun
        ("add emphasis", False),  # a verb opens it
        ("merge strategy", True),  # "merge" is a verb to the lexicon; the text writes "the merge"
        ("Huffman tree", True),
        ("deflate", True),  # a function's name: "deflate()"
        ("g_timer_start", True),  # no word of the lexicon
    ],
)
def test_an_english_tag_is_a_noun_phrase(phrase, topic):
    assert is_noun_phrase(phrase, DocumentLines.of(NEWS)) is topic


def test_a_credit_is_no_topic():
    assert not worth_a_tag("Patch by Dong-hee", DocumentLines.of(NEWS + " Patch by Dong-hee."))


def test_an_example_s_file_name_is_no_topic():
    lines = DocumentLines.of("Run prog.py twice: prog.py prints its arguments. " * 2)
    assert not names_a_topic("prog.py", lines) and names_a_topic("arguments", lines)


def test_in_another_language_only_a_name_is_offered():
    text = (  # a manual page: its header names it, "名称" (NAME) heads its first part
        "APROPOS(1)            手册分页显示工具            APROPOS(1)\n\n名称\n       apropos - 搜索手册页名称和描述\n\n描述\n       每个手册页里都有一小段描述。"
        "apropos 在手册页名称和描述中搜索关键词。关键词可以是正则表达式。如果设置了 MANPATH，"
        "apropos 使用 manpath 的结果。apropos 和 whatis 都读取索引数据库 /usr/share/man。\n"
    )
    lines = DocumentLines.of(text)
    assert lines.language == "zh"
    assert is_name_phrase("apropos", lines) and is_name_phrase("manpath", lines)
    assert not is_name_phrase("关键词", lines) and not is_name_phrase("usr", lines)
    phrases = key_phrases(read_document(text))
    assert phrases and all(is_name_phrase(p, lines) for p in phrases), phrases


@pytest.mark.parametrize("prefix", ["24", "25", "26", "27"])
def test_a_tuning_text_in_another_language_is_offered_its_subject_and_names(prefix):
    name, page = corpus_page(prefix)
    phrases = key_phrases(page, 10)
    lines = DocumentLines.of(page.text, page.title)
    assert any(names_subject(p, MANIFEST[name]["subject"]) for p in phrases[:2]), phrases
    assert all(p in lines.subjects or is_name_phrase(p, lines) for p in phrases), phrases


# --- Words of a language ----------------------------------------------------------------


def test_month_and_day_names_come_from_cldr_in_each_language():
    names = calendar_words(("en", "fr", "de"))
    assert {"feb", "monday", "lundi", "février", "mittwoch"} <= names
    assert repairs.normalize_tags(["Feb", "lundi", "July 2025", "Sun Microsystems"], 5) == [
        "Sun Microsystems"
    ]


def test_a_very_common_word_is_told_from_a_name():
    assert is_common_phrase("bad", "en") and is_common_phrase("Work", "en")
    assert not is_common_phrase("rsync", "en") and not is_common_phrase("C#", "en")
    assert not is_common_phrase("C", "en")


def test_a_stopword_of_the_document_s_language_alone_is_no_tag():
    text = (
        "chmod ändrar rättigheterna för filer eller kataloger. Med chmod kan ägaren ge "
        "läsrätt eller skrivrätt till gruppen, och chmod visar vad som ändrades."
    )
    said = ["chmod", "för", "eller", "rättigheterna"]
    assert repairs.ground_tags(said, text, 5, top_up=False) == ["chmod", "rättigheterna"]


# --- Key phrases of real texts ------------------------------------------------------------
# Each text's MANIFEST names what it is about (written when the corpus was collected).


def names_subject(phrase: str, subjects: list[str]) -> bool:
    return any(s.casefold() in phrase.casefold() for s in subjects)


@pytest.mark.parametrize("prefix", ["36", "37", "38", "39"])
def test_an_e_mail_s_key_phrases_name_what_it_discusses_not_who_wrote(prefix):
    name, page = corpus_page(prefix)
    phrases = key_phrases(page, 10)
    assert any(names_subject(p, MANIFEST[name]["subject"]) for p in phrases[:2]), phrases
    people = {w.casefold() for n in DocumentLines.of(page.text).writers for w in n.split()}
    assert not any(set(p.casefold().split()) <= people for p in phrases), phrases


@pytest.mark.parametrize("prefix", ["19", "30", "44", "45", "47", "12", "21"])
def test_a_document_s_key_phrases_open_with_its_subject(prefix):
    name, page = corpus_page(prefix)
    phrases = key_phrases(page, 10)
    assert any(names_subject(p, MANIFEST[name]["subject"]) for p in phrases[:3]), phrases
    assert len({repairs.tag_key(p) for p in phrases}) == len(phrases)
    assert all(repairs.normalize_tags([p], 1) == [p] for p in phrases)  # each a clean tag


def test_a_chat_s_speakers_are_no_key_phrases():
    _, page = corpus_page("40")
    phrases = key_phrases(page, 12)
    speakers = DocumentLines.of(page.text).speakers
    assert {"ogra_ac", "NCommander", "rsalveti"} <= set(speakers)
    assert not {p.casefold() for p in phrases} & {"ogra", "ncommander", "rsalveti", "davidm"}


# --- The model chooses among them ---------------------------------------------------------


def test_the_prompt_offers_the_phrases_and_says_how_many_others_may_come():
    task = candidate_tags_task(5, ["Wine", "Windows on Unix"], 1)
    assert '["Wine", "Windows on Unix"]' in task and "at most 1 other tag" in task
    assert "other" not in candidate_tags_task(5, ["Wine"], 0)


@pytest.fixture(scope="module")
def grammar(family_folders) -> TagGrammar:
    return tag_grammar(family_folders("mistral"))  # the smallest of test_vocabulary's three


def accepts(grammar: TagGrammar, text: str, phrases: list[str], max_new: int) -> bool:
    constraint = grammar.candidates_processor(phrases, 5, 64, max_new)
    tokens = grammar.tokenizer().tokenize_str(text)
    return all(constraint.matcher.consume_token(t) for t in tokens) and (
        constraint.matcher.is_accepting()
    )


def test_the_grammar_takes_the_phrases_then_at_most_max_new_others(grammar):
    phrases = ["Wine", "Windows on Unix", "PowerPC support"]
    assert accepts(grammar, '["Wine", "PowerPC support"]', phrases, 0)
    assert accepts(grammar, '["Wine", "Visio"]', phrases, 1)
    assert not accepts(grammar, '["Wine", "Visio", "Quicken"]', phrases, 1)
    assert not accepts(grammar, '["Visio"]', phrases, 1)  # a phrase of the document first
