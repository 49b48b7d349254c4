"""The AI Guide chat panel that learner pages include: server-rendered markup (with the
reason when the Guide is unavailable and the notices the learner must see before the
first message), its page config, and its script and stylesheet assets. The script
streams the reply as it arrives (fetch + ReadableStream, parsing the server-sent
events), resumes a cut-off reply with Last-Event-ID, and escapes everything it shows
(text nodes only).

A page includes it with `panel_html(...)` in its body, `scripts=(SCRIPT,)`,
`styles=(STYLE,)` and `config={"chat": panel_config(...)}` (pages/home.py, pages/guide.py).
Other scripts can open it: `AtomicGuide.chat.open({concept, prompt})`; an accepted
"chat_prompt" offer of struggle detection opens it."""

from __future__ import annotations

from web import assets
from web.page import esc

CSS = """
.chat-panel .chat-log{border:1px solid var(--line);border-radius:var(--radius);padding:.5rem;max-height:55vh;
min-height:6rem;overflow-y:auto;background:#fafafa}
.chat-msg{margin:.4rem 0;padding:.5rem .75rem;border-radius:var(--radius);max-width:100%;overflow-wrap:anywhere;
white-space:pre-wrap}
.chat-msg .who{display:block;font-weight:700;font-size:.85rem;color:var(--muted)}
.chat-user{background:#e8f0fb;margin-left:1.5rem}
.chat-guide{background:#fff;border:1px solid var(--line);margin-right:1.5rem}
.chat-notice{background:var(--warn-bg);border:1px solid var(--warn-line)}
.chat-note{display:block;font-size:.85rem;color:var(--muted);margin-top:.25rem}
.chat-notices{margin:.5rem 0;padding-left:1.25rem}
.chat-bar{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-end}
.chat-bar>div{flex:1 1 12rem;min-width:0}
.chat-bar select{width:100%}
.chat-form textarea{width:100%;resize:vertical}
.chat-form .row{display:flex;gap:.5rem;align-items:center;flex-wrap:wrap;margin-top:.5rem}
.mastery{display:flex;gap:.75rem;align-items:center;flex-wrap:wrap}
.mastery progress{width:12rem;max-width:100%;height:1.25rem}
"""

JS = r"""
(function(){
  "use strict";
  var AG = window.AtomicGuide || {};
  var cfg = (AG.config || {}).chat;
  var panel = document.getElementById("guide");
  if (!cfg || !panel) return;
  var log = document.getElementById("guide-log");
  var form = document.getElementById("guide-form");
  var input = document.getElementById("guide-input");
  var sendButton = document.getElementById("guide-send");
  var picker = document.getElementById("guide-conversations");
  var fresh = document.getElementById("guide-new");
  var status = document.getElementById("guide-status");
  var state = {id: cfg.conversation_id || null, busy: false, context: cfg.context || {}};

  function say(text){ status.textContent = text; }
  function node(tag, cls, text){
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function scrollDown(){ log.scrollTop = log.scrollHeight; }
  function bubble(role, text, extra){
    var kind = role === "user" ? "chat-user" : role === "system" ? "chat-notice" : "chat-guide";
    var item = node("div", "chat-msg " + kind);
    var who = role === "user" ? "You" : role === "system" ? "Notice" : "Guide";
    if (extra && extra.provider === "offline") who += " (offline)";
    item.appendChild(node("span", "who", who));
    var body = node("span", "body", text || "");
    item.appendChild(body);
    if (extra && extra.note) item.appendChild(node("span", "chat-note", extra.note));
    log.appendChild(item);
    scrollDown();
    return {item: item, body: body};
  }
  function finish(b, reply){
    b.item.removeAttribute("aria-busy");
    if (!reply) return;
    if (reply.role === "system") { b.item.className = "chat-msg chat-notice"; b.item.firstChild.textContent = "Notice"; }
    else if (reply.provider === "offline") { b.item.firstChild.textContent = "Guide (offline)"; }
    b.body.textContent = reply.content;
    if (reply.note) b.item.appendChild(node("span", "chat-note", reply.note));
    scrollDown();
  }
  function setBusy(on){
    state.busy = on;
    sendButton.disabled = on || !cfg.available;
    if (picker) picker.disabled = on;
    if (fresh) fresh.disabled = on;
  }
  function showMastery(g){
    if (!g) return;
    var meter = document.getElementById("mastery-meter");
    var value = document.getElementById("mastery-value");
    if (meter && typeof g.mastery_score === "number") meter.value = g.mastery_score;
    if (value && typeof g.mastery_score === "number") value.textContent = Math.round(g.mastery_score) + " / 100";
    var st = document.getElementById("mastery-status");
    if (st && g.status === "completed") st.textContent = "You have explained every concept of this activity.";
  }
  function codepoints(text){ return Array.from(text || "").length; }

  function parseFrame(frame){
    var ev = {event: "message", data: [], id: null};
    frame.split(/\r\n|\n|\r/).forEach(function(line){
      if (!line || line.charAt(0) === ":") return;
      var i = line.indexOf(":");
      var field = i < 0 ? line : line.slice(0, i);
      var value = i < 0 ? "" : line.slice(i + 1);
      if (value.charAt(0) === " ") value = value.slice(1);
      if (field === "data") ev.data.push(value);
      else if (field === "event") ev.event = value;
      else if (field === "id") ev.id = value;
    });
    if (!ev.data.length) return null;
    try { ev.data = JSON.parse(ev.data.join("\n")); } catch (err) { return null; }
    return ev;
  }
  async function readEvents(response, onEvent){
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    for (;;) {
      var r = await reader.read();
      if (r.done) break;
      buffer += decoder.decode(r.value, {stream: true});
      var frames = buffer.split(/\r\n\r\n|\n\n|\r\r/);
      buffer = frames.pop();
      frames.forEach(function(f){ var ev = parseFrame(f); if (ev) onEvent(ev); });
    }
  }
  async function problemText(response){
    try { var p = await response.json(); return p.detail || p.title || ("Error " + response.status); }
    catch (err) { return "Error " + response.status; }
  }

  // Reads a reply's events into its bubble; resumes with Last-Event-ID if the stream breaks.
  async function streamInto(response, b){
    var last = null, done = false;
    var handle = function(ev){
      if (ev.event === "delta") { b.body.textContent += ev.data.text; last = ev.id; scrollDown(); }
      else if (ev.event === "done") { done = true; last = ev.id; finish(b, ev.data.reply); say("The Guide replied."); }
      else if (ev.event === "graded") { showMastery(ev.data); }
      else if (ev.event === "stored") { b.seq = ev.data.reply_seq; }
    };
    try { await readEvents(response, handle); } catch (err) { /* connection lost: resume below */ }
    for (var attempt = 0; !done && attempt < 4; attempt++) {
      await new Promise(function(r){ setTimeout(r, 500 * Math.pow(2, attempt)); });
      var headers = {"Accept": "text/event-stream"};
      if (last) headers["Last-Event-ID"] = last;
      else if (b.seq) headers["Last-Event-ID"] = b.seq + "." + codepoints(b.body.textContent);
      try {
        var again = await AG.api("/api/chat/conversations/" + state.id + "/stream", {headers: headers});
        if (!again.ok) break;
        await readEvents(again, handle);
      } catch (err) { /* try again */ }
    }
    if (!done) { b.item.removeAttribute("aria-busy"); say("The reply was interrupted; reload to see the rest."); }
  }

  async function ensureConversation(){
    if (state.id) return true;
    var body = {page: {title: document.title, path: location.pathname}};
    if (state.context.concept) body.concept = state.context.concept;
    if (state.context.activity_id) body.activity_id = state.context.activity_id;
    var r = await AG.api("/api/chat/conversations", {method: "POST", json: body});
    if (!r.ok) { bubble("system", await problemText(r)); return false; }
    var c = await r.json();
    state.id = c.id;
    showNotices(c.notices || []);
    if (picker) {
      var opt = node("option", null, c.title || "New conversation");
      opt.value = c.id;
      picker.appendChild(opt);
      picker.value = c.id;
    }
    if (c.graded) showMastery(c.graded);
    return true;
  }
  function showNotices(list){
    var box = document.getElementById("guide-notices");
    if (!box || !list.length) return;
    box.textContent = "";
    list.forEach(function(t){ box.appendChild(node("li", null, t)); });
    box.hidden = false;
  }

  async function send(text){
    if (state.busy || !cfg.available) return;
    setBusy(true);
    try {
      if (!(await ensureConversation())) return;
      bubble("user", text);
      var b = bubble("guide", "");
      b.item.setAttribute("aria-busy", "true");
      say("The Guide is answering…");
      var r = await AG.api("/api/chat/conversations/" + state.id + "/messages",
                           {method: "POST", json: {content: text}, headers: {"Accept": "text/event-stream"}});
      if (!r.ok) {
        var why = await problemText(r);
        finish(b, {role: "system", content: why});
        say(why);
        if (r.status !== 429) input.value = text;
        return;
      }
      if (picker && picker.selectedOptions[0] && picker.selectedOptions[0].textContent === "New conversation") {
        picker.selectedOptions[0].textContent = text.slice(0, 60);
      }
      await streamInto(r, b);
    } finally {
      setBusy(false);
      input.focus();
    }
  }

  async function load(id){
    log.textContent = "";
    state.id = id || null;
    if (!id) { say("New conversation."); return; }
    var r = await AG.api("/api/chat/conversations/" + id);
    if (!r.ok) { bubble("system", await problemText(r)); return; }
    var t = await r.json();
    t.messages.forEach(function(m){
      var b = bubble(m.role, m.content, m);
      if (m.status === "queued" || m.status === "streaming") {
        b.item.setAttribute("aria-busy", "true");
        b.seq = m.seq;
        setBusy(true);
        var headers = {"Accept": "text/event-stream", "Last-Event-ID": m.seq + "." + codepoints(m.content)};
        AG.api("/api/chat/conversations/" + id + "/stream", {headers: headers})
          .then(function(resp){ return resp.ok ? streamInto(resp, b) : null; })
          .finally(function(){ setBusy(false); });
      }
    });
    if (t.conversation.graded) showMastery(t.conversation.graded);
    say("Conversation loaded: " + t.messages.length + " messages.");
  }

  async function list(){
    if (!picker) return;
    var r = await AG.api("/api/chat/conversations");
    if (!r.ok) return;
    var data = await r.json();
    data.conversations.filter(function(c){ return c.mode !== "graded"; }).forEach(function(c){
      var opt = node("option", null, (c.title || "Conversation") + " (" + c.message_count + ")");
      opt.value = c.id;
      picker.appendChild(opt);
    });
  }

  form.addEventListener("submit", function(e){
    e.preventDefault();
    var text = input.value.trim();
    if (!text) { say("Type a message first."); input.focus(); return; }
    input.value = "";
    send(text);
  });
  input.addEventListener("keydown", function(e){
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });
  if (picker) picker.addEventListener("change", function(){ load(picker.value); });
  if (fresh) fresh.addEventListener("click", function(){ if (picker) picker.value = ""; load(""); input.focus(); });
  setBusy(false);
  AG.chat = {
    open: function(opts){
      opts = opts || {};
      if (opts.concept && opts.concept !== state.context.concept && !state.context.activity_id && !state.busy) {
        // help with another concept: a new conversation about it
        state.context.concept = opts.concept;
        state.id = null;
        log.textContent = "";
        if (picker) picker.value = "";
      }
      panel.scrollIntoView();
      input.focus();
      if (opts.prompt) input.value = opts.prompt;
    },
    send: send
  };
  // Struggle detection offers the Guide ("chat_prompt"); taking the offer opens the panel
  // on the concept the learner is stuck on (pages/struggle.py dispatches the event).
  document.addEventListener("atomicguide:offer", function(e){
    var d = e.detail || {};
    if (d.outcome === "accepted" && d.offer && d.offer.kind === "chat_prompt" && cfg.available) {
      AG.chat.open({concept: d.offer.concept_id || undefined});
    }
  });
  if (cfg.available) {
    if (state.id) load(state.id);
    else if (state.context.activity_id) {  // an activity's conversation starts when its page opens
      ensureConversation().then(function(ok){ if (ok) load(state.id); });
    }
    else list();
  }
})();
"""

SCRIPT_NAME = assets.add("chat.js", JS, assets.JS_TYPE)
STYLE_NAME = assets.add("chat.css", CSS, assets.CSS_TYPE)


def script() -> str:
    return assets.path(SCRIPT_NAME)


def style() -> str:
    return assets.path(STYLE_NAME)


def panel_config(*, available: bool, reason: str | None, notices: list[str], concept: str | None = None,
                 activity_id: str | None = None, conversation_id: str | None = None) -> dict:
    return {"available": available, "reason": reason, "notices": notices, "conversation_id": conversation_id,
            "context": {k: v for k, v in {"concept": concept, "activity_id": activity_id}.items() if v}}


def panel_html(*, available: bool, reason: str | None, notices: list[str], title: str = "AI Guide",
               intro: str | None = None, pick_conversations: bool = True) -> str:
    """The panel's markup. Notices (e.g. that the instructor can read the conversation)
    are shown before any message can be sent; when the Guide is unavailable the reason
    replaces the form."""
    intro = intro or ("Ask about what you are studying. The Guide answers with questions that help you work it "
                      "out yourself, and knows what you have mastered.")
    notice_items = "".join(f"<li>{esc(n)}</li>" for n in notices)
    notices_block = (f'<ul class="chat-notices" id="guide-notices" aria-label="Before you start">{notice_items}</ul>'
                     if notices else '<ul class="chat-notices" id="guide-notices" hidden></ul>')
    if not available:
        controls = f'<p class="card warn" id="guide-unavailable" role="status">{esc(reason or "")}</p>'
    else:
        picker = ('<div class="chat-bar"><div><label for="guide-conversations">Conversation</label>'
                  '<select id="guide-conversations"><option value="">New conversation</option></select></div>'
                  '<button type="button" class="secondary" id="guide-new">New conversation</button></div>'
                  if pick_conversations else "")
        controls = (
            f"{picker}"
            '<div id="guide-log" class="chat-log" role="log" aria-live="polite" aria-label="Conversation with the Guide"'
            ' tabindex="0"></div>'
            '<form id="guide-form" class="chat-form" novalidate>'
            '<label for="guide-input">Your message</label>'
            '<textarea id="guide-input" name="content" rows="3" maxlength="5000" aria-describedby="guide-help">'
            "</textarea>"
            '<div class="row"><button type="submit" id="guide-send">Send</button>'
            '<span id="guide-help" class="muted">Enter sends; Shift+Enter starts a new line.</span></div></form>')
    return (f'<section class="card chat-panel" id="guide" aria-labelledby="guide-title">'
            f'<h2 id="guide-title">{esc(title)}</h2><p class="muted">{esc(intro)}</p>{notices_block}{controls}'
            '<p id="guide-status" class="visually-hidden" role="status" aria-live="polite"></p></section>')
