"""The briefing as HTML (Jinja2) and as PDF (WeasyPrint).

The HTML is self-contained (its charts are data URIs), so `--format html` writes one file
that opens anywhere; the PDF is that HTML laid out on A4 by WeasyPrint, with Noto Sans CJK
for Chinese (Debian `fonts-noto-cjk`, `make fonts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from dashboard.briefing import charts
from dashboard.briefing.content import Briefing

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Rendered:
    content: bytes
    pages: int | None  # None for HTML


def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def html(briefing: Briefing, images: list[bytes] | None = None) -> str:
    """The briefing as one HTML document; `images` are the charts' PNGs (drawn when None)."""
    if images is None:
        images = charts.draw([c.figure for c in briefing.charts])
    css = (TEMPLATES / "briefing.css").read_text(encoding="utf-8")
    return environment().get_template("briefing.html.j2").render(
        b=briefing, t=briefing.texts, css=css, images=[charts.data_uri(png) for png in images]
    )


def pdf(document: str) -> Rendered:
    """The HTML laid out as a PDF, with its number of pages."""
    from weasyprint import HTML

    laid_out = HTML(string=document, base_url=str(TEMPLATES)).render()
    return Rendered(laid_out.write_pdf(), len(laid_out.pages))


def render(briefing: Briefing, fmt: str) -> Rendered:
    if fmt not in ("pdf", "html"):
        raise ValueError(f"unknown format {fmt!r}; expected pdf or html")
    document = html(briefing)
    if fmt == "html":
        return Rendered(document.encode("utf-8"), None)
    return pdf(document)
