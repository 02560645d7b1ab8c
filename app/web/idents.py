"""How the pages cut a long identifier: digests, commit shas, run ids, stream names.

The pages show every such value the same way (templates/_ident.html through the
`ident` filter): a short head in monospace, the rest kept in the text but hidden
from sight, the whole value on hover and focus, and a copy button. This module only
decides where to cut and what to call the value; the markup is the template's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HEX_SHOWN = 7  # as git shows a commit, and as `sha256:8f88752…` reads
NAME_SHOWN = 24  # a name up to this long is shown whole
NAME_HEAD, NAME_TAIL = 9, 12  # a longer one: its start and its end (where names differ)

_HEX = re.compile(r"(?P<pre>(?:[a-z][a-z0-9_]*-)?(?:sha256:)?)(?P<hex>[0-9a-f]{32,64})")
_UUID = re.compile(
    r"(?P<pre>(?:[a-z][a-z0-9_]*-)?)(?P<hex>[0-9a-f]{8})-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)


@dataclass(frozen=True)
class IdentParts:
    """A value cut for display: `head` and `tail` are shown, `middle` is hidden from sight."""

    value: str
    head: str
    middle: str = ""
    tail: str = ""

    @property
    def label(self) -> str:
        """What the value is, in words, for the copy button."""
        if "sha256:" in self.value:
            return "digest"
        if _UUID.fullmatch(self.value):
            return "id"
        found = _HEX.fullmatch(self.value)
        if found is not None:
            return "commit sha" if len(found["hex"]) == 40 else "hash"
        return "name"


def ident_parts(value: str) -> IdentParts:
    """Where to cut `value`: hex after 7 digits, a UUID after its first group, a name in the middle.

    `sha256:8f88752…`, `8f88752…` (a commit), `5d6f0b9e…` (a run id), and the same
    after a stream's category (`image-sha256:8f88752…`, `run-5d6f0b9e…`). A name
    longer than NAME_SHOWN keeps its start and its end: `repo-http…acme/web.git`.
    """
    for pattern, shown in ((_HEX, HEX_SHOWN), (_UUID, 8)):
        found = pattern.fullmatch(value)
        if found is not None:
            cut = found.end("pre") + shown
            return IdentParts(value, value[:cut], value[cut:])
    if len(value) <= NAME_SHOWN:
        return IdentParts(value, value)
    return IdentParts(value, value[:NAME_HEAD], value[NAME_HEAD:-NAME_TAIL], value[-NAME_TAIL:])
