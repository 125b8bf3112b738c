"""Tags with the user's own list (`known_tags`): their spellings, and few new tags.

The grammar already holds a model to the list's tags and at most `max_new_tags` others;
these rules settle what it wrote. A variant of a known tag ("web-scraping" for "Web
Scraping") is that tag, spelled as the user spells it. A known tag the document never
mentions is no answer ("cooking" for an HTTP library), whatever the grammar allowed. A
new tag is repaired like any tag, and no more of them are kept than allowed. When nothing
is left, the known tags the document mentions most stand in.
"""

from __future__ import annotations

from ..vocabulary import KnownTags
from .tags import ground_tags, keyword_tags, normalize_tags

FALLBACK_TAGS = 3  # with nothing usable: this many of the most mentioned known tags


def with_known_tags(
    items: list,
    document: str,
    limit: int,
    known: KnownTags,
    max_new: int,
    mentioned: list[str],
    translated: bool = False,
) -> list[str]:
    """At most ``limit`` tags: known ones in the user's spelling first, then at most
    ``max_new`` new ones. ``mentioned`` are the known tags the document mentions;
    ``translated`` answers (another language) keep the known tags the model chose."""
    related = set(mentioned)
    kept: list[str] = []
    new: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            continue
        repaired = normalize_tags([item], 1)
        spelled = known.spelling(item) or (known.spelling(repaired[0]) if repaired else None)
        if spelled is not None:
            if spelled not in kept and (spelled in related or translated):
                kept.append(spelled)
        elif repaired and repaired[0] not in new:
            new.append(repaired[0])
    if not translated:
        new = ground_tags(new, document, limit, top_up=False)
    tags = (kept + new[:max_new])[:limit]
    if not tags:
        tags = mentioned[: min(FALLBACK_TAGS, limit)]
    if not tags and max_new:
        tags = [t for t in keyword_tags(document, limit) if known.spelling(t) is None][:max_new]
    return tags


def new_tags(tags: list[str], known: KnownTags) -> list[str]:
    """The tags that are not in the user's list (as the list spells it)."""
    spelled = set(known.tags)
    return [t for t in tags if t not in spelled]
