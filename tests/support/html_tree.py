"""A small HTML tree built with the standard library's parser, for checking page structure."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}  # fmt: skip
INLINE = {"a", "abbr", "b", "code", "em", "i", "kbd", "small", "span", "strong", "time"}


@dataclass
class Node:
    """An element: its tag, attributes, children and text."""

    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)
    # Text and child elements in document order (the text of `children` included).
    content: list[str | Node] = field(default_factory=list)

    def iter(self) -> Iterator[Node]:
        """This node and every element below it, in document order."""
        yield self
        for child in self.children:
            yield from child.iter()

    def find_all(self, tag: str, **attrs: str) -> list[Node]:
        """Every element below with this tag and these attribute values."""
        return [
            n
            for n in self.iter()
            if n.tag == tag and all(n.attrs.get(k.rstrip("_")) == v for k, v in attrs.items())
        ]

    def find(self, tag: str, **attrs: str) -> Node:
        """The first such element; AssertionError naming it when there is none."""
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag} {attrs}> in the page"
        return found[0]

    def by_id(self, ident: str) -> Node:
        """The element with id `ident`."""
        found = [n for n in self.iter() if n.attrs.get("id") == ident]
        assert len(found) == 1, f"{len(found)} elements with id {ident!r}"
        return found[0]

    @property
    def text(self) -> str:
        """All the text inside, whitespace collapsed."""
        parts: list[str] = []

        def walk(node: Node) -> None:
            for item in node.content:
                if isinstance(item, str):
                    parts.append(item)
                elif item.tag in INLINE:  # text runs on across inline elements, as rendered
                    walk(item)
                else:
                    parts.append(" ")
                    walk(item)
                    parts.append(" ")

        walk(self)
        return " ".join("".join(parts).split())


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document")
        self.stack = [self.root]
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        self.stack[-1].content.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        self.stack[-1].content.append(node)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if self.stack[-1].tag != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1].tag}>")
            while len(self.stack) > 1 and self.stack[-1].tag != tag:
                self.stack.pop()
        if len(self.stack) > 1:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].content.append(data)


def parse(html: str) -> Node:
    """The document tree of `html`; fails if an element is closed out of order or left open."""
    builder = _Builder()
    builder.feed(html)
    builder.close()
    assert not builder.errors, builder.errors
    assert len(builder.stack) == 1, f"unclosed: {[n.tag for n in builder.stack[1:]]}"
    return builder.root


def check_page(html: str) -> Node:
    """Parse a full page and check what every page must have; return the tree."""
    doc = parse(html)
    assert doc.find("html").attrs.get("lang") == "en"
    assert doc.find("meta", name="viewport")
    assert len(doc.find_all("h1")) == 1, "a page has exactly one <h1>"
    assert doc.find("main").attrs.get("id") == "main"
    assert doc.find("form", role="search").find("input", name="q")
    for node in doc.iter():  # no CDN: every script and stylesheet is served by shiplog
        for attr in ("src", "href"):
            if node.tag in ("script", "link") and attr in node.attrs:
                assert node.attrs[attr].startswith("/static/"), node.attrs[attr]
    ids = [n.attrs["id"] for n in doc.iter() if "id" in n.attrs]
    assert len(ids) == len(set(ids)), "ids are unique"
    for field_ in doc.find_all("input") + doc.find_all("select"):
        if field_.attrs.get("type") not in ("hidden", "submit"):
            assert any(
                label.attrs.get("for") == field_.attrs.get("id") for label in doc.find_all("label")
            ), f"input {field_.attrs.get('name')} has a label"
    return doc
