// POST /op  {binding, op, args}  ->  {ok: true, value} | {ok: false, error}
// POST /reset                     ->  drops every user table, KV key and R2 object
// GET  /health                    ->  "ok"
// Bytes travel as {"$bytes": base64} in both directions.

import { DurableObject, WorkflowEntrypoint } from "cloudflare:workers";
import { NonRetryableError } from "cloudflare:workflows";

// A scripted workflow for the Workflows contract (tests/parity/test_workflows_contract.py
// runs the same script on devhost's engine): params.steps = [{name, fail, fatal, config,
// data}], params.sleep = a duration slept after the first step.
export class ProbeWorkflow extends WorkflowEntrypoint {
  async run(event, step) {
    const out = [];
    for (const s of event.payload.steps ?? []) {
      const body = async (ctx) => {
        if (ctx.attempt <= (s.fail ?? 0)) {
          if (s.fatal) throw new NonRetryableError(`${s.name} refused`);
          throw new Error(`${s.name} failed`);
        }
        return { name: s.name, attempt: ctx.attempt, data: s.data ?? null };
      };
      try {
        out.push(s.config ? await step.do(s.name, s.config, body) : await step.do(s.name, body));
      } catch (e) {
        if (!event.payload.catch) throw e;
        return { caught: { name: e.name, message: e.message } };
      }
      if (event.payload.sleep !== undefined && out.length === 1) await step.sleep("nap", event.payload.sleep);
    }
    return out;
  }
}

// A SQLite-backed Durable Object whose RPC methods expose its storage as the Python SDK
// sees it (ctx.storage.sql.exec, get/put/delete/list, alarms); tests/parity/do_probe.py is
// the same object for the local host. The alarm handler logs each firing in a table.
export class ProbeObject extends DurableObject {
  sql(query, bindings) {
    const cur = this.ctx.storage.sql.exec(query, ...decode(bindings ?? []));
    const rows = cur.toArray();
    return encode({ columnNames: cur.columnNames, rows, rowsWritten: cur.rowsWritten, rowsRead: cur.rowsRead });
  }
  sqlOne(query, bindings) { return encode(this.ctx.storage.sql.exec(query, ...decode(bindings ?? [])).one()); }
  sqlRaw(query, bindings) { return encode([...this.ctx.storage.sql.exec(query, ...decode(bindings ?? [])).raw()]); }
  async get(keys) {
    const v = await this.ctx.storage.get(decode(keys));
    return encode(v instanceof Map ? Object.fromEntries(v) : v);
  }
  async put(entries) { return this.ctx.storage.put(decode(entries)); }
  async delete(keys) { return this.ctx.storage.delete(keys); }
  async list(options) { return encode(Object.fromEntries(await this.ctx.storage.list(options ?? {}))); }
  async deleteAll() { return this.ctx.storage.deleteAll(); }
  async setAlarm(at) { return this.ctx.storage.setAlarm(at); }
  async getAlarm() { return this.ctx.storage.getAlarm(); }
  async deleteAlarm() { return this.ctx.storage.deleteAlarm(); }
  async alarm(info) {
    this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS alarm_log (n INTEGER PRIMARY KEY, retry INTEGER)");
    this.ctx.storage.sql.exec("INSERT INTO alarm_log (retry) VALUES (?)", info && info.retryCount ? info.retryCount : 0);
  }
}

function toB64(u8) {
  let s = "";
  for (let i = 0; i < u8.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, u8.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function fromB64(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

// JSON args -> JS values ({"$bytes"} -> Uint8Array).
function decode(v) {
  if (Array.isArray(v)) return v.map(decode);
  if (v && typeof v === "object") {
    if (typeof v.$bytes === "string" && Object.keys(v).length === 1) return fromB64(v.$bytes);
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = decode(x);
    return o;
  }
  return v;
}

// JS values -> JSON (binary -> {"$bytes"}, Date -> epoch ms).
function encode(v) {
  if (v instanceof ArrayBuffer) return { $bytes: toB64(new Uint8Array(v)) };
  if (ArrayBuffer.isView(v)) return { $bytes: toB64(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)) };
  if (v instanceof Date) return v.getTime();
  if (Array.isArray(v)) return v.map(encode);
  if (v && typeof v === "object") {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = encode(x);
    return o;
  }
  return v === undefined ? null : v;
}

function r2obj(o) {
  if (o === null || o === undefined) return null;
  return {
    key: o.key,
    version: o.version,
    size: o.size,
    etag: o.etag,
    httpEtag: o.httpEtag,
    uploaded: o.uploaded ? o.uploaded.getTime() : null,
    customMetadata: o.customMetadata ?? null,
    httpMetadata: encode(o.httpMetadata ?? null),
    checksums: o.checksums ? encode(o.checksums.toJSON ? o.checksums.toJSON() : o.checksums) : null,
    storageClass: o.storageClass ?? null,
  };
}

// The JS arguments a Python Workers SDK call becomes: positional arguments pass through
// as they are (a KV type string, an options object), and keyword arguments become one
// options object at the end. Written against the JS bindings' own signatures, so the
// Python adapter (tests/parity/remote.py) shares no option parsing with devhost/.
function jsArgs(pos, kw) {
  const args = decode(pos ?? []);
  if (kw && Object.keys(kw).length) args.push(decode(kw));
  return args;
}

function stmt(db, s) {
  const p = db.prepare(s.sql);
  return s.params && s.params.length ? p.bind(...decode(s.params)) : p;
}

const D1 = {
  async all(env, { sql, params }) { return stmt(env.DB, { sql, params }).all(); },
  async run(env, { sql, params }) { return stmt(env.DB, { sql, params }).run(); },
  async first(env, { sql, params, column }) {
    const p = stmt(env.DB, { sql, params });
    return column == null ? p.first() : p.first(column);
  },
  async raw(env, { sql, params, columnNames }) {
    return stmt(env.DB, { sql, params }).raw({ columnNames: !!columnNames });
  },
  async batch(env, { statements }) { return env.DB.batch(statements.map((s) => stmt(env.DB, s))); },
  async exec(env, { sql }) { return env.DB.exec(sql); },
};

const KV = {
  async get(env, { key, pos, kw }) { return env.KV.get(key, ...jsArgs(pos, kw)); },
  async getWithMetadata(env, { key, pos, kw }) { return env.KV.getWithMetadata(key, ...jsArgs(pos, kw)); },
  async put(env, { key, value, pos, kw }) { return env.KV.put(key, decode(value), ...jsArgs(pos, kw)); },
  async delete(env, { key }) { return env.KV.delete(key); },
  async list(env, { pos, kw }) { return env.KV.list(...jsArgs(pos, kw)); },
};

const R2 = {
  async put(env, { key, value, pos, kw }) { return r2obj(await env.R2.put(key, decode(value), ...jsArgs(pos, kw))); },
  async get(env, { key, pos, kw }) {
    const o = await env.R2.get(key, ...jsArgs(pos, kw));
    if (o === null) return null;
    const out = r2obj(o);
    out.body = { $bytes: toB64(new Uint8Array(await o.arrayBuffer())) };
    return out;
  },
  async head(env, { key }) { return r2obj(await env.R2.head(key)); },
  async delete(env, { keys }) { return env.R2.delete(keys); },
  async list(env, { pos, kw }) {
    const r = await env.R2.list(...jsArgs(pos, kw));
    return {
      objects: r.objects.map(r2obj),
      truncated: r.truncated,
      cursor: r.truncated ? r.cursor : null,
      delimitedPrefixes: r.delimitedPrefixes,
    };
  },
  async createMultipartUpload(env, { key, pos, kw }) {
    const u = await env.R2.createMultipartUpload(key, ...jsArgs(pos, kw));
    return { key: u.key, uploadId: u.uploadId };
  },
  async uploadPart(env, { key, uploadId, partNumber, value }) {
    return env.R2.resumeMultipartUpload(key, uploadId).uploadPart(partNumber, decode(value));
  },
  async complete(env, { key, uploadId, parts }) {
    return r2obj(await env.R2.resumeMultipartUpload(key, uploadId).complete(parts));
  },
  async abort(env, { key, uploadId }) {
    return env.R2.resumeMultipartUpload(key, uploadId).abort();
  },
};

const WF = {
  async create(env, { pos, kw }) { return { id: (await env.WF.create(...jsArgs(pos, kw))).id }; },
  async status(env, { id }) {
    const s = await (await env.WF.get(id)).status();
    return { status: s.status, output: s.output ?? null, error: s.error ?? null,
             __LOCAL_DEV_STEP_OUTPUTS: s.__LOCAL_DEV_STEP_OUTPUTS ?? [] };
  },
  async terminate(env, { id }) { return (await env.WF.get(id)).terminate(); },
};

const DO = {
  async call(env, { name, method, args }) {
    const stub = env.OBJ.get(env.OBJ.idFromName(name));
    return stub[method](...(args ?? []));
  },
};

const OPS = { d1: D1, kv: KV, r2: R2, wf: WF, do: DO };

async function reset(env) {
  const { results } = await env.DB.prepare(
    "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view')" +
      " AND substr(name, 1, 7) != 'sqlite_' AND substr(name, 1, 4) != '_cf_'"
  ).all();
  // Views first, then tables; foreign keys off so drop order does not matter.
  const drops = results
    .sort((a, b) => (a.type === b.type ? 0 : a.type === "view" ? -1 : 1))
    .map((r) => `DROP ${r.type === "view" ? "VIEW" : "TABLE"} IF EXISTS "${r.name.replaceAll('"', '""')}"`);
  if (drops.length) {
    await env.DB.batch([env.DB.prepare("PRAGMA defer_foreign_keys = on"), ...drops.map((d) => env.DB.prepare(d))]);
  }
  let cursor;
  do {
    const page = await env.KV.list({ cursor });
    await Promise.all(page.keys.map((k) => env.KV.delete(k.name)));
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  let truncated = true;
  while (truncated) {
    const page = await env.R2.list();
    if (page.objects.length) await env.R2.delete(page.objects.map((o) => o.key));
    truncated = page.truncated;
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const json = (body, status = 200) =>
      new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
    if (url.pathname === "/health") return new Response("ok");
    try {
      if (request.method === "POST" && url.pathname === "/reset") {
        await reset(env);
        return json({ ok: true, value: null });
      }
      if (request.method === "POST" && url.pathname === "/op") {
        const { binding, op, args } = await request.json();
        const fn = OPS[binding] && Object.hasOwn(OPS[binding], op) ? OPS[binding][op] : null;
        if (!fn) return json({ ok: false, error: `unknown op ${binding}.${op}` }, 400);
        return json({ ok: true, value: encode(await fn(env, args ?? {})) });
      }
    } catch (e) {
      return json({ ok: false, error: String(e && e.message !== undefined ? e.message : e) });
    }
    return new Response("not found", { status: 404 });
  },
};
