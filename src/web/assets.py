"""The tool's static assets (one stylesheet, one script, the icon), served by the Worker
itself under fingerprinted names so browsers may cache them for a year. Constants only:
nothing is read or computed at import time."""

from __future__ import annotations

import hashlib
from functools import cache

CSS = """
:root{--ink:#1b1b1b;--muted:#545454;--line:#d0d0d0;--bg:#fff;--accent:#0b5cad;--accent-ink:#fff;
--ok:#1e6b34;--warn-bg:#fff6e0;--warn-line:#c98c00;--bad:#a4161a;--focus:#ffbf47;--radius:8px}
*{box-sizing:border-box}
html{font-size:100%}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:var(--ink);background:var(--bg);
line-height:1.5}
.skip{position:absolute;left:-999px;top:0;background:var(--focus);color:#000;padding:.5rem 1rem;z-index:10}
.skip:focus{left:0}
header.top{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1.5rem;padding:.75rem 1rem;
border-bottom:1px solid var(--line)}
header.top .brand{font-weight:700;display:flex;align-items:center;gap:.5rem;color:var(--ink);text-decoration:none}
header.top .brand img{width:28px;height:28px}
nav.tabs ul{display:flex;flex-wrap:wrap;gap:.25rem;list-style:none;margin:0;padding:0}
nav.tabs a{display:inline-block;padding:.4rem .75rem;border-radius:var(--radius);color:var(--accent);
text-decoration:none}
nav.tabs a[aria-current=page]{background:var(--accent);color:var(--accent-ink)}
main{max-width:60rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;margin:.5rem 0 1rem}
h2{font-size:1.2rem;margin:1.25rem 0 .5rem}
.card>h2:first-child,.card>h1:first-child{margin-top:0}
p{margin:.5rem 0}
a{color:var(--accent)}
.muted{color:var(--muted)}
.card{border:1px solid var(--line);border-radius:var(--radius);padding:1rem;margin:.75rem 0}
.warn{background:var(--warn-bg);border-color:var(--warn-line)}
.bad{border-color:var(--bad)}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(14rem,1fr));gap:.75rem}
.stack>*+*{margin-top:.5rem}
button,.button{font:inherit;padding:.55rem 1.1rem;border-radius:var(--radius);border:1px solid var(--accent);
background:var(--accent);color:var(--accent-ink);cursor:pointer;text-decoration:none;display:inline-block;
min-height:44px}
button.secondary,.button.secondary{background:transparent;color:var(--accent)}
button:disabled{opacity:.6;cursor:not-allowed}
input,select,textarea{font:inherit;padding:.5rem;border:1px solid #767676;border-radius:6px;max-width:100%}
label{display:block;font-weight:600;margin:.5rem 0 .25rem}
fieldset{border:1px solid var(--line);border-radius:var(--radius);margin:.75rem 0;padding:.75rem}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
.table-wrap{overflow-x:auto}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em;word-break:break-all}
.option{display:flex;gap:.75rem;align-items:flex-start;border:1px solid var(--line);border-radius:var(--radius);
padding:.75rem;margin:.5rem 0;font-weight:400}
.option input{margin-top:.3rem}
.dock{position:fixed;right:1rem;bottom:1rem;z-index:5;max-width:24rem;margin:0;background:var(--bg);
box-shadow:0 2px 12px rgba(0,0,0,.25)}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@media (max-width:30rem){main{padding:.75rem}h1{font-size:1.3rem}header.top{padding:.5rem .75rem}
.dock{left:.5rem;right:.5rem;bottom:.5rem;max-width:none}}
"""

# Page behaviour shared by every page: reads the page's JSON config (never inline code),
# offers `AtomicGuide.api()` for calls with the session token, and wires the buttons
# that post a form automatically or close a registration window.
JS = """
(function(){
  "use strict";
  var cfgEl = document.getElementById("ag-config");
  var cfg = cfgEl ? JSON.parse(cfgEl.textContent) : {};
  function api(path, opts){
    opts = opts || {};
    var headers = Object.assign({"Accept":"application/json"}, opts.headers || {});
    if (cfg.token) headers["Authorization"] = "Bearer " + cfg.token;
    if (opts.json !== undefined){ headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(opts.json); }
    return fetch(path, {method: opts.method || "GET", headers: headers, body: opts.body, keepalive: !!opts.keepalive,
                        credentials: "omit"});
  }
  window.AtomicGuide = {config: cfg, api: api};
  document.querySelectorAll("form[data-autosubmit]").forEach(function(f){ f.submit(); });
  if (cfg.closeRegistration){
    (window.opener || window.parent).postMessage({subject: "org.imsglobal.lti.close"}, "*");
  }
})();
"""

# The platform-storage steps of the LTI login and launch (LTI Client Side postMessages):
# `put` keeps the login's secret in the platform's storage and continues to the
# platform; `get` reads it back and re-posts the launch form from this page. Messages go
# to the parent with target origin "*": Canvas does not accept its OIDC origin as the
# target (its docs say to use "*"), and who may frame these pages at all is limited by
# their CSP frame-ancestors. A platform that never answers `get` gets a readable message.
LTI_STORAGE_JS = """
(function(){
  "use strict";
  var s = (window.AtomicGuide && window.AtomicGuide.config || {}).storage;
  if (!s) return;
  var target = (s.target && s.target !== "_parent" && window.parent.frames[s.target]) || window.parent;
  var id = "ag-" + Date.now().toString(36) + "-" + Math.floor(Math.random() * 1e9).toString(36);
  if (s.mode === "put") {
    var done = false;
    var go = function(){ if (!done) { done = true; window.location.href = s.auth_url; } };
    window.addEventListener("message", function(e){
      var m = e.data || {};
      if (m.subject === "lti.put_data.response" && m.message_id === id) go();
    });
    try { target.postMessage({subject: "lti.put_data", message_id: id, key: s.key, value: s.value}, "*"); }
    catch (err) {}
    setTimeout(go, 1500);
  } else if (s.mode === "get") {
    var form = document.getElementById("relaunch");
    var answered = false;
    window.addEventListener("message", function(e){
      var m = e.data || {};
      if (m.subject === "lti.get_data.response" && m.message_id === id) {
        answered = true;
        form.elements["lti_storage_state"].value = m.value || "";
        form.submit();
      }
    });
    try { target.postMessage({subject: "lti.get_data", message_id: id, key: s.key}, "*"); } catch (err) {}
    setTimeout(function(){
      if (!answered) {
        var note = document.getElementById("storage-timeout");
        if (note) note.hidden = false;
      }
    }, 4000);
  }
})();
"""

ICON_SVG = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" role="img" aria-label="Atomic Guide">
<circle cx="32" cy="32" r="30" fill="#0b5cad"/>
<ellipse cx="32" cy="32" rx="22" ry="9" fill="none" stroke="#fff" stroke-width="3"/>
<ellipse cx="32" cy="32" rx="22" ry="9" fill="none" stroke="#fff" stroke-width="3" transform="rotate(60 32 32)"/>
<ellipse cx="32" cy="32" rx="22" ry="9" fill="none" stroke="#fff" stroke-width="3" transform="rotate(120 32 32)"/>
<circle cx="32" cy="32" r="5" fill="#ffbf47"/></svg>"""

JS_TYPE = "text/javascript; charset=utf-8"
CSS_TYPE = "text/css; charset=utf-8"
_ASSETS: dict[str, tuple[str, str]] = {}


def add(name: str, text: str, content_type: str) -> str:
    """Registers an asset (feature packages add their page scripts at import: a dict
    entry, no I/O). Returns the name."""
    if name in _ASSETS and _ASSETS[name][0] != text:
        raise ValueError(f"asset {name} registered twice with different content")
    _ASSETS[name] = (text, content_type)
    return name


add("app.css", CSS, CSS_TYPE)
add("app.js", JS, JS_TYPE)
add("lti-storage.js", LTI_STORAGE_JS, JS_TYPE)
add("icon.svg", ICON_SVG, "image/svg+xml")


@cache
def fingerprint(name: str) -> str:
    return hashlib.sha256(_ASSETS[name][0].encode()).hexdigest()[:12]


def path(name: str) -> str:
    """The URL path of an asset, with its content hash (cache-busting)."""
    stem, _, ext = name.rpartition(".")
    return f"/static/{stem}.{fingerprint(name)}.{ext}"


def lookup(filename: str) -> tuple[bytes, str, bool] | None:
    """(body, content type, fingerprinted) for `app.css` or `app.<hash>.css`, else None."""
    stem, _, ext = filename.rpartition(".")
    base, _, digest = stem.partition(".")
    name = f"{base}.{ext}"
    if name not in _ASSETS or (digest and digest != fingerprint(name)):
        return None
    text, content_type = _ASSETS[name]
    return text.encode(), content_type, bool(digest)
