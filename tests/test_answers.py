"""Answers any model can trust: the repair rules leave a strong model's answers alone,
and mend or drop the bad answers SmolLM2 really gave (bench/raw_answers.py collected
them; each case says where it came from).

The rules are pure functions of server.py, so these tables import it; behaviour through
the real server on the bundled model is tested at the end of this file.
"""

from __future__ import annotations

import json
import re

import pytest
from conftest import DOCUMENT, ROOT

from mlx_sidecar import reading, repairs, text
from mlx_sidecar.answers import extractive
from mlx_sidecar.answers import summary as summaries
from mlx_sidecar.notes import ChunkNotes
from mlx_sidecar.reading import read_document
from mlx_sidecar.repairs import summaries as summary_rules
from mlx_sidecar.repairs import support
from mlx_sidecar.text import split_sentences

# --- Good answers: tags a strong model gives, each with a document that names it -----

GOOD_TAGS = [
    ("JSON", "The json module encodes and decodes JSON documents."),
    ("Lord of the Rings", "Tolkien wrote The Lord of the Rings over twelve years."),
    ("C#", "C# is a language that runs on .NET; Microsoft designed it."),
    (".NET", "C# programs run on .NET, which Microsoft ships for Windows and Linux."),
    ("Mad Men", "Mad Men is a drama about an advertising agency in the 1960s."),
    ("The Who", "The Who played Tommy at Woodstock in 1969."),
    ("TCP/IP", "Every socket here speaks TCP/IP to the server."),
    ("I/O", "Asynchronous I/O lets one thread serve many sockets."),
    ("U.S. politics", "A primer on U.S. politics: Congress, the courts and the president."),
    ("C++", "The engine is written in C++ with a Python binding."),
    ("Node.js", "Express is a web framework for Node.js."),
    ("macOS", "The app runs on macOS and Windows."),
    ("COVID-19", "COVID-19 spread worldwide in 2020."),
    ("World War II", "World War II ended in 1945."),
    ("Python 3.12", "Python 3.12 adds a per-interpreter GIL."),
    ("Datenschutz", "Der Datenschutz regelt, wer Daten speichern darf."),
    ("Künstliche Intelligenz", "Künstliche Intelligenz verändert die Arbeit."),
    ("Révolution française", "La Révolution française commence en 1789."),
    ("logiciel libre", "Debian est un système d'exploitation fait de logiciel libre."),
    ("機械学習", "機械学習はデータから規則を学ぶ方法です。"),
    ("東京", "東京は日本の首都です。"),
    ("Pride and Prejudice", "Pride and Prejudice is a novel by Jane Austen."),
    ("F#", "F# is a functional language for .NET."),
    ("rsync", "Back up the home folder with rsync every night."),
    ("C", "The kernel is written in C and assembly."),
    ("Bora Bora", "Bora Bora is an island in French Polynesia."),
    ("A Tale of Two Cities", "Dickens published A Tale of Two Cities in 1859."),
    ("JSON (JavaScript Object Notation)", "JSON (JavaScript Object Notation) is a data format."),
]


@pytest.mark.parametrize(("tag", "document"), GOOD_TAGS)
def test_a_good_tag_passes_unchanged(tag: str, document: str) -> None:
    kept = repairs.ground_tags(repairs.normalize_tags([tag], 5), document, 5)
    assert kept[0] == tag


def test_good_tags_together_pass_unchanged_and_in_order() -> None:
    tags = [t for t, _ in GOOD_TAGS]
    document = " ".join(d for _, d in GOOD_TAGS)
    assert repairs.ground_tags(repairs.normalize_tags(tags, 30), document, 30) == tags


# --- Good answers: summaries a strong model gives (abbreviations, initials, lists) ----
# Each with a document that says what the summary says, as a real document would: a
# sentence its document does not support in one place is no good answer (see
# repairs/support.py).

APOLLO = (
    "The Apollo 11 mission landed the first humans on the Moon on 20 July 1969. "
    "Neil Armstrong and Buzz Aldrin walked on the surface while Michael Collins orbited. "
    "It fulfilled a goal President John F. Kennedy set in 1961 for the U.S. space program."
)
GOOD_SUMMARIES = [
    ("President John F. Kennedy set the goal of a Moon landing in 1961.", APOLLO),
    (
        "Apollo 11 landed on the Moon on 20 July 1969. It fulfilled a goal of the U.S. "
        "space program.",
        APOLLO,
    ),
    (
        "The U.S. space program met John F. Kennedy's goal with Apollo 11. Neil Armstrong "
        "and Buzz Aldrin walked on the Moon.",
        APOLLO,
    ),
    (
        "Python 3.11 is 1.25 times faster than 3.10 on the benchmark suite.",
        "On the pyperformance suite Python 3.11 is 1.25 times faster than Python 3.10.",
    ),
    (
        "Dr. Smith et al. show that the drug cuts the risk by 2.5%, e.g. in older patients.",
        "Smith and colleagues (Dr. Smith et al.) show that the drug cuts the risk of stroke "
        "by 2.5%, most clearly in older patients.",
    ),
    (
        "The guide explains TCP/IP sockets and non-blocking I/O in C++.",
        "Sockets speak TCP/IP; non-blocking I/O in C++ needs select().",
    ),
    (
        "Express is a minimal web framework for Node.js. It runs on macOS, Linux and Windows.",
        "Express: a minimal web framework for Node.js on macOS, Linux and Windows.",
    ),
    (
        "C# and F# programs run on .NET. Microsoft maintains both languages.",
        "C# and F# programs both run on .NET; Microsoft maintains the two languages.",
    ),
    (
        "The report covers U.S. politics from World War II to COVID-19.",
        "A history of U.S. politics: World War II, the Cold War, COVID-19.",
    ),
    (
        "Mad Men follows an advertising agency in New York.",
        "Mad Men is a drama about an advertising agency in New York.",
    ),
    (
        "The Who played at Woodstock in 1969. Their set ended at dawn.",
        "The Who played Woodstock in 1969; their set ended at dawn.",
    ),
    (
        "Mr. Bennet teases his wife about their neighbour Mr. Bingley. She wants him to "
        "marry one of their daughters.",
        "Mr. Bennet teases his wife, Mrs. Bennet, who wants their neighbour Mr. Bingley of "
        "Netherfield Park to marry one of their daughters.",
    ),
    (
        "Der Text erklärt z.B. die Einrichtung von OpenVPN. Er nennt auch IPsec.",
        "Der Text erklärt z.B. die Einrichtung von OpenVPN und nennt auch IPsec.",
    ),
    (
        "Debian est un système libre. Le texte décrit les processus, p. ex. init.",
        "Debian est un système libre. Le texte décrit les processus; init est le premier.",
    ),
    (
        "Debian ist ein freies Betriebssystem. Es läuft auf vielen Architekturen.",
        "Debian ist ein freies Betriebssystem, das auf vielen Architekturen läuft.",
    ),
    ("東京は日本の首都です。人口は約1400万人です。", "東京は日本の首都で、人口は約1400万人。"),
    (
        "このガイドはプロセスとメモリについて説明します。",
        "このガイドでは、プロセスとメモリについて説明します。",
    ),
    (
        "El libro de Rut narra la historia de Noemí y Booz.",
        "El libro de Rut narra la historia de Rut, de su suegra Noemí y de Booz.",
    ),
    (
        "The sorting guide explains key functions, e.g. str.lower. It covers sorted() too.",
        "sorted() and key functions such as str.lower.",
    ),
    (
        "The backup chapter recommends rsync and tar. Backups should run every night.",
        "Use rsync or tar for backups, and run them every night.",
    ),
    (
        "The heapq module implements a priority queue. Its nlargest function returns the "
        "n largest items.",
        "The heapq module implements a priority queue (a heap). Its nlargest function "
        "returns the n largest items; nsmallest the n smallest.",
    ),
    (
        "The Zen of Python lists 19 aphorisms by Tim Peters.",
        "The Zen of Python, by Tim Peters; 19 aphorisms.",
    ),
]


@pytest.mark.parametrize(("summary", "document"), GOOD_SUMMARIES)
def test_a_good_summary_passes_unchanged(summary: str, document: str) -> None:
    answer = repairs.Answer(document=document)
    assert summaries.clean_summary(summary, answer, sentences=5) == summary


def test_one_sentence_keeps_its_abbreviations_and_initials() -> None:
    text = "President John F. Kennedy set the U.S. a goal in 1961. Apollo 11 met it in 1969."
    got = summaries.clean_summary(text, repairs.Answer(document=APOLLO), sentences=1)
    assert got == "President John F. Kennedy set the U.S. a goal in 1961."


def test_a_bulleted_answer_keeps_every_item_apart() -> None:
    text = "- Apollo 11 landed on the Moon\n- Neil Armstrong walked first\n- Collins orbited"
    got = summaries.clean_summary(text, repairs.Answer(document=APOLLO), sentences=5)
    assert got == "Apollo 11 landed on the Moon. Neil Armstrong walked first. Collins orbited."


def test_no_ascii_period_after_japanese() -> None:
    document = "東京は日本の首都です。人口は約1400万人です。"
    got = summaries.clean_summary("東京は日本の首都です", repairs.Answer(document=document))
    assert got == "東京は日本の首都です"


def test_the_segmenter_keeps_decimals_abbreviations_and_cjk_stops() -> None:
    assert text.split_sentences("It costs $3.50 in the U.S. today. Then more.") == [
        "It costs $3.50 in the U.S. today.",
        "Then more.",
    ]
    assert text.split_sentences("これは文です。二番目の文です。") == [
        "これは文です。",
        "二番目の文です。",
    ]


def qwen_like_tokenizer():
    """A real tokenizer (tokenizers + transformers + mlx-lm's TokenizerWrapper) with
    Qwen3's added tokens: '<|im_end|>' special, the rest added but not special."""
    from mlx_lm.tokenizer_utils import TokenizerWrapper
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.WordLevel({"[UNK]": 0, "the": 1}, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    hf = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="[UNK]", eos_token="<|im_end|>")
    hf.add_tokens(["<think>", "</think>", "<tool_call>", "<|fim_prefix|>", "<|file_sep|>"])
    return TokenizerWrapper(hf)


def test_added_tokens_special_or_not_and_thinking_never_reach_an_answer() -> None:
    answer = repairs.answer_for(qwen_like_tokenizer(), "The mission landed on the Moon.")
    raw = "<think>plan</think>The mission <tool_call>landed on the <|fim_prefix|>Moon.<|im_end|>"
    assert summaries.clean_summary(raw, answer) == "The mission landed on the Moon."
    tags = repairs.parse_tags('</think>["Moon<|file_sep|>", "<tool_call>"]', answer)
    assert repairs.normalize_tags(tags, 5) == ["Moon"]


# --- Bad answers SmolLM2 really gave: repaired or dropped ----------------------------
#
# bench/raw_answers.py (removed; it is in commit cbfa0eb) ran the bundled model on the first
# characters of each corpus text (the record says how many) and kept its raw output; each
# case below names the record: corpus file, command and decoding.

RAW_ANSWERS = ROOT / "tests" / "fixtures" / "raw-answers.json"


def raw_record(file: str, command: str, decoding: str) -> tuple[str, str]:
    """(the model's raw answer, the text the sidecar reads of the document it answered)."""
    for record in json.loads(RAW_ANSWERS.read_text(encoding="utf-8")):
        if (record["file"], record["command"], record["decoding"]) == (file, command, decoding):
            text = (ROOT / "bench" / "corpus" / file).read_text(encoding="utf-8")
            return record["raw"], read_document(text[: record["chars"]]).text
    raise AssertionError(f"no raw answer recorded for {file} {command} {decoding}")


def raw_answers_of(file: str, command: str) -> list[tuple[str, str]]:
    """Every (raw answer, document read) recorded for ``file`` and ``command``."""
    text = (ROOT / "bench" / "corpus" / file).read_text(encoding="utf-8")
    return [
        (r["raw"], text[: r["chars"]])
        for r in json.loads(RAW_ANSWERS.read_text(encoding="utf-8"))
        if r["file"] == file and r["command"] == command
    ]


# Bad tag answers SmolLM2 gave (bench/raw_answers.py), each with what a person expects of
# the repaired tags: a topic one of them names, and what none of them may say.
BAD_TAG_OUTPUTS: list[tuple[str, str, str, list[str]]] = [
    ("01-zen-of-python.txt", "grammar, greedy", "Zen of Python", ["better than"]),
    ("01-zen-of-python.txt", "no grammar, greedy", "Zen", ["better than", "**"]),
    ("02-debian-project-essay.txt", "grammar, greedy", "Operating System", ["1.1.1"]),
    ("02-debian-project-essay.txt", "no grammar, greedy", "Debian", ["Chapter", "**"]),
    ("03-devils-dictionary-a-b.txt", "grammar, greedy", "Devil's Dictionary", []),
    ("03-devils-dictionary-a-b.txt", "no grammar, greedy", "Devil's Dictionary", ["topics"]),
    ("16-python-sockets-howto.txt", "no grammar, greedy", "Sockets", ["Abstract"]),
    ("17-python-json-module.txt", "no grammar, greedy", "JSON", ["which is", "lightweight"]),
    ("18-debian-backup.txt", "no grammar, greedy", "rsync", ["JSON format", "topics"]),
    ("19-jq-manual.txt", "no grammar, greedy", "JSON", ["General Commands", "Manual"]),
    ("20-python-sorting-howto.txt", "no grammar, greedy", "Sorting", ["Abstract"]),
    ("21-python-argparse-tutorial.txt", "no grammar, greedy", "argparse", ["main topic", "Feb"]),
]


@pytest.mark.parametrize(("file", "decoding", "topic", "never"), BAD_TAG_OUTPUTS)
def test_a_bad_tag_answer_is_repaired(
    file: str, decoding: str, topic: str, never: list[str]
) -> None:
    raw, document = raw_record(file, "generate-tags", decoding)
    tags = repairs.tags_from_answer(raw, repairs.Answer(document=document), 5)
    assert 1 <= len(tags) <= 5
    assert any(topic.casefold() in tag.casefold() for tag in tags), tags
    assert not any(bad.casefold() in tag.casefold() for tag in tags for bad in never), tags
    assert len({repairs.tag_key(t) for t in tags}) == len(tags)  # no tag twice
    assert all(len(t.split()) <= 4 for t in tags), tags  # topics, not sentences


# Tags SmolLM2 gave (bench/raw_answers.py), each with what a person accepts in its place
# on that document: "" when nothing of it may stay, else the tag they would file under,
# compared as one tag is (tag_key: case, plural, a leading article aside).
BAD_TAGS: list[tuple[str, str, str]] = [
    ("01-zen-of-python.txt", "Explicit is better than implicit", ""),
    ("01-zen-of-python.txt", "Complex is better than complicated", ""),
    ("01-zen-of-python.txt", "Flat is better than nested", ""),
    ("01-zen-of-python.txt", "Sparse is better than robust, but not in", ""),
    ("01-zen-of-python.txt", "Beautiful is better than ugly", ""),
    ("01-zen-of-python.txt", "Complex is better than complex", ""),
    ("01-zen-of-python.txt", "Flat is better", ""),
    (  # a section's number is no part of its topic
        "02-debian-project-essay.txt",
        "1.1.1. A Multi-Platform Operating System",
        "multi-platform operating system",
    ),
    ("02-debian-project-essay.txt", "Chapter 1. The Debian Project", "Debian Project"),
    ("02-debian-project-essay.txt", "Chapter 5. Debian Project", "Debian Project"),
    ("02-debian-project-essay.txt", "Chapter", ""),  # only ever before a chapter's number
    ("03-devils-dictionary-a-b.txt", "These are the main topics of the document.", ""),
    ("16-python-sockets-howto.txt", "Abstract", ""),  # a heading the text never uses
    ("16-python-sockets-howto.txt", "22.", ""),
    ("17-python-json-module.txt", "which is a lightweight data", ""),
    ("18-debian-backup.txt", "The document is structured in a JSON format", ""),
    ("18-debian-backup.txt", "with each line containing a list of the main topics.", ""),
    ("19-jq-manual.txt", "1", ""),
]


@pytest.mark.parametrize(("file", "tag", "accepted"), BAD_TAGS)
def test_a_bad_tag_is_repaired_or_dropped(file: str, tag: str, accepted: str) -> None:
    found = [doc for raw, doc in raw_answers_of(file, "generate-tags") if tag.strip() in raw]
    assert found, "not a tag the model gave"
    document = read_document(found[0]).text
    kept = repairs.ground_tags(repairs.normalize_tags([tag], 5), document, 5, top_up=False)
    assert [repairs.tag_key(t) for t in kept] == ([repairs.tag_key(accepted)] if accepted else [])
    assert tag not in kept


def test_a_name_that_holds_a_word_of_the_tag_is_no_stutter() -> None:
    # "backup" twice, once inside the tool's name: a fine tag (the rule once dropped it).
    document = read_document((ROOT / "bench" / "corpus" / "18-debian-backup.txt").read_text()).text
    said = ["Backup with rdiff-backup", "typing-typing-typing", "wena wena"]
    kept = repairs.ground_tags(repairs.normalize_tags(said, 5), document, 5, top_up=False)
    assert kept == ["Backup with rdiff-backup"]


def written_in(sentence: str, text: str, gap: int = 30) -> bool:
    """Whether ``sentence`` is ``text``'s own words, in order, markup and a trimmed
    parenthesis or clause (at most ``gap`` words) aside: a sentence the model or the
    document wrote, not one the repairs made up."""
    words = re.findall(r"[^\W_]{3,}", sentence.casefold())  # "a" may become "an"
    source = re.findall(r"[^\W_]{3,}", text.casefold())
    for start in (i for i, w in enumerate(source) if words and w == words[0]):
        at = start
        for word in words[1:]:
            found = [j for j in range(at + 1, min(len(source), at + 1 + gap)) if source[j] == word]
            if not found:
                break
            at = found[0]
        else:
            return True
    return False


# Bad summaries SmolLM2 gave, each with what was wrong (none of it may be left) and what a
# person expects the repaired summary to name. What stays of the model's answer is its own
# words; the places of what went are filled with the document's own sentences, so each
# summary still has the three sentences asked.
BAD_SUMMARIES: list[tuple[str, str, list[str], str]] = [
    ("02-debian-project-essay.txt", "sampled t=0.8", ["Testimony", "Journey"], "Debian"),
    ("03-devils-dictionary-a-b.txt", "greedy", ["Westbury-on-Thames", "1893"], "Devil"),
    ("03-devils-dictionary-a-b.txt", "sampled t=0.8", ["Social Affairs", "1910"], "Devil"),
    ("16-python-sockets-howto.txt", "greedy", ["<p>", "part of the internet"], "sockets"),
    ("17-python-json-module.txt", "greedy", ["::", "`", "This example is meant"], "JSON"),
    ("18-debian-backup.txt", "greedy", ["summarizes the main ideas", "Section 12.1.3"], "backup"),
    ("19-jq-manual.txt", "greedy", ["comprehensive"], "jq"),
    ("20-python-sorting-howto.txt", "greedy", ["Sorting Basics:", "`", "faster for large"], "sort"),
]


@pytest.mark.parametrize(("file", "decoding", "wrong", "says"), BAD_SUMMARIES)
def test_a_bad_summary_is_repaired(file: str, decoding: str, wrong: list[str], says: str) -> None:
    raw, document = raw_record(file, "summarize", decoding)
    summary = summaries.Summary(sentences=3)
    summary.add_answer(raw, repairs.Answer(document=document))
    summary.ensure_one(document)
    text = summary.text()
    sentences = split_sentences(text)
    assert all(bad in raw for bad in wrong)  # each was really wrong in the model's answer
    assert not any(bad in text for bad in wrong), text
    assert says.casefold() in text.casefold(), text
    assert len(sentences) == 3 and all(s[-1] in ".!?" for s in sentences), text
    for sentence in sentences:  # the model's own words or the document's: nothing made up
        assert written_in(sentence, raw) or written_in(sentence, document), sentence
    assert summary.extractive == any(not written_in(s, raw) for s in sentences)


# Sentences SmolLM2 wrote with a part the document never says, and that part: it never
# reaches a summary (the sentence goes, or only its true opening clause stays).
BAD_SENTENCES: list[tuple[str, str, str]] = [
    ("02-debian-project-essay.txt", "Ian Murdock's Journey: A Life of Testimony", "Testimony"),
    (
        "03-devils-dictionary-a-b.txt",
        'The Devil\'s Dictionary is a collection of humorous anecdotes and descriptions that have been used to illustrate the works of Albert and Charles Boni, an author who has since become known as "A.B." The book was first published by Aloysius of Westbury-on-Thames in 1893 with a title designed to be taken out of cover letters for publication.',
        "1893",
    ),
    (
        "03-devils-dictionary-a-b.txt",
        '"The Devil\'s Dictionary: A Feature of Business and Social Affairs, by Albert and Charles Boni. This book has been a veritable edition since 1910."',
        "1910",
    ),
    (
        "18-debian-backup.txt",
        "The document also provides details about software RAID (Section 12.1.3), which is designed to protect data from hard drive failure using techniques such as rsync.",
        "12.1.3",
    ),
]


@pytest.mark.parametrize(("file", "sentence", "invented"), BAD_SENTENCES)
def test_what_a_sentence_invents_never_reaches_the_summary(
    file: str, sentence: str, invented: str
) -> None:
    found = [doc for raw, doc in raw_answers_of(file, "summarize") if sentence in raw]
    assert found, "not a sentence the model wrote"
    document = read_document(found[0]).text
    assert invented in sentence and invented not in document
    kept = summary_rules.summary_sentences(sentence, repairs.Answer(document=document))
    assert not any(invented in s for s in kept), kept


# Answers SmolLM2 gave on documents nobody on the project wrote (e-mails, release notes, a
# license, HTML from other generators), as a review collected them, each with what a
# person accepts instead: what must go, and what of the model's answer must stay ("" when
# a person does not mind whether any does). Everything else in the summary is the model's
# own words or the document's; for tags, the tags that must go.
REVIEWED_SUMMARIES: list[tuple[str, str, list[str], str]] = [
    (  # a preamble about the summary itself, in the model's own words
        "The above is a summary of the document, so I'll just rephrase it for you: The "
        "document contains the release notes of Git 2.45.",
        "Git 2.45 was released with new features and bug fixes; the release notes list them.",
        ["summary of the document", "rephrase"],
        "",
    ),
    (
        "This document contains a lot of information that can be easily summarized in one "
        "sentence: Git 2.45 fixes bugs.",
        "Git 2.45 fixes bugs in git rebase and git clone.",
        ["summarized", "a lot of information"],
        "Git 2.45 fixes bugs.",
    ),
    (  # praise of the document instead of its content
        "This document provides a comprehensive overview of the Apache License.",
        "Apache License, Version 2.0. The Licensor grants each user a copyright license to "
        "reproduce and distribute the Work.",
        ["comprehensive"],
        "",
    ),
    (  # nothing but talk about the document
        "The document is a clear and concise summary of the release.",
        "The release fixes the vulnerabilities of all supported platforms.",
        ["clear and concise", "summary of the release"],
        "",
    ),
    (  # a loop ("微信群微信群…", "年年年…") is no answer
        "微信群微信群微信群微信群微信群微信群微信群微信群微信群",
        "微信群是一个聊天应用。",
        ["微信群微信群"],
        "",
    ),
    (  # a lowercase fragment after a period: the rest of a cut sentence
        "Rebasing rewrites history. the topic branch without first creating a new one.",
        "Rebasing rewrites history; the topic branch is rebuilt without creating a new one.",
        ["the topic branch without first"],
        "Rebasing rewrites history.",
    ),
    (  # a special token the model spells itself, and one it stops half-way through
        "The parser splits the log on <im_end|> markers. It keeps each message.<|im_en",
        "<|im_end|> is the end-of-turn marker. A parser splits the log on <|im_end|>.",
        ["im_end", "im_en", "<", "|", "It keeps each message"],  # the document never says it
        "The parser splits the log on",
    ),
    (  # the instruction said back, and a list number alone (the cases their rules quote)
        "Summarize this document in two sentences. 1. Git 2.45 fixes bugs.",
        "Git 2.45 fixes bugs in git rebase and git clone.",
        ["Summarize this", "1. "],
        "Git 2.45 fixes bugs.",
    ),
    (  # a title above the summary (the case drop_title_line quotes)
        "**Debian's Unique Role**\nDebian is a free operating system made by volunteers.",
        "Debian is a free operating system, made by volunteers around the world.",
        ["Unique Role"],
        "Debian is a free operating system made by volunteers.",
    ),
    (  # a template's placeholder written out empty (the document: a stand-in)
        "The team released new versions on , with fixes for the parser.",
        "The team released new versions on 2 May, with fixes for the parser.",
        ["on ,"],
        "",
    ),
    (  # who wrote the message as its whole summary (the document: a stand-in, as read)
        "Linus Torvalds wrote on 9 November 2007.",
        "Linus Torvalds wrote to git on 9 November 2007.\n\nA corrupted object can be "
        "recovered from another repository that still has it.",
        ["wrote on"],
        "",
    ),
    (  # the model's English in a summary of a Swedish manual page (a stand-in), made up
        "This manual provides an overview of the GNU General Public License. chmod ändrar "
        "filrättigheterna för varje given fil.",
        "chmod ändrar filrättigheterna för varje given fil enligt läge. Läget kan vara "
        "symboliskt eller ett oktalt tal. Detta är fri programvara under GNU General Public "
        "License.",
        ["manual provides", "overview"],
        "chmod ändrar filrättigheterna för varje given fil.",
    ),
    (  # what the whole document is, said of one section of it (a how-to, as a stand-in)
        "This document provides a guide to creating and using self-signed certificates.",
        "OpenSSL Certificates HOWTO\n\nThis document explains how to get your own "
        "certificate: you make a private key, and an authority signs your request.\n\n"
        "Keep the key safe. Use a passphrase. Send the request to the authority. It "
        "answers with the certificate.\n\nFor testing, you can make a self-signed "
        "certificate yourself with openssl req -x509.",
        ["guide to creating"],
        "",
    ),
    (  # a claim the document does not make
        "The license is a non-disclosure agreement about making the world a little bit "
        "happier and more hopeful.",
        "Apache License, Version 2.0. Licensor grants a copyright license to reproduce the Work.",
        ["non-disclosure", "happier"],
        "",
    ),
    (  # a release's heading as a sentence, with another release's date
        "Noteworthy changes in release 5.11 (2021-03-17). Enhanced decoding of ioctl commands.",
        "Noteworthy changes in release 6.1 (2022-12-12)\n"
        "==============================================\n\n"
        "* Improvements\n  * Enhanced decoding of ioctl commands.\n\n"
        "Noteworthy changes in release 5.11 (2021-02-17)\n"
        "===============================================\n\n"
        "* Improvements\n  * Implemented --secontext=mismatch option.\n",
        ["Noteworthy", "2021-03-17", "Improvements Enhanced"],
        "Enhanced decoding of ioctl commands.",
    ),
]


@pytest.mark.parametrize(("said", "document", "never", "keeps"), REVIEWED_SUMMARIES)
def test_a_reviewed_bad_summary_is_repaired(
    said: str, document: str, never: list[str], keeps: str
) -> None:
    summary = summaries.Summary(sentences=3)
    summary.add_answer(said, repairs.Answer(document=document))
    summary.ensure_one(document)
    text = summary.text()
    assert text and not any(bad in text for bad in never), text
    assert keeps in text
    for sentence in split_sentences(text):
        assert written_in(sentence, said) or written_in(sentence, document), sentence


REVIEWED_TAGS: list[tuple[list[str], str, list[str]]] = [
    (  # the task's own words as a tag; a single common word ("year") that is no subject
        ["dateutil", "list of up to 5 keywords", "year", "Easter"],
        "dateutil computes the date of Easter for any year, and parses dates.",
        ["list of up to 5 keywords", "year"],
    ),
    (  # a command line from the examples; words with a hyphen stay
        ["git log --raw --all", "corrupt object", "e-mail", "ls -l"],
        "Find a corrupt object with git fsck, then git log --raw --all and ls -l; e-mail the list.",
        ["git log --raw --all", "ls -l"],
    ),
    (  # a loop inside a tag
        ["适合自己适合自己适合自己", "微信", "聊天"],
        "微信是一个聊天应用，适合自己使用。",
        ["适合自己适合自己适合自己"],
    ),
]


@pytest.mark.parametrize(("said", "document", "gone"), REVIEWED_TAGS)
def test_a_reviewed_bad_tag_is_dropped_and_the_good_ones_stay(said, document, gone) -> None:
    tags = repairs.ground_tags(repairs.normalize_tags(said, 5), document, 5)
    assert not set(tags) & set(gone)
    assert [t for t in said if t not in gone] == [t for t in tags if t in said]


# The junk the review found in tags on documents nobody tuned for (issue 25), each on a
# small document written like the one it came from: a word from the lines that frame a
# document (who wrote the e-mail, a listing's columns, a footer, a program's names) or a
# single common word is no tag; the tags that name what the document discusses stay.
GIT_MAIL = """From: Jeff King <peff@peff.net>
To: Junio C Hamano <gitster@pobox.com>
Cc: git@vger.kernel.org
Subject: Re: [PATCH v2] bisect: print the first bad commit on a line of its own
Date: Tue, 7 May 2024 09:14:02 -0400
Message-ID: <20240507131402.GA1234@coredump.intra.peff.net>

On Mon, May 06, 2024 at 04:12:55PM -0700, Junio C Hamano wrote:

> Jeff King <peff@peff.net> writes:
>
>> When git bisect finishes, it prints the first bad commit in the middle
>> of a paragraph, and scripts that parse the bisect output have to guess
>> where the commit name ends.
>
> I agree that a line of its own is easier to parse.  Do we want the
> same for git bisect run?

Yes. With this patch git bisect prints "is the first bad commit" on a
line of its own, and git bisect run stops on that line too. The bisect
log keeps its old format, so scripts that replay a bisect session with
git bisect replay still work.
"""
GROUP_LISTING = """Sharing a repository with a group

A shared repository lets every member of a Unix group push to it. Create it
with git init --shared=group, then check the permissions with ls -l:

$ git init --bare --shared=group project.git
$ ls -l project.git
total 32
-rw-rw-r--  1 david git   23 Mar  4 10:12 HEAD
drwxrwsr-x  2 david git 4096 Mar  4 10:12 branches
-rw-rw-r--  1 david git  126 Mar  4 10:12 config
drwxrwsr-x  4 david git 4096 Mar  4 10:12 objects

The group bit on the directories makes new files in the shared repository
belong to the group, so every member can push without changing permissions.
"""
BISECT_MANUAL = """GIT-BISECT(1)                     Git Manual                     GIT-BISECT(1)

NAME
       git-bisect - Use binary search to find the commit that introduced a bug

SYNOPSIS
       git bisect <subcommand> <options>

DESCRIPTION
       This command uses a binary search algorithm to find which commit in
       your project's history introduced a bug. You use it by first telling
       it a "bad" commit that is known to contain the bug, and a "good"
       commit that is known to be before the bug was introduced. Then git
       bisect picks a commit between those two endpoints and asks you
       whether the selected commit is "good" or "bad". It continues
       narrowing down the range until it finds the exact commit that
       introduced the change.

GIT
       Part of the git(1) suite

Git 2.43.0                        11/20/2023                     GIT-BISECT(1)
"""
ZLIB_EXAMPLE = """zlib Usage Example

This example shows how deflate() and inflate() are used to compress and
decompress a stream. Each call returns a status code, and the loop stops at
the end of the stream.

    ret = deflate(&strm, flush);    /* no bad return value */
    assert(ret != Z_STREAM_ERROR);  /* state not clobbered */
    if (ret == Z_STREAM_END)
        break;

deflate() returns Z_STREAM_END when all input has been compressed and the
output buffer is flushed. If the stream state was clobbered it returns
Z_STREAM_ERROR, which cannot happen in this example.
"""
ARRAY_MANUAL = """Arrays

Arrays are like standard C arrays, except that they grow automatically as
elements are added. Elements are kept in order and can be of any size.

#define G_ELEMENT_SIZE(array) ((array)->elt_size)

GArray *g_array_append_vals (GArray *array, gconstpointer data, guint len);

g_array_append_vals() adds elements onto the end of the array, which grows
automatically; the elements are copied into it.
"""
FRAMING_TAGS: list[tuple[str, list[str], list[str]]] = [  # (document, tags said, junk)
    (
        GIT_MAIL,
        ["Hamano wrote", "Junio", "Jeff King", "git bisect", "bad"],
        ["Hamano wrote", "Junio", "Jeff King", "bad"],
    ),
    (GROUP_LISTING, ["david git", "shared repository", "Work"], ["david git", "Work"]),
    (
        BISECT_MANUAL,
        ["Part of the git", "git bisect", "bad", "binary search"],
        ["Part of the git", "bad"],
    ),
    (
        ZLIB_EXAMPLE,
        ["ERROR", "STREAM", "Z_STREAM_END", "deflate", "zlib"],
        ["ERROR", "STREAM", "Z_STREAM_END"],
    ),
    (ARRAY_MANUAL, ["ELEMENT", "len", "arrays", "g_array_append_vals"], ["ELEMENT", "len"]),
]


@pytest.mark.parametrize(("document", "said", "junk"), FRAMING_TAGS)
def test_words_that_only_frame_a_document_are_no_tags(document, said, junk) -> None:
    page = read_document(document)
    tags = repairs.ground_tags(repairs.normalize_tags(said, 5), page.text, 5, title=page.title)
    tags = repairs.with_title_subject(tags, page, 5)
    assert not set(tags) & set(junk), tags
    assert [t for t in said if t not in junk] == [t for t in tags if t in said]


# A tag said once in passing goes while a tag the text keeps using stays (a heading, the
# title and the first line may name a topic once); when every tag is said once, they stay.
READLINE_MAIL = """Use of Readline

I think Allbery's suggestion is a good one, so please add this text in a suitable place.
Readline is under the GPL. Linking Readline statically or dynamically is the same under the
GPL: a program that uses Readline is a larger work.

GNU Readline license

The GPL covers the larger work as a whole.
"""


def test_a_tag_said_once_in_passing_goes_while_others_stay() -> None:
    page = read_document(READLINE_MAIL)
    said = ["Readline", "suitable place", "GPL", "GNU Readline license", "larger work"]
    tags = repairs.with_title_subject(said, page, 5)
    assert tags == ["Readline", "GPL", "GNU Readline license", "larger work"]
    alone = read_document("Changes\n\nThe merge strategy is chosen by size on network mounts.")
    assert repairs.with_title_subject(["merge strategy"], alone, 5) == ["merge strategy"]


# Tags that are no noun phrase (topics.py is_noun_phrase): a clause or a piece of one,
# as YAKE's phrases end only at stopwords; each on a document written like its source.
CHANGES = """Changes in 9.1

A bug introduced in 9.0 made ls slow on network mounts; it is fixed. Timestamps now say
"3 milliseconds ago". To add emphasis, the pager writes bold text. The merge of two
sorted lists is faster, and the merge strategy is chosen by size.
"""
NO_TOPIC_TAGS: list[tuple[str, list[str], list[str]]] = [  # (document, tags said, junk)
    (
        CHANGES,
        ["bug introduced", "network mounts", "milliseconds ago", "merge strategy", "add emphasis"],
        ["bug introduced", "milliseconds ago", "add emphasis"],
    ),
]


@pytest.mark.parametrize(("document", "said", "junk"), NO_TOPIC_TAGS)
def test_a_tag_that_is_no_noun_phrase_is_dropped(document, said, junk) -> None:
    page = read_document(document)
    tags = repairs.with_title_subject(repairs.normalize_tags(said, 5), page, 5)
    assert not set(tags) & set(junk), tags
    assert [t for t in said if t not in junk] == [t for t in tags if t in said]


def test_good_english_tags_read_as_topics() -> None:
    english = [(t, d) for t, d in GOOD_TAGS if text.guess_language(d) == "en"]
    page = read_document(" ".join(d for _, d in english))
    tags = [t for t, _ in english]
    assert [t for t in repairs.with_title_subject(tags, page, 30) if t in tags] == tags


# What SmolLM2 tagged corpus e-mails and the license with (bench/quality.py before issue
# 25): the senders and the reader's attribution line outweighed the discussion, and the
# license's most common defined word became a tag. The subject stays.
TAGGED_BY_WHO_WROTE: list[tuple[str, list[str], list[str]]] = [  # (text, tags said, junk)
    ("36-wine-release-announcement.eml", ["Wine", "Alexandre Julliard"], ["Alexandre Julliard"]),
    (
        "37-mhonarc-users-shift-jis-attachment.eml",
        ["Shinichiro HIDA", "HIDA wrote", "MHonArc"],
        ["Shinichiro HIDA", "HIDA wrote"],
    ),
    (
        "38-ietf-822-mime-version-reply.eml",
        ["Borenstein wrote", "Nathaniel Borenstein", "MIME-Version"],
        ["Borenstein wrote", "Nathaniel Borenstein"],
    ),
    (
        "39-imagemagick-core-dump-thread.mbox",
        ["Chris Wareham", "ImageMagick", "Mark Overmeer"],
        ["Chris Wareham", "Mark Overmeer"],
    ),
    ("44-apache-license-2.0.txt", ["Derivative Works", "Work", "License"], ["Work"]),
]


@pytest.mark.parametrize(("file", "said", "junk"), TAGGED_BY_WHO_WROTE)
def test_a_corpus_text_is_tagged_by_what_it_discusses(file, said, junk) -> None:
    page = read_document((ROOT / "bench" / "corpus" / file).read_text(encoding="utf-8"))
    tags = repairs.ground_tags(repairs.normalize_tags(said, 5), page.text, 5, title=page.title)
    tags = repairs.with_title_subject(tags, page, 5)
    assert not set(tags) & set(junk), tags
    assert [t for t in said if t not in junk] == [t for t in tags if t in said]


def test_an_e_mail_is_tagged_by_what_it_discusses_through_the_server(loaded) -> None:
    # The model chooses among the e-mail's key phrases (tasks/tags.py); who wrote stays out.
    tags = loaded.ok({"command": "generate-tags", "content": GIT_MAIL, "max_tags": 3})["tags"]
    assert any("bisect" in tag.casefold() for tag in tags), tags
    people = ("hamano", "junio", "jeff", "king", "wrote", "peff", "gitster")
    assert not any(word in tag.casefold() for tag in tags for word in people), tags


def test_a_help_text_is_tagged_by_the_program_its_usage_line_shows_through_the_server(loaded):
    # readelf's --help in Serbian: no title, and the model's words were lone Serbian words
    # ("приказује", "назив"); its usage line names the program.
    help_text = (ROOT / "bench" / "corpus" / "fresh5" / "15-readelf-help-sr.txt").read_text()
    tags = loaded.ok({"command": "generate-tags", "content": help_text})["tags"]
    assert tags[0] == "readelf", tags
    assert not any(t.islower() and not t.isascii() and " " not in t for t in tags), tags


# --- Sentences checked against their document (repairs/support.py) ---------------------
#
# Written by a reader of each corpus text, like the cases: faithful sentences as a
# capable model words them (paraphrased, several facts of one place together), and claims
# that contradict the text, invent an identifier, or assemble the text's words from
# several places. (Known limit: a claim that swaps two roles of one sentence, "a server
# socket is an endpoint ..., while a client socket is like a switchboard operator", uses
# the place's own words and passes.)
SUPPORTED_SENTENCES: list[tuple[str, str]] = [
    ("14", "Python programs are typically much shorter than equivalent C, C++ or Java programs."),
    ("14", "The language is named after Monty Python's Flying Circus, not after reptiles."),
    (
        "14",
        "Python is an interpreted language that saves time because no compilation or linking "
        "is necessary.",
    ),
    ("14", "Python lets you split a program into modules that other Python programs can reuse."),
    (
        "36",
        "Wine 20020904 is a developers-only release of a free implementation of Windows on Unix.",
    ),
    (
        "36",
        "The release brings improved PowerPC support, more correct locale definitions and many "
        "bug fixes.",
    ),
    ("38", "He thinks some kind of version number is totally vital."),
    (
        "19",
        "jq is a command-line JSON processor that can transform JSON by selecting, iterating "
        "and reducing it.",
    ),
    ("19", "Filters can be combined by piping the output of one filter into another."),
    (
        "45",
        "Django 5.2 is a long-term support release that will receive security updates for at "
        "least three years.",
    ),
    ("45", "The shell command now imports models from all installed apps automatically."),
    ("16", "Sockets were invented in Berkeley as part of the BSD flavor of Unix."),
]
UNSUPPORTED_SENTENCES: list[tuple[str, str, str]] = [  # (text, sentence, what is wrong)
    ("36", "Most applications work correctly with this release.", "contradicts"),
    ("45", "The shell management command no longer imports models automatically.", "contradicts"),
    ("14", "Python needs compilation and linking, which costs time in development.", "contradicts"),
    ("38", "Nathaniel Borenstein agrees that MIME-Version is superfluous baggage.", "contradicts"),
    ("45", "Support for Python 3.10 was dropped in Django 5.2.", "contradicts"),
    ("45", "Django 5.2 supports Python 3.9.", "invents"),
    ("45", "Django 5.2 adds a skip_bad_fields option to CompositePrimaryKey.", "invents"),
    ("19", "See jq(2) for the list of builtin filters.", "invents"),
    ("19", "jq reads its filters from the --filter-file option.", "invents"),
    ("36", "The sources are available as wine-20020904.tar.bz2.", "invents"),
    ("45", "The django-contrib-admindocs feature.", "invents"),  # SmolLM2's, in a run
    (
        "36",
        "The README file lists the authors of the pre-built documentation packages.",
        "scatters",
    ),
    ("14", "Python is slow compared to other languages like C and Java.", "scatters"),
    ("14", "Python's standard modules provide graphical user interfaces for reptiles.", "scatters"),
    ("45", "The new BoundField class renders composite primary keys as links.", "scatters"),
    (  # SmolLM2's one-sentence summary of the Wine notes, in a run of this check
        "36",
        "The source is available for download at to be used in future releases of Wine-20020904.",
        "garbles",
    ),
]


def corpus_text(prefix: str) -> str:
    path = next((ROOT / "bench" / "corpus").glob(f"{prefix}-*"))
    return read_document(path.read_text(encoding="utf-8")).text


@pytest.mark.parametrize(("prefix", "sentence"), SUPPORTED_SENTENCES)
def test_a_faithful_sentence_is_supported(prefix: str, sentence: str) -> None:
    document = corpus_text(prefix)
    assert summary_rules.summary_sentences(sentence, repairs.Answer(document=document)) == [
        sentence
    ]


@pytest.mark.parametrize(("prefix", "sentence", "wrong"), UNSUPPORTED_SENTENCES)
def test_a_contradiction_an_invention_or_scattered_words_fail(
    prefix: str, sentence: str, wrong: str
) -> None:
    document = corpus_text(prefix)
    verdict = support.check_support(sentence, document)
    assert not verdict.ok or wrong == "garbles"
    if wrong == "garbles":  # the words are the place's, the sentence leaves a slot empty
        assert summary_rules.leaves_a_slot_empty(sentence, repairs.Answer(document=document))
    elif wrong == "contradicts":  # said otherwise, or a predicate the place lacks
        assert verdict.contradicted or verdict.predicates, verdict
    elif wrong == "invents":
        assert verdict.facts or verdict.identifiers, verdict
    else:  # words the document has, but in another place than the rest
        assert verdict.elsewhere, verdict
    assert summary_rules.summary_sentences(sentence, repairs.Answer(document=document)) == []


# --- The document's own sentences (answers/extractive.py) --------------------------------

# Lines of corpus texts that are no summary of them: a synopsis, code, a command line, a
# table row, the reader's who-wrote line, an attribution above a quote, a quoted reply.
NOT_SUMMARY_LINES: list[tuple[str, str]] = [
    ("19", "jq [options...] filter [files...]"),
    ("16", "s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)"),
    ("07", "$ python hello.py --count=3"),
    ("45", 'pk = models.CompositePrimaryKey("version", "name")'),
    ("37", "line 121:    'shift-jis'      => 'MHonArc/CharEnt/SHIFT_JIS.pm'"),
    ("37", "Shift_JIS;      MHonArc::CharEnt::str2sgml; MHonArc/CharEnt.pm"),
    ("36", "Alexandre Julliard wrote to wine-announce on 4 September 2002."),
    ("38", "Nathaniel Borenstein wrote to ietf-822 on 24 December 1991."),
    ("39", "* Chris Wareham [000724 18:24]:"),
    ("38", "All in all, it's starting to look like MIME-Version is not really all that well"),
    ("36", "See the README file in the distribution for installation instructions."),
    ("39", "#1  0x4005eb8d in SetImageInfo () from /usr/local/lib/libMagick.so.5"),
]


@pytest.mark.parametrize(("prefix", "line"), NOT_SUMMARY_LINES)
def test_no_synopsis_code_row_attribution_or_quote_is_chosen(prefix: str, line: str) -> None:
    document = corpus_text(prefix)
    assert " ".join(line.split()) in " ".join(document.split())  # a real line of the text
    chosen = extractive.extractive_sentences(document, 5)
    assert chosen and not any(written_in(line, s, gap=1) for s in chosen), chosen


# Sentences no summary takes from its document, each between sentences that can stand: a
# pronoun standing for the sentence before, a credit, a pointer, a title, the rest of a
# list item, an example string, a code comment, a disclaimer in capitals.
AGENT = (
    "The ssh-agent program holds private keys in memory for the session. "
    "The agent answers signing requests from ssh clients over a socket."
)
NOT_CHOSEN = [
    "This disables password authentication for root entirely.",
    "This file was part of the Independent JPEG Group's software: Copyright 1991-2012, Thomas G. Lane.",
    "For conditions of distribution and use, see the accompanying README file.",
    "The full documentation of the agent is available at agent.readthedocs.io today.",
    "Keyword Extraction from Single Documents using Multiple Local Features.",
    "moral rights retained by the original author and performer of the keys.",
    '"The Mona Lisa doesn\'t have eyebrows and keys."',
    "// Use RGB colors in terminal emulators that support the agent keys.",
    "CREATIVE COMMONS CORPORATION IS NOT A LAW FIRM AND DOES NOT PROVIDE LEGAL SERVICES.",
]


@pytest.mark.parametrize("sentence", NOT_CHOSEN)
def test_a_sentence_that_cannot_stand_alone_is_not_chosen(sentence: str) -> None:
    document = f"{AGENT}\n\n{sentence}\n\nThe agent keeps keys in memory until the session ends.\n"
    chosen = extractive.extractive_sentences(document, 5)
    assert chosen and sentence not in chosen, chosen


def test_a_demonstrative_before_a_noun_and_a_name_in_lowercase_can_open_a_sentence() -> None:
    for sentence in (
        "This module provides the agent's socket protocol for the session.",
        "This is release 9.1 of the agent, a key holder for ssh.",
        "python-dotenv reads key-value pairs from a file into the agent.",
    ):
        assert sentence in extractive.extractive_sentences(f"{AGENT}\n\n{sentence}\n", 5)


def test_a_word_limit_leaves_out_longer_sentences_and_scores_the_rest() -> None:
    # Scores were looked up by each sentence's place among all the document's sentences,
    # but computed over the shorter ones only: IndexError once any sentence was too long.
    document = corpus_text("14")
    chosen = extractive.extractive_sentences(document, 1, max_words=12)
    assert len(chosen) == 1 and len(chosen[0].split()) <= 12, chosen


def test_a_summary_does_not_open_with_a_sentence_that_adds_to_one_before_it() -> None:
    document = "The base-passwd package lists Debian's users and groups. It also lists groups."
    answer = repairs.Answer(document=document)
    said = summary_rules.summary_sentences("It also lists groups. The package lists users.", answer)
    assert said == ["The package lists users."]
    more = summary_rules.summary_sentences("The package lists users. It also lists groups.", answer)
    assert more == ["The package lists users.", "It also lists groups."]
    assert summary_rules.summary_sentences("Changes:", answer) == []  # a list's label


def test_a_title_given_as_a_sentence_says_nothing() -> None:
    document = (
        "Mozilla Public License Version 2.0\n\n1. Definitions\n\nThe License covers Software."
    )
    answer = repairs.Answer(document=document)
    assert summary_rules.summary_sentences("Mozilla Public License.", answer) == []
    said = "The License covers Software."
    assert summary_rules.summary_sentences(said, answer) == [said]


TUNING_PREFIXES = [f"{n:02d}" for n in range(1, 48)]


@pytest.mark.parametrize("prefix", TUNING_PREFIXES)
def test_the_document_own_sentences_are_real_sentences_of_it(prefix: str) -> None:
    document = corpus_text(prefix)
    chosen = extractive.extractive_sentences(document, 3)
    assert 1 <= len(chosen) <= 3
    for sentence in chosen:
        assert written_in(sentence, document), sentence
        assert re.search(r"[.。][\"'”’»)]?$", sentence) and text.is_sentence(sentence), sentence
        assert not re.search(r"\bwrote to\b|https?://|[{}=|<>]", sentence), sentence
    assert len({text.sentence_key(s) for s in chosen}) == len(chosen)


# One-sentence summaries the app asks for, of the corpus e-mails and the manual page: the
# sentence a reader would pick says what the message or the program is.
ONE_SENTENCE: list[tuple[str, str]] = [
    ("36", "This is release 20020904 of Wine, a free implementation of Windows on Unix."),
    ("19", "jq can transform JSON in various ways"),
    ("38", "version number is, in my opinion, totally vital"),
    ("39", "I have the same problem using PerlMagick 5.2.2 calling ReadImage."),
    ("37", "attachement in the plain-text-file wrote with Shift_JIS"),
]


@pytest.mark.parametrize(("prefix", "expected"), ONE_SENTENCE)
def test_a_one_sentence_summary_of_a_mail_or_manual_is_its_key_sentence(
    prefix: str, expected: str
) -> None:
    document = corpus_text(prefix)
    summary = summaries.Summary(sentences=1)
    summary.ensure_one(document)
    assert summary.extractive and len(summary.sentences) == 1
    assert expected in summary.text()


def test_an_email_is_summarized_by_what_it_says_not_by_who_wrote_it() -> None:
    # The review's case: "Linus Torvalds wrote on 9 November 2007." as a whole summary.
    document = corpus_text("36")
    summary = summaries.Summary(sentences=1)
    said = "Alexandre Julliard wrote on 4 September 2002. Wine is a free implementation."
    summary.add_answer(said, repairs.Answer(document=document))
    summary.ensure_one(document)
    assert summary.text() == "Wine is a free implementation."
    summary = summaries.Summary(sentences=1)
    summary.add_answer(said.split(". ")[0] + ".", repairs.Answer(document=document))
    summary.ensure_one(document)
    assert "wrote" not in summary.text() and "Wine" in summary.text()


def test_a_parenthesis_goes_only_where_a_sentence_stays() -> None:
    said = (
        "JSON (JavaScript Object Notation), specified by RFC 7159 (which obsoletes RFC "
        "4627), is a lightweight data interchange format."
    )
    assert extractive.trimmed(said) == (
        "JSON, specified by RFC 7159, is a lightweight data interchange format."
    )
    assert extractive.trimmed("It costs (about) nothing.") == "It costs (about) nothing."


def test_a_message_with_no_sentence_of_its_own_is_not_summarized_by_who_wrote_it() -> None:
    # A delivery report: its only lines are who wrote, a colon's lead-in and header fields.
    page = read_document(
        "From: Mail Delivery <postmaster@example.org>\nTo: list-admin@example.org\n"
        "Date: Sun, 23 Sep 2001 20:10:55 -0700\nSubject: Delivery failure\n\n"
        "This report relates to a message you sent with the following header fields:\n\n"
        "  Message-id: <002001c144a6@example.edu>\n  Subject: weekend plans\n"
    )
    assert page.text.startswith("Mail Delivery wrote to")  # the reader's attribution line
    assert extractive.fallback_sentence(page.text).startswith("This report relates")


# --- Which sentences a summary holds (answers/summary.py) --------------------------------


def test_failed_sentences_are_replaced_by_the_document_own_and_never_streamed() -> None:
    document = corpus_text("36")
    lines: list[str] = []
    summary = summaries.Summary(sentences=3, emit=lines.append)
    feed = summaries.PartialStream(summary, repairs.Answer(document=document))
    said = (
        "Most applications still do not work correctly. Most applications work correctly "
        "with this release. The sources are available as wine-20020904.tar.bz2. "
    )
    for piece in re.findall(r"\S+\s*", said):
        feed(piece)
    feed.finish()
    summary.ensure_one(document)
    sentences = summary.sentences
    assert sentences[0] == "Most applications still do not work correctly."
    assert len(sentences) == 3 and summary.extractive
    assert all(written_in(s, document) for s in sentences[1:])
    assert "".join(lines) == summary.text()  # the partial lines add up to the summary
    assert not any("correctly with" in line or "tar.bz2" in line for line in lines)


def test_the_model_stops_once_it_failed_as_many_sentences_as_asked() -> None:
    summary = summaries.Summary(sentences=1)
    feed = summaries.PartialStream(summary, repairs.Answer(document=corpus_text("36")))
    said = "Most applications work correctly. The sources are in wine-20020904.tar.bz2 now."
    for piece in re.findall(r"\S+\s*", said):
        feed(piece)
    assert summary.failed == 1 and not summary.done()  # the model may still write a good one
    for piece in re.findall(r"\S+\s*", " Then it was done. And so on."):
        feed(piece)
    assert summary.failed == 2 and summary.done() and not summary.sentences


def test_a_number_cut_off_when_generation_stopped_is_not_taken_for_a_sentence_end() -> None:
    """SmolLM2 looped on an e2fsprogs release note ("This is a new feature of e2fsprogs
    1.46.5 ..." and again), the loop guard stopped it after "1." of the second "1.46.5",
    and "This is a new feature of e2fsprogs 1." came back as the summary. A sentence that
    ends on a word when generation stops is whole; one the model ends itself is too."""
    document = "E2fsprogs 1.47.1 adds the orphan_file feature. The feature is new in 1."
    first = "E2fsprogs 1.47.1 adds the orphan_file feature."
    for said, cut, kept in [
        (first + " The feature is new in 1.", True, [first]),
        (first + " The feature is new in 1.", False, [first, "The feature is new in 1."]),
        (first + " The feature is new.", True, [first, "The feature is new."]),
    ]:
        summary = summaries.Summary(sentences=3)
        feed = summaries.PartialStream(summary, repairs.Answer(document=document))
        for piece in re.findall(r"\S+\s*", said):
            feed(piece)
        feed.finish(cut=cut)
        assert summary.sentences == kept, (said, cut)


TUTORIAL = (
    "Creating a self-signed certificate. Sometimes you want a certificate for local "
    "testing, and you can make one yourself. All rights in the Program not expressly "
    "granted under this Agreement are reserved. The tool runs on Linux and on macOS."
)
# (a small model's sentence, the document, whether it stands: it is the document's words)
OWN_WORDS_CASES = [
    ("This is a self-signed certificate that can be used for local testing.", TUTORIAL, False),
    ("Sometimes you want a certificate for local testing.", TUTORIAL, True),
    ("You want a certificate for local testing, and you can make one.", TUTORIAL, True),
    ("All rights in the Program are reserved.", TUTORIAL, False),  # "not" left out
    ("The tool runs on Linux.", TUTORIAL, True),
    ("The tool runs on macOS and on Linux.", TUTORIAL, False),  # reordered
]


@pytest.mark.parametrize(("said", "document", "stands"), OWN_WORDS_CASES)
def test_a_small_models_sentence_stands_only_as_the_documents_words(
    said: str, document: str, stands: bool
) -> None:
    small = repairs.Answer(document=document, own_words=False)
    assert summary_rules.summary_sentences(said, small) == ([said] if stands else [])


def test_a_large_models_own_words_stand_when_supported() -> None:
    said = "The tool runs on macOS and on Linux."
    assert summary_rules.summary_sentences(said, repairs.Answer(document=TUTORIAL)) == [said]


def test_a_models_size_decides_whether_its_own_words_stand() -> None:
    small = repairs.answer_for(qwen_like_tokenizer(), TUTORIAL, param_count=135_000_000)
    large = repairs.answer_for(qwen_like_tokenizer(), TUTORIAL, param_count=8_000_000_000)
    assert not small.own_words and large.own_words
    assert repairs.answer_for(qwen_like_tokenizer(), TUTORIAL).own_words  # size unknown


HELP = (
    "Kullanım:\n  appstreamcli [SEÇENEK…] - AppStream CLI.\n\nAppStream komut satırı arayüzü\n\n"
    "Alt komutlar:\n  search TERM                 - Bileşen veri tabanında arama yapın.\n"
    "  dump COMPONENT-ID           - Kimlik ile eşleşen bileşen için ham XML üst verilerini dök.\n"
)


def test_a_table_s_row_is_no_sentence_and_a_help_text_s_description_comes_first():
    answer = repairs.Answer(document=HELP)
    row = "search TERM - Bileşen veri tabanında arama yapın."
    assert summary_rules.judged_sentences(row, answer) == [(row, "copies_a_row")]
    assert extractive.extractive_sentences(HELP, 1) == ["AppStream komut satırı arayüzü."]
    justified = "The  xauth  program is used to edit and display the authorization information."
    kept = "The xauth program is used to edit and display the authorization information."
    assert summary_rules.summary_sentences(kept, repairs.Answer(document=justified)) == [kept]


def test_every_summary_rule_has_a_case_it_repairs() -> None:
    """A rule without a case in these tables is untested: each text rule changes one of
    the model's answers, each sentence rule drops one of their sentences."""
    answers = [
        (raw, doc) for f, d, _, _ in BAD_SUMMARIES for raw, doc in [raw_record(f, "summarize", d)]
    ]
    answers += [(said, doc) for said, doc, _, _ in REVIEWED_SUMMARIES]
    answers += [(s, corpus_text(p)) for p, s, _ in UNSUPPORTED_SENTENCES]
    answers += [("search TERM - Bileşen veri tabanında arama yapın.", HELP)]
    for rule in summary_rules.SUMMARY_TEXT_RULES:
        assert any(rule(t, repairs.Answer(document=d)) != t for t, d in answers), rule.__name__
    dropped = {
        why
        for t, d in answers
        for _, why in summary_rules.judged_sentences(t, repairs.Answer(document=d))
    }
    for said, document, _ in OWN_WORDS_CASES:
        small = repairs.Answer(document=document, own_words=False)
        dropped |= {why for _, why in summary_rules.judged_sentences(said, small)}
    missing = {r.__name__ for r in summary_rules.SUMMARY_SENTENCE_RULES} - dropped
    assert not missing


# --- Through the real server -----------------------------------------------------------


@pytest.mark.parametrize("value", [0, 6, 2.5, "2", True, -1])
def test_sentences_out_of_range_or_not_an_integer_is_invalid_params(sidecar, value) -> None:
    line = sidecar.answer(
        {"command": "summarize", "content": "Some text here.", "sentences": value}
    )
    assert line["type"] == "error" and line["code"] == "invalid_params"
    assert "sentences" in line["error"]


def test_one_sentence_streamed_is_exactly_one_clean_sentence(loaded) -> None:
    events, line = loaded.request(
        {"command": "summarize", "content": DOCUMENT, "sentences": 1, "stream": True}
    )
    assert line["type"] == "response", line
    summary = line["summary"]
    assert len(text.split_sentences(summary)) == 1
    assert text.is_sentence(summary)
    partials = [e["text"] for e in events if e["type"] == "partial"]
    assert "".join(partials) == summary


def test_three_sentences_streamed_add_up_to_the_summary(loaded) -> None:
    events, line = loaded.request(
        {"command": "summarize", "content": DOCUMENT, "sentences": 3, "stream": True}
    )
    summary = line["summary"]
    assert 1 <= len(text.split_sentences(summary)) <= 3
    assert "".join(e["text"] for e in events if e["type"] == "partial") == summary


def test_nothing_usable_from_the_model_gives_the_document_own_sentences(loaded) -> None:
    # One token cannot make a sentence: the summary is sentences of the document.
    events, line = loaded.request(
        {"command": "summarize", "content": DOCUMENT, "max_tokens": 1, "stream": True}
    )
    assert line["extractive"] is True
    sentences = split_sentences(line["summary"])
    assert 1 <= len(sentences) <= 3
    assert all(s in DOCUMENT and text.is_sentence(s) for s in sentences), sentences
    assert "".join(e["text"] for e in events if e["type"] == "partial") == line["summary"]


def test_a_one_sentence_summary_of_an_email_is_a_sentence_it_supports(loaded) -> None:
    content = (ROOT / "bench" / "corpus" / "36-wine-release-announcement.eml").read_text("utf-8")
    line = loaded.answer(
        {"command": "summarize", "content": content, "sentences": 1, "max_tokens": 48}
    )
    summary, document = line["summary"], read_document(content).text
    assert len(split_sentences(summary)) == 1 and text.is_sentence(summary), summary
    assert "wrote to" not in summary  # the reader's line, not what the message says
    assert written_in(summary, document) or support.check_support(summary, document).ok


def test_chunk_results_are_keyed_by_every_option_that_changes_them() -> None:
    def key(max_tokens: int, temperature: float, task: str = "t", chunk: str = "c") -> tuple:
        return ChunkNotes.key("summary", task, chunk, max_tokens, temperature)

    assert key(8, 0.0) != key(160, 0.0)  # a generate-tags with max_tokens 8 cannot poison
    assert key(160, 0.0) != key(160, 0.7)
    assert key(160, 0.0, task="other") != key(160, 0.0)
    assert key(160, 0.0, chunk="other") != key(160, 0.0)
    assert key(160, 0.0) == key(160, 0.0)


def test_a_sentence_whose_tail_invents_a_name_keeps_its_true_opening_clause() -> None:
    page = reading.read_document(
        (server_root() / "bench" / "corpus" / "29-python-tomllib-page.html").read_text("utf-8"),
        "auto",
    ).text
    answer = repairs.Answer(document=page)
    said = (
        "This module provides an interface for parsing TOML files, which is useful for "
        "existing data from various sources such as XML files."
    )
    assert summary_rules.support(said, answer).facts == ["XML"]
    head = summary_rules.supported_head(said, answer)
    assert head == "This module provides an interface for parsing TOML files."
    invented = "The University of Michigan developed it."  # nothing true to keep
    assert summary_rules.supported_head(invented, answer) == invented


def server_root():
    return ROOT
