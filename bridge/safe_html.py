"""A person's Markdown as the HTML of a Matrix message, safe to show: one function,
`markdown_html`, for every bot message that renders what someone typed (a notice, its edit, a
notice that came by webhook).

Raw HTML in the text is shown as text (Python-Markdown's HTML pass is switched off, so nothing
is escaped twice: `` `a<b` `` shows a<b), and the rendered HTML is cut by nh3 (the Ammonia
sanitiser) to what the Matrix spec recommends for `formatted_body` (spec: "m.room.message
msgtypes", HTML subset): its tags and attributes only, links to http, https, mailto (matrix.to
is https) and nothing else — `javascript:` in any case, `vbscript:`, `data:` go, reference-style
links too — and images from the homeserver's media repository (`mxc://`) only, never a remote
image that would tell a tracker who read the notice.
"""

from __future__ import annotations

import markdown
import nh3

# The spec's recommended tags for formatted_body (v1.19), and the attributes it names.
TAGS = frozenset(
    {
        "font", "del", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "p", "a", "ul", "ol",
        "sup", "sub", "li", "b", "i", "u", "strong", "em", "s", "code", "hr", "br", "div",
        "table", "thead", "tbody", "tr", "th", "td", "caption", "pre", "span", "img",
        "details", "summary",
    }
)  # fmt: skip
ATTRIBUTES = {
    "font": {"data-mx-bg-color", "data-mx-color", "color"},
    "span": {"data-mx-bg-color", "data-mx-color", "data-mx-spoiler"},
    "a": {"href", "target"},
    "img": {"width", "height", "alt", "title", "src"},
    "ol": {"start"},
    "code": {"class"},
}
LINK_SCHEMES = ("http:", "https:", "mailto:")
IMAGE_SCHEME = "mxc:"


def _keep(tag: str, attribute: str, value: str) -> str | None:
    """Links to the web and mail only, images from the media repository only."""
    lowered = value.strip().lower()
    if tag == "a" and attribute == "href":
        return value if lowered.startswith(LINK_SCHEMES) else None
    if tag == "img" and attribute == "src":
        return value if lowered.startswith(IMAGE_SCHEME) else None
    if tag == "code" and attribute == "class":
        return value if lowered.startswith("language-") else None
    return value


def _renderer() -> markdown.Markdown:
    md = markdown.Markdown()
    # Raw HTML typed in the text stays text: Markdown escapes it once, as it does in code.
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    return md


def sanitise(html: str) -> str:
    """Any HTML cut to the spec's subset (tags, attributes, link and image schemes)."""
    return nh3.clean(
        html,
        tags=set(TAGS),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        attribute_filter=_keep,
        url_schemes={"http", "https", "mailto", "mxc"},
        link_rel=None,
        strip_comments=True,
    )


def markdown_html(text: str) -> str:
    """What someone typed, in Markdown, as safe `formatted_body` HTML."""
    return sanitise(_renderer().convert(text))
