"""How sentences.jsonl was drawn: single sentences from the DESCRIPTION sections of Debian 12's
translated manual pages (Korean: LibreOffice's help pages, Debian has no Korean manual).

    apt-get download manpages manpages-de manpages-fr manpages-es manpages-it \
        manpages-pt-br manpages-nl manpages-pl manpages-ru manpages-uk manpages-sv \
        manpages-da manpages-nb manpages-fi manpages-ja manpages-zh libreoffice-help-ko
    for f in *.deb; do dpkg-deb -x "$f" ROOT; done
    python draw.py ROOT > sentences.jsonl     # needs man, col and lxml

Pages are rendered with `man -l`; per language, pages in a seeded random order, one
sentence of 5-30 words (CJK: 10-70 characters) from each page that has one, until 32 are
drawn. They were read by hand: DROPPED (their numbers in the drawn order) are untranslated
English, fragments cut at an abbreviation, option lines and near-duplicates; the first 20
left of each language are kept.
"""

import glob
import json
import os
import random
import re
import subprocess
import sys

HEADS = {"BESCHREIBUNG", "DESCRIPTION", "DESCRIPCIÓN", "DESCRIZIONE", "DESCRIÇÃO", "BESCHRIJVING",
         "OPIS", "ОПИСАНИЕ", "ОПИС", "BESKRIVNING", "BESKRIVELSE", "KUVAUS", "説明", "解説"}
LANGS = {  # iso: (man dir, package)
    "en": ("", "manpages"), "de": ("de", "manpages-de"), "fr": ("fr", "manpages-fr"),
    "es": ("es", "manpages-es"), "it": ("it", "manpages-it"), "pt": ("pt_BR", "manpages-pt-br"),
    "nl": ("nl", "manpages-nl"), "pl": ("pl", "manpages-pl"), "ru": ("ru", "manpages-ru"),
    "uk": ("uk", "manpages-uk"), "sv": ("sv", "manpages-sv"), "da": ("da", "manpages-da"),
    "nb": ("nb", "manpages-nb"), "fi": ("fi", "manpages-fi"), "ja": ("ja", "manpages-ja"),
    "zh": ("zh_CN", "manpages-zh"),
}
DRAWN, KEPT = 32, 20
DROPPED = {17, 114, 124, 125, 137, 147, 159, 160, 167, 168, 206, 226, 238, 250, 252, 259, 260,
           265, 271, 291, 294, 328, 338, 374, 389, 390, 409, 423, 424, 426, 429, 435, 438, 440,
           441, 442, 446}
CJKC = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
EN = set("the and of to is are this with for that be by it from which".split())
BAD = re.compile(r"[=|\[\]{}<>$\\@#*_]|--|/\w|\w/|\.\w|\w\(\d|https?:")


def description(path):
    env = dict(os.environ, MANWIDTH="5000", LANG="C.UTF-8")
    out = subprocess.run(["man", "--nj", "--nh", "-l", path], capture_output=True, env=env).stdout
    out = subprocess.run(["col", "-b"], input=out, capture_output=True).stdout.decode("utf-8", "replace")
    paras, on = [], False
    for line in out.splitlines():
        if line and not line[0].isspace():
            on = line.strip() in HEADS or "描述" in line
            continue
        if on and line.strip():
            paras.append(" ".join(line.split()))
    return paras


def sentences(para):
    return [s.strip() for s in re.split(r"(?<=[.!?。！？])\s+|(?<=[。！？])", para) if s.strip()]


def good(s, lang):
    if BAD.search(s) or not re.search(r"[.!?。]$", s):
        return False
    if lang in ("zh", "ja", "ko"):
        letters = re.findall(r"[^\W\d_]", s)
        cjk = len(CJKC.findall(s))
        return 10 <= cjk <= 70 and cjk >= 0.7 * len(letters)
    words = re.findall(r"[^\W\d_]+", s)
    if not 5 <= len(words) <= 30 or len(s.split()) > 30:
        return False
    if any(len(w) == 1 and w.isupper() for w in words):
        return False
    return lang == "en" or sum(w.casefold() in EN for w in words) < 2


def pick(root, lang, n):
    rng = random.Random(lang)
    chosen = []
    if lang == "ko":
        import lxml.html

        base = f"{root}/usr/share/libreoffice/help/ko/"
        files = sorted(glob.glob(base + "text/**/*.html", recursive=True))
        rng.shuffle(files)
        for f in files:
            paras = [" ".join(p.text_content().split()) for p in lxml.html.parse(f).iter("p")]
            seen = {c[0] for c in chosen}
            cands = [s for p in paras for s in sentences(p) if good(s, "ko") and s not in seen]
            if cands:
                chosen.append((rng.choice(cands), "libreoffice-help-ko", os.path.relpath(f, base)))
            if len(chosen) == n:
                return chosen
    d, pkg = LANGS[lang]
    man = f"{root}/usr/share/man"
    pages = sorted(glob.glob(f"{man}/{d + '/' if d else ''}man[1-8]/*.gz"))
    rng.shuffle(pages)
    for p in pages:
        seen = {c[0] for c in chosen}
        cands = [s for para in description(p) for s in sentences(para) if good(s, lang) and s not in seen]
        if cands:
            chosen.append((rng.choice(cands), pkg, os.path.relpath(p, man)))
        if len(chosen) == n:
            break
    return chosen


if __name__ == "__main__":
    drawn = [(lang, *row) for lang in [*LANGS, "ko"] for row in pick(sys.argv[1], lang, DRAWN)]
    kept = {}
    for i, (lang, text, package, page) in enumerate(drawn):
        if i not in DROPPED and len(kept.setdefault(lang, [])) < KEPT:
            kept[lang].append(text)
            print(json.dumps({"lang": lang, "text": text, "package": package, "page": page},
                             ensure_ascii=False))
