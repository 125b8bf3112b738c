"""E-mails, chat transcripts and subtitles: read as a person reads them.

The samples are written here to look like what the app saves (a mailing-list reply with
its transport headers, quote, signature and list footer; a MIME message with an HTML
alternative and an attachment; an mbox thread; IRC and exported chats; SRT and WebVTT
captions). The corpus (bench/corpus/36-47) holds real ones; the last tests read those.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT

from mlx_sidecar.reading import read_document

CORPUS = ROOT / "bench" / "corpus"

REPLY = """\
Return-Path: <dev-bounces@lists.example.org>
Received: from mx1.example.org (mx1.example.org [192.0.2.10])
\tby mail.example.net with ESMTPS id 4VZt3k1QxJz9sWx
\tfor <carol@example.net>; Tue, 07 May 2024 10:41:12 +0200 (CEST)
Message-ID: <CAH+7dXy8kq@mail.example.com>
In-Reply-To: <87wmo2t9xk.fsf@example.org>
References: <87wmo2t9xk.fsf@example.org>
Date: Tue, 07 May 2024 10:40:55 +0200
From: Bob Builder <bob@example.com>
To: Alice Example <alice@example.org>
Cc: dev@lists.example.org
Subject: Re: [dev] Moving the nightly builds to the new cluster
MIME-Version: 1.0
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: 8bit
X-Mailman-Version: 2.1.39
List-Id: Developers <dev.lists.example.org>

Thanks Alice, the plan looks right to me. I can move the ARM runners on Thursday,
after the release branch is cut, and keep the old machines as a fallback for a week.

On Mon, 6 May 2024 at 18:02, Alice Example <alice@example.org> wrote:
> Hi all,
>
> the old build cluster goes out of warranty in June, so I would like to move
> the nightly builds to the new machines in the basement rack. The new cluster
> has twice the cores and faster disks, and the firmware is already updated.
> Please tell me by Wednesday if one of your jobs depends on the old hosts,
> their host names or their local caches, because those will not be copied.
> The x86 runners move first; the ARM runners can follow when someone has time.
> I also want to retire the Jenkins plugins nobody uses any more, and move the
> artifact storage to the object store, which means the download URLs change.

--\x20
Bob Builder
Release engineering, Example Project

_______________________________________________
dev mailing list
dev@lists.example.org
https://lists.example.org/mailman/listinfo/dev
"""

MIME = """\
From: "Dana Writer" <dana@example.com>
To: team@example.com
Date: Fri, 03 May 2024 16:20:00 +0000
Subject: Quarterly report
Message-ID: <report-2024q1@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset="utf-8"

The first quarter closed with revenue up eight percent and two new customers in Norway.
The full figures are in the attached report.

--inner
Content-Type: text/html; charset="utf-8"

<html><body><p>The first quarter closed with <b>revenue up eight percent</b>.</p>
<p>HTMLONLYWORD figures are attached.</p></body></html>

--inner--

--outer
Content-Type: application/pdf; name="report-q1.pdf"
Content-Disposition: attachment; filename="report-q1.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFIvRmlsdGVyIC9GbGF0ZURlY29kZT4+
--outer--
"""

HTML_ONLY = """\
From: News Desk <news@example.org>
To: readers@example.org
Date: Thu, 02 May 2024 07:00:00 +0000
Subject: Morning briefing
Content-Type: text/html; charset="utf-8"

<html><head><style>p { color: red }</style></head><body>
<p>The city council approved the new bicycle lanes along the river on Wednesday night.</p>
<p>Construction starts in July and should finish before the winter.</p>
</body></html>
"""

THREAD = """\
From alice@example.org Mon May  6 18:02:00 2024
From: Alice Example <alice@example.org>
To: dev@lists.example.org
Date: Mon, 06 May 2024 18:02:00 +0200
Subject: [dev] Moving the nightly builds to the new cluster
Message-ID: <87wmo2t9xk.fsf@example.org>

The old build cluster goes out of warranty in June, so the nightly builds move.

From bob@example.com Tue May  7 10:40:55 2024
From: Bob Builder <bob@example.com>
To: dev@lists.example.org
Date: Tue, 07 May 2024 10:40:55 +0200
Subject: Re: [dev] Moving the nightly builds to the new cluster
In-Reply-To: <87wmo2t9xk.fsf@example.org>

I can move the ARM runners on Thursday.
"""

IRC = """\
[10:31] * alice has joined #builds
[10:32] <alice> the nightly ARM build failed again on the old cluster
[10:32] <alice> disk full on runner 3
[10:33] <bob> I will move the ARM runners to the new cluster on Thursday
[10:33] <carol> ok, then we can retire the old hosts next week
[10:34] -!- dave is now known as dave_away
[10:35] <alice> thanks bob, I will update the wiki page
[10:36] <bob> np
"""

EXPORTED = """\
[01/05/2024, 10:32:11] Maria: Are we still meeting at the library on Saturday?
[01/05/2024, 10:33:02] Jonas: Yes, at ten, second floor reading room.
[01/05/2024, 10:33:40] Maria: Great, I will bring the draft of the grant proposal.
[01/05/2024, 10:34:15] Jonas: Bring the budget table too, the deadline is Monday.
[01/05/2024, 10:35:00] Maria: Will do.
"""

SRT = """\
1
00:00:01,000 --> 00:00:03,500
<i>Welcome back to the workshop.</i>

2
00:00:03,500 --> 00:00:06,000
Welcome back to the workshop.
Today we repair a bicycle wheel.

3
00:00:06,000 --> 00:00:09,000
{\\an8}First, remove the tire with two levers.

4
00:00:14,000 --> 00:00:17,000
Then check the spokes for tension.
"""

VTT = """\
WEBVTT
Kind: captions
Language: en

NOTE Captions prepared by the outreach office.

00:00:01.000 --> 00:00:04.000
<v Roger Bingham>We are in New York City

00:00:04.000 --> 00:00:07.000 align:start
<v Roger Bingham>and we're actually at the Lucern Hotel

00:00:07.000 --> 00:00:10.000
<v Neil deGrasse Tyson>where we are talking about <c.highlight>the cosmos</c>
"""


def test_an_email_reads_as_subject_people_date_and_its_own_text():
    reading = read_document(REPLY)
    assert reading.format == "email"
    assert reading.title == "Moving the nightly builds to the new cluster"
    text = reading.text
    assert text.startswith("Bob Builder wrote to Alice Example (copied to dev) on 7 May 2024.")
    assert "I can move the ARM runners on Thursday" in text
    for transport in (
        "Received",
        "Message-ID",
        "References",
        "In-Reply-To",
        "Content-Type",
        "X-Mailman",
        "List-Id",
        "ESMTPS",
        "192.0.2.10",
        "@",
    ):
        assert transport not in text, transport


def test_an_email_quote_is_marked_and_never_outweighs_the_message_own_text():
    text = read_document(REPLY).text
    own = "Thanks Alice, the plan looks right to me."
    lines = text.splitlines()
    quoted = [ln for ln in lines if ln.startswith("“")]
    assert len(quoted) == 1 and quoted[0].endswith("[...]”")  # the long quote was cut, and says so
    assert "old build cluster goes out of warranty" in quoted[0]
    said_by = lines[lines.index(quoted[0]) - 2]
    assert said_by == "On Mon, 6 May 2024 at 18:02, Alice Example wrote:"  # who said it
    assert text.index(own) < text.index(said_by)
    own_chars = sum(len(ln) for ln in REPLY.split("\n\n")[1].splitlines())
    assert len(quoted[0]) <= max(400, own_chars) + len("“ [...]”")


def test_a_quote_without_its_author_is_marked_quoted():
    text = read_document(
        THREAD.replace("I can move", "> the nightly builds move.\n\nI can move")
    ).text
    assert "Quoted: “the nightly builds move.”" in text


def test_an_email_signature_and_list_footer_give_no_words():
    text = read_document(REPLY).text
    for gone in ("Release engineering", "mailing list", "listinfo", "____"):
        assert gone not in text, gone


def test_a_mime_email_reads_its_plain_part_and_names_its_attachment():
    reading = read_document(MIME)
    assert reading.format == "email" and reading.title == "Quarterly report"
    assert "revenue up eight percent and two new customers in Norway" in reading.text
    assert "HTMLONLYWORD" not in reading.text  # the plain alternative, not both
    assert "Attachments: report-q1.pdf (application/pdf)." in reading.text
    assert "JVBERi0" not in reading.text and "boundary" not in reading.text
    assert reading.text.startswith("Dana Writer wrote to team on 3 May 2024.")


def test_an_html_email_is_read_by_the_html_reader():
    reading = read_document(HTML_ONLY)
    assert reading.format == "email"
    assert "bicycle lanes along the river" in reading.text
    assert "color: red" not in reading.text and "<p>" not in reading.text


def test_an_mbox_thread_reads_as_its_messages_in_order():
    reading = read_document(THREAD)
    assert reading.format == "email"
    assert reading.title == "Moving the nightly builds to the new cluster"
    first = reading.text.index("Alice Example wrote to dev on 6 May 2024 about “Moving the")
    second = reading.text.index("Bob Builder wrote to dev on 7 May 2024 about “Moving the")
    assert first < reading.text.index("out of warranty") < second
    assert "From alice@example.org Mon May" not in reading.text


@pytest.mark.parametrize(
    "text, speakers",
    [
        (IRC, ["alice", "bob", "carol", "alice", "bob"]),
        (EXPORTED, ["Maria", "Jonas", "Maria", "Jonas", "Maria"]),
    ],
)
def test_a_chat_reads_as_who_said_what_without_timestamps_or_channel_events(text, speakers):
    reading = read_document(text)
    assert reading.format == "chat"
    lines = reading.text.splitlines()
    assert [ln.split(":", 1)[0] for ln in lines] == speakers
    assert not any(ch.isdigit() and ":" in ln[:12] for ln in lines for ch in ln[:3])
    for event in ("has joined", "is now known as", "[10:3", "01/05/2024"):
        assert event not in reading.text, event


def test_one_speaker_s_lines_in_a_row_are_one_turn():
    text = read_document(IRC).text
    assert (
        "alice: the nightly ARM build failed again on the old cluster disk full on runner 3" in text
    )


def test_srt_subtitles_read_as_the_words_spoken():
    reading = read_document(SRT)
    assert reading.format == "subtitles"
    paragraphs = reading.text.split("\n\n")
    assert paragraphs == [
        "Welcome back to the workshop. Today we repair a bicycle wheel. "
        "First, remove the tire with two levers.",
        "Then check the spokes for tension.",  # a 5 s pause starts a paragraph
    ]


def test_webvtt_captions_name_their_speakers_and_drop_notes_and_styling():
    reading = read_document(VTT)
    assert reading.format == "subtitles"
    assert reading.text.split("\n\n") == [
        "Roger Bingham: We are in New York City and we're actually at the Lucern Hotel",
        "Neil deGrasse Tyson: where we are talking about the cosmos",
    ]
    for gone in ("WEBVTT", "NOTE", "outreach", "-->", "align:", "Kind:"):
        assert gone not in reading.text


@pytest.mark.parametrize(
    "text",
    [
        "Title: A field guide\nAuthor: Sam\n\nThe guide describes the birds of the coast.",
        "Note: the meeting moved.\nWhen: Friday\nWhere: room 4\n\nBring the slides.",
        "Q: What is it?\nA: A parser.\n\nIt reads documents.",
        "The talk starts at 10:30 and ends at 11:00.\nThe next one starts at 11:15.",
    ],
)
def test_text_with_a_few_colons_is_not_mistaken_for_an_email_a_chat_or_subtitles(text):
    assert read_document(text).format == "text"


def test_a_readme_that_shows_captions_as_an_example_is_no_subtitles_file():
    readme = (  # written like webvtt-py's README: prose first, then cues in a code block
        "webvtt-py\n=========\n\n``webvtt-py`` is a Python library for reading, writing and\n"
        "converting WebVTT caption files.\n\nCLI\n---\n\nGiven ``captions.vtt``:\n\n"
        ".. code-block:: text\n\n"
        + "".join(f"  00:00:0{i}.000 --> 00:00:0{i + 1}.000\n  Caption {i}\n\n" for i in range(4))
        + "Segment it into 10 second segments with ``webvtt segment``.\n"
    )
    reading = read_document(readme)
    assert reading.format == "rst"
    assert "is a Python library for reading" in reading.text


def test_a_format_named_in_the_request_is_read_as_that_format():
    assert read_document(IRC, "text").format == "text"
    assert read_document(REPLY, "email").title == "Moving the nightly builds to the new cluster"


# --- The real samples of the corpus ---------------------------------------------------


def corpus_files(kind: str) -> list[Path]:
    manifest = json.loads((CORPUS / "MANIFEST.json").read_text(encoding="utf-8"))
    return [CORPUS / entry["file"] for entry in manifest if entry["kind"] == kind]


@pytest.mark.parametrize(
    "kind, fmt", [("email", "email"), ("chat", "chat"), ("subtitles", "subtitles")]
)
def test_the_corpus_samples_of_each_kind_are_detected_as_their_format(kind, fmt):
    files = corpus_files(kind)
    assert files, kind
    for path in files:
        reading = read_document(path.read_text(encoding="utf-8", errors="replace"))
        assert reading.format == fmt, path.name
        assert 0 < len(reading.text) < path.stat().st_size


def test_no_other_corpus_text_is_taken_for_an_email_a_chat_or_subtitles():
    manifest = json.loads((CORPUS / "MANIFEST.json").read_text(encoding="utf-8"))
    for entry in manifest:
        if entry["kind"] in ("email", "chat", "subtitles"):
            continue
        text = (CORPUS / entry["file"]).read_text(encoding="utf-8")
        assert read_document(text).format not in ("email", "chat", "subtitles"), entry["file"]


def test_an_email_through_the_server_is_tagged_and_summarized_from_its_own_text(loaded):
    tags = loaded.ok({"command": "generate-tags", "content": REPLY})
    assert tags["format"] == "email" and tags["read_chars"] < len(REPLY)
    for tag in tags["tags"]:
        assert not any(
            word in tag.lower() for word in ("received", "message-id", "esmtp", "mailman")
        )
    summary = loaded.ok({"command": "summarize", "content": REPLY, "sentences": 1})
    assert summary["format"] == "email" and summary["summary"]


def test_a_one_part_email_of_another_text_type_is_read_as_its_text():
    """git's how-tos are e-mails whose only part is text/asciidoc: its words are the
    message, not just who wrote it (which once was the whole summary)."""
    message = (
        "From: Junio C Hamano <gitster@pobox.com>\n"
        "Date: Wed, 07 May 2014 13:15:39 -0700\n"
        'Subject: Beginner question on "Pull is mostly evil"\n'
        "Content-type: text/asciidoc\n\n"
        "Keep authoritative canonical history correct with git pull\n"
        "==========================================================\n\n"
        "Sometimes a new project integrator will end up with project history\n"
        'that appears to be "backwards" from what other developers expect.\n'
    )
    read = read_document(message)
    assert read.format == "email"
    assert "project integrator" in read.text and "Junio C Hamano" in read.text
