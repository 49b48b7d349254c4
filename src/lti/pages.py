"""HTML for the browser side of LTI: landing pages, the platform-storage steps, deep
linking selection and return, readable error pages. Everything interpolated is escaped."""

from __future__ import annotations

import json
from html import escape

_STYLE = ("body{font-family:system-ui,sans-serif;margin:2rem;max-width:46rem;color:#1b1b1b}"
          "h1{font-size:1.4rem}.muted{color:#555}.card{border:1px solid #ddd;border-radius:8px;padding:1rem;margin:.5rem 0}"
          ".warn{background:#fff6e0;border-color:#e9c46a}button{padding:.5rem 1rem}")


def _page(title: str, body: str, head: str = "") -> str:
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
            f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><style>{_STYLE}</style>{head}"
            f"</head><body>{body}</body></html>")


def _json_script(name: str, value) -> str:
    # JSON inside <script>: '<' escaped so no value can close the tag.
    return f'<script type="application/json" id="{name}">{json.dumps(value).replace("<", "\\u003c")}</script>'


def error_page(title: str, message: str, claim: str | None, correlation_id: str) -> str:
    detail = f"<p class=\"muted\">Check: <code>{escape(claim)}</code></p>" if claim else ""
    return _page(title, f"<h1 id=\"error-title\">{escape(title)}</h1><p id=\"error-message\">{escape(message)}</p>"
                        f"{detail}<p class=\"muted\">Reference: <code>{escape(correlation_id)}</code>. "
                        "Relaunch the tool from your course; if this persists, give the reference to your "
                        "Canvas administrator.</p>")


def landing_page(*, role: str, name: str | None, context_title: str | None, token: str, profile: dict,
                 stale: bool, saved: bool) -> str:
    who = escape(name or "there")
    course = escape(context_title or "your course")
    notes = ""
    if stale:
        notes += ('<div class="card warn" id="stale-note">Your profile is shown from a recent copy; the latest '
                  "changes may be missing while our database recovers.</div>")
    if not saved:
        notes += ('<div class="card warn" id="unsaved-note">We cannot save your progress right now. '
                  "You can keep studying; try again in a few minutes to have it recorded.</div>")
    if role == "instructor":
        main = (f'<h1 id="landing" data-role="instructor">Atomic Guide for {course}</h1>'
                "<p>See where your class struggles and how mastery is building.</p>"
                '<div class="card"><h2>Class overview</h2><div id="overview" class="muted">Loading…</div></div>')
    else:
        main = (f'<h1 id="landing" data-role="learner">Hi {who}, welcome to Atomic Guide</h1>'
                f"<p>Studying {course}. The Guide watches for where you get stuck and offers help.</p>"
                '<div class="card"><h2>Your learning profile</h2><div id="profile" class="muted">'
                f"Profile {escape(profile.get('id', ''))[:8]}… version {escape(str(profile.get('version', '')))}"
                "</div></div>")
    script = ("<script>const s=JSON.parse(document.getElementById('session').textContent);"
              "window.atomicGuide={token:s.token};</script>")
    return _page("Atomic Guide", main + notes + _json_script("session", {"token": token, "role": role}) + script)


def storage_put_then_redirect(auth_url: str, platform_origin: str, storage_target: str, key: str, value: str) -> str:
    """Login step when cookies may be blocked: keep the state in Canvas's platform storage
    (postMessage lti.put_data), then continue to the platform's authorization endpoint."""
    data = {"auth_url": auth_url, "origin": platform_origin, "target": storage_target, "key": key, "value": value}
    script = """<script>
const d=JSON.parse(document.getElementById('lti').textContent);
const target=(d.target&&d.target!=='_parent'&&window.parent.frames[d.target])||window.parent;
const id=Math.random().toString(36).slice(2);
let done=false;const go=()=>{if(!done){done=true;window.location.href=d.auth_url;}};
window.addEventListener('message',e=>{const m=e.data||{};
 if(m.subject==='lti.put_data.response'&&m.message_id===id){go();}});
try{target.postMessage({subject:'lti.put_data',message_id:id,key:d.key,value:d.value},d.origin);}catch(e){}
setTimeout(go,1500);
</script>"""
    return _page("Signing in…", "<p>Signing you in…</p>" + _json_script("lti", data) + script)


def storage_get_then_post(action: str, platform_origin: str, storage_target: str, key: str, fields: dict) -> str:
    """Launch step without the state cookie: read the state back from platform storage
    (postMessage lti.get_data) and post the launch again with it."""
    data = {"origin": platform_origin, "target": storage_target, "key": key}
    inputs = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items())
    script = """<script>
const d=JSON.parse(document.getElementById('lti').textContent);
const target=(d.target&&d.target!=='_parent'&&window.parent.frames[d.target])||window.parent;
const id=Math.random().toString(36).slice(2);const f=document.getElementById('relaunch');
window.addEventListener('message',e=>{const m=e.data||{};
 if(m.subject==='lti.get_data.response'&&m.message_id===id){
  f.elements['lti_storage_state'].value=m.value||'';f.submit();}});
target.postMessage({subject:'lti.get_data',message_id:id,key:d.key},d.origin);
</script>"""
    form = (f'<form id="relaunch" method="post" action="{escape(action)}">{inputs}'
            '<input type="hidden" name="lti_storage_state" value=""></form>')
    return _page("Signing in…", "<p>Finishing sign-in…</p>" + form + _json_script("lti", data) + script)


def auto_post(action: str, fields: dict, title: str = "Returning to Canvas…") -> str:
    inputs = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items())
    return _page(title, f'<form id="autopost" method="post" action="{escape(action)}">{inputs}'
                        '<noscript><button type="submit">Continue</button></noscript></form>'
                        "<script>document.getElementById('autopost').submit();</script>")


def deep_link_selection(action: str, dl_token: str, options: list[dict]) -> str:
    items = "".join(
        f'<label class="card" style="display:block"><input type="checkbox" name="item" value="{escape(o["key"])}"'
        f'{" checked" if i == 0 else ""}> <strong>{escape(o["title"])}</strong><br>'
        f'<span class="muted">{escape(o["text"])}</span></label>' for i, o in enumerate(options))
    return _page("Add Atomic Guide", f'<h1 id="dl-title">Add Atomic Guide to your course</h1>'
                 f'<form id="dl-form" method="post" action="{escape(action)}">{items}'
                 f'<input type="hidden" name="dl" value="{escape(dl_token)}">'
                 '<button type="submit" id="dl-submit">Add selected</button></form>')


def registration_done(ok: bool, message: str) -> str:
    script = "<script>(window.opener||window.parent).postMessage({subject:'org.imsglobal.lti.close'},'*');</script>"
    return _page("Atomic Guide registration", f"<h1>{'Registered' if ok else 'Registration failed'}</h1>"
                 f"<p>{escape(message)}</p>" + (script if ok else ""))
