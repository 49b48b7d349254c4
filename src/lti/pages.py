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


def _choice(name: str, value: str, label: str, checked: bool, kind: str = "radio", hint: str = "") -> str:
    ident = f"{name}-{value}"
    note = f'<br><span class="muted">{esc(hint)}</span>' if hint else ""
    return (f'<label class="option" for="{esc(ident)}"><input type="{kind}" id="{esc(ident)}" name="{esc(name)}" '
            f'value="{esc(value)}"{" checked" if checked else ""}><span>{esc(label)}{note}</span></label>')


def _practice_fields(concepts: list[tuple[str, str]] | None, values: dict, chosen_concepts: set[str]) -> str:
    """The settings of a new practice activity (fieldsets with legends; every control labelled)."""
    v = values.get
    if concepts is None:
        concept_part = ('<p class="card warn" role="status" id="dl-concepts-unavailable">The course\'s concepts '
                        "cannot be read right now (database outage); you can still name new ones below.</p>")
    elif concepts:
        concept_part = "".join(_choice("concept", cid, name, cid in chosen_concepts, "checkbox")
                               for cid, name in concepts)
    else:
        concept_part = '<p class="muted" id="dl-no-concepts">This course has no concepts yet: name some below.</p>'
    types = "".join(_choice("type", key, label, (v("type") or "fill_blank") == key, hint=hint) for key, label, hint in (
        ("fill_blank", "Fill in the blank", "Learners type the missing term; answers are checked on the server."),
        ("flashcards", "Flashcards", "Learners recall the back of a card and grade themselves (Again/Hard/Good/Easy)."),
        ("chat", "Guide conversation", "The AI Guide talks the learner through the concepts.")))
    schemas = "".join(_choice("grading_schema", key, label, (v("grading_schema") or "mastery") == key, hint=hint)
                      for key, label, hint in (
        ("mastery", "Mastery", "Share of the activity's concepts mastered."),
        ("percentage", "Percentage", "Share of answers right."),
        ("engagement", "Engagement", "Items attempted against the target below.")))
    graded = v("graded", "1" if not values else None) == "1"
    tolerance = str(v("typo_tolerance") or "1")
    options = "".join(f'<option value="{n}"{" selected" if tolerance == str(n) else ""}>{label}</option>'
                      for n, label in ((0, "None: exact answers only"), (1, "Up to 1 typo"), (2, "Up to 2 typos"),
                                       (3, "Up to 3 typos")))
    return (
        '<fieldset id="practice-settings"><legend>Practice activity settings</legend>'
        f'<label for="dl-activity-title">Title</label><input id="dl-activity-title" name="title" maxlength="200" '
        f'value="{esc(v("title") or "Practice")}" autocomplete="off">'
        f'<fieldset><legend>Type</legend>{types}</fieldset>'
        f'<fieldset id="dl-concepts"><legend>Concepts it covers</legend>{concept_part}'
        '<label for="dl-new-concepts">New concepts (one name per line)</label>'
        f'<textarea id="dl-new-concepts" name="new_concepts" rows="3">{esc(v("new_concepts") or "")}</textarea>'
        "</fieldset>"
        '<label for="dl-threshold">Mastery threshold (% of the concepts mastered)</label>'
        f'<input id="dl-threshold" name="mastery_threshold" type="number" min="0" max="100" step="1" '
        f'inputmode="numeric" value="{esc(v("mastery_threshold") or "80")}">'
        f'<fieldset><legend>How it is graded</legend>{schemas}</fieldset>'
        '<label for="dl-target">Engagement target (answers for 100%)</label>'
        f'<input id="dl-target" name="engagement_target" type="number" min="1" max="1000" step="1" '
        f'inputmode="numeric" value="{esc(v("engagement_target") or "20")}">'
        '<label for="dl-typos">Typos forgiven in typed answers</label>'
        f'<select id="dl-typos" name="typo_tolerance">{options}</select>'
        f'{_choice("graded", "1", "Send grades to the gradebook (a column per activity)", graded, "checkbox")}'
        "</fieldset>")


def deep_link_selection(action: str, dl_token: str, options: list[dict], ltik: str | None = None,
                        concepts: list[tuple[str, str]] | None = None, errors: list[str] | None = None,
                        values: list[tuple[str, str]] | None = None) -> Page:
    values = values or []
    fields = dict(values)
    picked = {v for k, v in values if k == "item"} if values else {options[0]["key"]} if options else set()
    items = "".join(
        f'<label class="option" for="dl-item-{esc(o["key"])}"><input type="checkbox" id="dl-item-{esc(o["key"])}" '
        f'name="item" value="{esc(o["key"])}"{" checked" if o["key"] in picked else ""}><span><strong>'
        f'{esc(o["title"])}</strong><br><span class="muted">{esc(o["text"])}</span></span></label>' for o in options)
    practice = ""
    if ltik is not None:
        practice = _practice_fields(concepts, fields, {v for k, v in values if k == "concept"})
        practice += f'<input type="hidden" name="ltik" value="{esc(ltik)}">'
    summary = ""
    if errors:
        summary = ('<div class="card bad" role="alert" id="dl-errors" tabindex="-1"><h2>Please fix these</h2><ul>'
                   + "".join(f"<li>{esc(e)}</li>" for e in errors) + "</ul></div>")
    return Page("Add Atomic Guide", '<h1 id="dl-title">Add Atomic Guide to your course</h1>' + summary +
                f'<form id="dl-form" method="post" action="{esc(action)}"><fieldset>'
                f"<legend>Choose what to add</legend>{items}</fieldset>{practice}"
                f'<input type="hidden" name="dl" value="{esc(dl_token)}">'
                '<button type="submit" id="dl-submit">Add selected</button></form>')


def registration_done(ok: bool, message: str, correlation_id: str | None = None) -> Page:
    ref = (f'<p class="muted">Reference: <code id="correlation-id">{esc(correlation_id)}</code></p>'
           if correlation_id else "")
    return Page("Registration", f'<h1 id="registration-title">{"Registered" if ok else "Registration failed"}</h1>'
                                f'<p id="registration-message">{esc(message)}</p>{ref}',
                config={"closeRegistration": ok})
