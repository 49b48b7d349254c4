"""The insight pages' stylesheet and the "My progress" script, registered as assets
(constants only: nothing runs at import beyond putting them in the asset table)."""

from __future__ import annotations

from web import assets

CSS = """
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(9.5rem,1fr));gap:.5rem;margin:.75rem 0;padding:0}
.tiles div{border:1px solid var(--line);border-radius:var(--radius);padding:.5rem .75rem;margin:0}
.tiles dt{font-size:.85rem;color:var(--muted);margin:0}
.tiles dd{font-size:1.4rem;font-weight:700;margin:.1rem 0 0}
.tiles dd small{display:block;font-size:.8rem;font-weight:400;color:var(--muted)}
.chart-wrap{overflow-x:auto;max-width:100%;border:1px solid var(--line);border-radius:var(--radius);padding:.25rem;
margin:.5rem 0}
.chart-wrap:focus-visible{outline:3px solid var(--focus)}
svg.chart{display:block;max-width:none}
svg.chart a:focus text{text-decoration:underline;font-weight:700}
.explain{font-size:.9rem;color:var(--muted);margin:.25rem 0 .5rem}
.filters{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:flex-end;margin:.5rem 0}
.filters label{margin:0 0 .2rem}
.filters>div{display:flex;flex-direction:column}
.actions{display:flex;flex-wrap:wrap;gap:.5rem;margin:.5rem 0}
details>summary{cursor:pointer;color:var(--accent);margin:.25rem 0;min-height:24px}
.pager{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin:.5rem 0}
.tag{display:inline-block;border:1px solid var(--line);border-radius:999px;padding:0 .5rem;font-size:.85rem;
margin:0 .25rem .25rem 0}
.tag.attn{border-color:var(--bad);color:var(--bad)}
.evidence{font-size:.85rem;color:var(--muted)}
.danger{border-color:var(--bad)}
button.danger{background:var(--bad);border-color:var(--bad);color:#fff}
.check{display:flex;gap:.6rem;align-items:flex-start;font-weight:400;margin:.5rem 0}
.check input{margin-top:.35rem;width:1.1rem;height:1.1rem;flex:none}
.check span small{display:block;color:var(--muted)}
[hidden]{display:none!important}
[role=status].bad{color:var(--bad);font-weight:600}
@media (max-width:30rem){.tiles dd{font-size:1.2rem}th,td{padding:.3rem .35rem}}
"""

# "My progress": privacy settings saved with the profile API's ETag flow (If-Match; a
# 412 means the profile changed since the page read it: the page reloads the current
# settings and says so), the export downloaded as a file, and erasure after an explicit
# confirmation, showing what was erased.
JS = r"""
(function(){
  "use strict";
  var AG = window.AtomicGuide;
  if (!AG) return;
  var cfg = AG.config.progress || {};
  var etag = cfg.etag || null;
  var FLAGS = ["instructor_visibility", "ai_chat", "analytics", "research"];

  function $(id){ return document.getElementById(id); }
  function say(el, text, bad){ el.textContent = text; el.classList.toggle("bad", !!bad); }

  function fill(settings){
    var consent = (settings && settings.consent) || {};
    FLAGS.forEach(function(name){
      var box = $("consent-" + name);
      if (box && typeof consent[name] === "boolean") box.checked = consent[name];
      else if (box) box.checked = box.getAttribute("data-default") === "true";
    });
    var sharing = $("data-sharing");
    if (sharing && settings && settings.data_sharing) sharing.value = settings.data_sharing;
  }

  function reload(){
    return AG.api("/api/profile").then(function(r){
      if (!r.ok) throw new Error("HTTP " + r.status);
      etag = r.headers.get("ETag");
      return r.json();
    }).then(function(p){ fill(p.privacy_settings); });
  }

  var form = $("privacy-form"), status = $("privacy-status");
  if (form) form.addEventListener("submit", function(e){
    e.preventDefault();
    var consent = {};
    FLAGS.forEach(function(name){ consent[name] = $("consent-" + name).checked; });
    var body = {privacy_settings: {consent: consent, data_sharing: $("data-sharing").value}};
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    say(status, "Saving…");
    AG.api("/api/profile", {method: "PATCH", json: body, headers: {"If-Match": etag || "*"}}).then(function(r){
      if (r.status === 412) {
        return reload().then(function(){
          say(status, "Not saved: your settings were changed somewhere else (another tab or device) after this " +
              "page was opened. The current settings are shown now; check them and save again.", true);
        });
      }
      if (!r.ok) {
        return r.json().catch(function(){ return {}; }).then(function(p){
          say(status, "Not saved: " + (p.detail || ("the server answered " + r.status)) + ".", true);
        });
      }
      etag = r.headers.get("ETag");
      return r.json().then(function(p){ fill(p.privacy_settings); say(status, "Saved. Your choices apply from now on."); });
    }).catch(function(){ say(status, "Not saved: the server could not be reached. Try again.", true); })
      .then(function(){ button.disabled = false; });
  });

  var exportButton = $("export-data"), exportStatus = $("export-status");
  if (exportButton) exportButton.addEventListener("click", function(){
    say(exportStatus, "Preparing your file…");
    AG.api("/api/profile/export").then(function(r){
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.blob();
    }).then(function(blob){
      var url = URL.createObjectURL(blob);
      var a = document.createElement("a");
      a.href = url;
      a.download = "atomic-guide-export.json";
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function(){ URL.revokeObjectURL(url); }, 10000);
      say(exportStatus, "Downloaded atomic-guide-export.json (" + Math.ceil(blob.size / 1024) + " KB): every row " +
          "the tool holds about you, by table.");
    }).catch(function(err){ say(exportStatus, "The export failed (" + err.message + "). Try again.", true); });
  });

  var start = $("erase-start"), panel = $("erase-confirm"), cancel = $("erase-cancel"), go = $("erase-go");
  var understood = $("erase-understood"), eraseStatus = $("erase-status"), result = $("erase-result");
  if (start) start.addEventListener("click", function(){
    panel.hidden = false;
    start.hidden = true;
    $("erase-confirm-title").focus();
  });
  if (cancel) cancel.addEventListener("click", function(){
    panel.hidden = true;
    start.hidden = false;
    understood.checked = false;
    go.disabled = true;
    start.focus();
  });
  if (understood) understood.addEventListener("change", function(){ go.disabled = !understood.checked; });
  if (go) go.addEventListener("click", function(){
    go.disabled = true;
    say(eraseStatus, "Erasing…");
    AG.api("/api/profile", {method: "DELETE"}).then(function(r){
      if (!r.ok) return r.json().catch(function(){ return {}; }).then(function(p){
        say(eraseStatus, "Nothing was erased: " + (p.detail || ("the server answered " + r.status)) + ".", true);
        go.disabled = false;
      });
      return r.json().then(function(done){
        var rows = Object.keys(done.rows_deleted).filter(function(t){ return done.rows_deleted[t] > 0; });
        var body = result.querySelector("tbody");
        body.textContent = "";
        rows.forEach(function(t){
          var tr = document.createElement("tr"), th = document.createElement("th"), td = document.createElement("td");
          th.scope = "row"; th.textContent = t; td.textContent = String(done.rows_deleted[t]);
          tr.appendChild(th); tr.appendChild(td); body.appendChild(tr);
        });
        $("erase-total").textContent = String(done.total);
        document.querySelectorAll("[data-erasable]").forEach(function(el){ el.hidden = true; });
        panel.hidden = true;
        result.hidden = false;
        $("erase-result-title").focus();
      });
    }).catch(function(){ say(eraseStatus, "Nothing was erased: the server could not be reached.", true); go.disabled = false; });
  });
})();
"""

STYLESHEET = assets.add("insights.css", CSS, assets.CSS_TYPE)
PROGRESS_SCRIPT = assets.add("progress.js", JS, assets.JS_TYPE)
