"""One small template helper for every HTML page: the document shell (skip link,
header, navigation, main landmark), the page's JSON config, and the response with its
security headers. Everything interpolated is escaped by the callers through `esc`;
pages build their bodies from small functions, not strings assembled in routes.

Content-Security-Policy: scripts only from the tool's own origin plus the page's nonce,
no inline event handlers or styles, and `frame-ancestors` limited to the origins allowed
to frame the page (the launch's platform, or every registered platform before a launch)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from html import escape
from typing import Iterable

from fastapi.responses import HTMLResponse

from web import assets


def esc(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    current: bool = False


@dataclass
class Page:
    """What a page is made of; `render()` turns it into the document."""

    title: str
    body: str
    config: dict = field(default_factory=dict)  # read by app.js from #ag-config
    nav: list[NavItem] = field(default_factory=list)
    scripts: tuple[str, ...] = ()  # extra same-origin script paths
    lang: str = "en"
    styles: tuple[str, ...] = ()  # extra same-origin stylesheet paths (page-specific CSS)

    def render(self, nonce: str) -> str:
        nav = ""
        if self.nav:
            items = "".join(
                f'<li><a href="{esc(n.href)}"{" aria-current=\"page\"" if n.current else ""}>{esc(n.label)}</a></li>'
                for n in self.nav)
            nav = f'<nav class="tabs" aria-label="Atomic Guide"><ul>{items}</ul></nav>'
        config = json.dumps(self.config, separators=(",", ":")).replace("<", "\\u003c")
        scripts = "".join(f'<script src="{esc(s)}" nonce="{nonce}" defer></script>'
                          for s in (assets.path("app.js"), *self.scripts))
        return ("<!doctype html>"
                f'<html lang="{esc(self.lang)}"><head><meta charset="utf-8">'
                '<meta name="viewport" content="width=device-width,initial-scale=1">'
                f"<title>{esc(self.title)} · Atomic Guide</title>"
                f'<link rel="stylesheet" href="{assets.path("app.css")}">'
                + "".join(f'<link rel="stylesheet" href="{esc(s)}">' for s in self.styles) +
                f'<link rel="icon" href="{assets.path("icon.svg")}">'
                f'<script type="application/json" id="ag-config">{config}</script>{scripts}</head>'
                '<body><a class="skip" href="#main">Skip to content</a>'
                f'<header class="top"><span class="brand"><img src="{assets.path("icon.svg")}" alt="">'
                f"Atomic Guide</span>{nav}</header>"
                f'<main id="main" tabindex="-1">{self.body}</main></body></html>')


def content_security_policy(nonce: str, frame_ancestors: Iterable[str], form_action: Iterable[str] = ()) -> str:
    ancestors = " ".join(sorted(set(frame_ancestors))) or "'none'"
    actions = " ".join(["'self'", *sorted(set(form_action))])
    return ("default-src 'none'; "
            f"script-src 'self' 'nonce-{nonce}'; "
            "style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; "
            f"form-action {actions}; frame-ancestors {ancestors}; base-uri 'none'; object-src 'none'")


def security_headers(csp: str, https: bool) -> dict[str, str]:
    headers = {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff",
               "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
    if https:
        headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    return headers


def html_response(page: Page, *, frame_ancestors: Iterable[str], https: bool, status: int = 200,
                  form_action: Iterable[str] = (), headers: dict[str, str] | None = None) -> HTMLResponse:
    """The page with a fresh nonce and its headers. `frame_ancestors` empty means 'none'."""
    nonce = secrets.token_urlsafe(16)
    h = security_headers(content_security_policy(nonce, frame_ancestors, form_action), https)
    h.update(headers or {})
    return HTMLResponse(page.render(nonce), status_code=status, headers=h)
