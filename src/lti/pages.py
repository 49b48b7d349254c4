"""The pages of the LTI flows (error pages, the platform-storage steps, deep-linking
selection and return, dynamic registration), built on the one template helper
(web.page). No inline script: behaviour lives in /static/app.js and the flows' own
scripts, data travels in the page's JSON config."""

from __future__ import annotations

from web.page import Page, esc


def error(title: str, message: str, claim: str | None, correlation_id: str) -> Page:
    detail = f'<p class="muted">Check: <code id="error-claim">{esc(claim)}</code></p>' if claim else ""
    return Page(title, f'<h1 id="error-title">{esc(title)}</h1><p id="error-message">{esc(message)}</p>{detail}'
                       f'<p class="muted">Reference: <code id="correlation-id">{esc(correlation_id)}</code>. '
                       "Open Atomic Guide again from your course; if this keeps happening, give the reference "
                       "to your Canvas administrator.</p>")


def storage_put_then_redirect(auth_url: str, platform_origin: str, storage_target: str, key: str,
                              value: str, script: str) -> Page:
    """Login step when cookies may be blocked: keep a secret in Canvas's platform storage
    (postMessage lti.put_data), then continue to the platform's authorization endpoint."""
    return Page("Signing in", '<h1 class="visually-hidden">Signing in</h1><p>Signing you in…</p>'
                              f'<p><a id="continue" href="{esc(auth_url)}">Continue</a></p>',
                config={"storage": {"mode": "put", "auth_url": auth_url, "origin": platform_origin,
                                    "target": storage_target, "key": key, "value": value}},
                scripts=(script,))


def storage_get_then_post(action: str, platform_origin: str, storage_target: str, key: str, fields: dict,
                          script: str) -> Page:
    """Launch step without the state cookie: read the secret back from platform storage
    (postMessage lti.get_data) and post the launch again, from this page, with it."""
    inputs = "".join(f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">' for k, v in fields.items())
    form = (f'<form id="relaunch" method="post" action="{esc(action)}">{inputs}'
            '<input type="hidden" name="lti_storage_state" value=""></form>')
    timeout = ('<p id="storage-timeout" role="alert" hidden>Your browser did not let Atomic Guide finish signing '
               "in inside this page. Open Atomic Guide again from your course; if it keeps happening, allow "
               "third-party cookies for this site or open the tool in a new window.</p>")
    return Page("Signing in", '<h1 class="visually-hidden">Signing in</h1><p>Finishing sign-in…</p>' + form + timeout,
                config={"storage": {"mode": "get", "origin": platform_origin, "target": storage_target,
                                    "key": key}},
                scripts=(script,))


def auto_post(action: str, fields: dict, title: str = "Returning to Canvas") -> Page:
    inputs = "".join(f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">' for k, v in fields.items())
    return Page(title, f'<h1>{esc(title)}…</h1><form id="autopost" method="post" action="{esc(action)}" '
                       f'data-autosubmit>{inputs}<button type="submit">Continue</button></form>')


def deep_link_selection(action: str, dl_token: str, options: list[dict]) -> Page:
    items = "".join(
        f'<label class="option"><input type="checkbox" name="item" value="{esc(o["key"])}"'
        f'{" checked" if i == 0 else ""}><span><strong>{esc(o["title"])}</strong><br>'
        f'<span class="muted">{esc(o["text"])}</span></span></label>' for i, o in enumerate(options))
    return Page("Add Atomic Guide", '<h1 id="dl-title">Add Atomic Guide to your course</h1>'
                f'<form id="dl-form" method="post" action="{esc(action)}"><fieldset>'
                f"<legend>Choose what to add</legend>{items}</fieldset>"
                f'<input type="hidden" name="dl" value="{esc(dl_token)}">'
                '<button type="submit" id="dl-submit">Add selected</button></form>')


def registration_done(ok: bool, message: str, correlation_id: str | None = None) -> Page:
    ref = (f'<p class="muted">Reference: <code id="correlation-id">{esc(correlation_id)}</code></p>'
           if correlation_id else "")
    return Page("Registration", f'<h1 id="registration-title">{"Registered" if ok else "Registration failed"}</h1>'
                                f'<p id="registration-message">{esc(message)}</p>{ref}',
                config={"closeRegistration": ok})
