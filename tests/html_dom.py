"""A small DOM of a rendered page for tests that assert on structure, not on markup fragments.

``parse(html)`` gives the root ``Node``; ``select(tag, **attrs)`` finds descendants by tag
and attributes (``cls`` matches one class among an element's classes), ``text`` is the
element's text with whitespace collapsed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Iterator

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list["Node | str"] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    @property
    def text(self) -> str:
        parts: list[str] = []

        def walk(n: "Node | str") -> None:
            if isinstance(n, str):
                parts.append(n)
            elif n.tag not in ("title", "script", "style"):  # an SVG tooltip is no visible text
                for c in n.children:
                    walk(c)

        for c in self.children:
            walk(c)
        return " ".join("".join(parts).split())

    def iter(self) -> Iterator["Node"]:
        for c in self.children:
            if isinstance(c, Node):
                yield c
                yield from c.iter()

    def select(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list["Node"]:
        """Descendants with ``tag``, class ``cls`` and the given attributes (``data_x`` is ``data-x``;
        a value of ``...`` only asks for the attribute to be present)."""
        wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [n for n in self.iter() if (tag is None or n.tag == tag) and (cls is None or cls in n.classes)
                and all(k in n.attrs and (v is ... or n.attrs[k] == v) for k, v in wanted.items())]

    def one(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> "Node":
        (found,) = self.select(tag, cls, **attrs)
        return found


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root")
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):  # close up to the matching element
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root
