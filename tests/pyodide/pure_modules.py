"""The pure core: modules of src/ that decide without I/O and import only the standard
library, the ALLOWED_PACKAGES below and each other. Each is imported and run under real
Pyodide (the Python the Workers runtime runs) and under CPython with the cases listed
here, and must give exactly the same results (tests/pyodide/test_pure_core.py).

To add a pure module: one entry in PURE_MODULES, its name and a few cases. A case is
Python source run in the module's namespace: statements, then an expression whose value
is the result (`await` works at top level; `rng(seed)` is a seeded random.Random, the
same stream in both interpreters, for generated inputs). A module that a test finds
import-pure but that is not a decision module goes in NOT_DECISIONS with the reason.
A pure-Python package a pure module needs (e.g. `fsrs`) goes in ALLOWED_PACKAGES: it is
mounted into Pyodide from this environment's site-packages."""

from __future__ import annotations

# import name -> why it may be used by the pure core (must be pure Python).
ALLOWED_PACKAGES: dict[str, str] = {}

# Modules found import-pure that decide nothing (so they need no cases).
NOT_DECISIONS: dict[str, str] = {
    "bindings": "names of the bindings wrangler.jsonc declares, and a var() reader",
    "clock": "where the shells read the time (the one module allowed to call the clock)",
    "resilience.events": "the isolate's buffer of fallback events (logs them)",
    "web.assets": "page JS/CSS constants and their fingerprinted URLs",
}

_ROLE_VOCABULARY = """[
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner",
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor",
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Administrator",
    "http://purl.imsglobal.org/vocab/lis/v2/membership#ContentDeveloper",
    "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant",
    "http://purl.imsglobal.org/vocab/lis/v2/membership/Learner#Instructor",
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Nope",
    "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Instructor",
    "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator",
    "Instructor", "Learner", "Member", "Guest", "", "membership#Instructor",
]"""

_LAUNCH = """
import hashlib
NONCE = "n-0123456789"
LOGIN = {"issuer": "https://canvas.test", "client_id": "cid", "target_link_uri": "https://tool.test/lti/launch",
         "nonce_hash": hashlib.sha256(NONCE.encode()).hexdigest()}
def payload(**changes):
    p = {"iss": "https://canvas.test", "aud": "cid", "iat": 1000, "exp": 4000, "nonce": NONCE, "sub": "u-1",
         "name": "Ada",
         LTI + "deployment_id": "1:dep", LTI + "message_type": "LtiResourceLinkRequest", LTI + "version": "1.3.0",
         LTI + "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
         LTI + "target_link_uri": "https://tool.test/lti/launch",
         LTI + "context": {"id": "c-1", "title": "Algebra"}, LTI + "resource_link": {"id": "rl-1"},
         LTI + "custom": {"canvas_api_domain": "canvas.test", "n": 3},
         AGS_CLAIM: {"scope": ["s1"], "lineitems": "https://canvas.test/li"},
         NRPS_CLAIM: {"context_memberships_url": "https://canvas.test/m"}}
    for k, v in changes.items():
        key = {"deployment": LTI + "deployment_id", "message_type": LTI + "message_type", "version": LTI + "version",
               "roles": LTI + "roles", "target": LTI + "target_link_uri", "context": LTI + "context",
               "resource_link": LTI + "resource_link", "custom": LTI + "custom", "ags": AGS_CLAIM,
               "nrps": NRPS_CLAIM, "presentation": LTI + "launch_presentation",
               "dl": DL + "deep_linking_settings"}.get(k, k)
        if v is ...:
            p.pop(key, None)
        else:
            p[key] = v
    return p
def check(p, now=2000.0, deployments=("1:dep",)):
    try:
        return check_claims(p, LOGIN, "cid", list(deployments), now)
    except LaunchError as e:
        return ("refused", e.claim, e.message, e.status)
"""

_TOKEN = """
import base64, json
def b64(obj):
    raw = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
def try_peek(token):
    try:
        head = peek(token)
        return ("ok", head.header, head.claims)
    except LaunchError as e:
        return ("refused", e.claim, e.message)
"""

_SCOPE = """
A = TenantScope(issue_proof("tenant-a", "D1_PRIMARY", "session"))
def shape(s):
    return [s.name, s.sql, s.params, s.tenant_id, s.d1_binding] if not isinstance(s, list) else [shape(x) for x in s]
def attempt(fn):
    try:
        return shape(fn())
    except Exception as e:
        return (type(e).__name__, str(e))
"""

_BREAKER = """
t = [0.0]
log = []
b = CircuitBreaker("D1_PRIMARY", BreakerConfig(failure_threshold=3, success_threshold=2, call_timeout_s=5.0,
                                                cooldown_s=10.0, half_open_max_calls=1),
                   clock=lambda: t[0], on_transition=lambda n, old, new: log.append((old, new)))
async def ok():
    return "row"
async def down():
    raise ConnectionError("D1 down")
async def refused():
    raise ValueError("UNIQUE constraint failed")
async def attempt(op):
    try:
        return await b.call(op, lambda e: not isinstance(e, ValueError))
    except Exception as e:
        return type(e).__name__
"""

PURE_MODULES: dict[str, list[str]] = {
    "lti.roles": [
        "[course_role(r) for r in ([], ['Instructor'], ['Learner', 'Instructor'], ['Guest'])]",
        f"V = {_ROLE_VOCABULARY}\n[context_role(r) for r in V]",
        f"V = {_ROLE_VOCABULARY}\nr = rng(15)\n"
        "[(course_role(x), context_roles(x), is_teaching_assistant(x)) for x in "
        "([r.choice(V) for _ in range(r.randint(0, 6))] for _ in range(300))]",
        "context_roles(['Learner', 'Learner', 42, None, 'Instructor'])",
        "(MAX_ROLES, MAX_ROLE_LENGTH, sorted(STAFF), sorted(PRINCIPAL_CONTEXT_ROLES))",
    ],
    "lti.urls": [
        "def policy(u, local):\n"
        "    try:\n"
        "        return check_platform_url(u, local)\n"
        "    except UrlPolicyError as e:\n"
        "        return ('refused', str(e))\n"
        "[policy(u, local) for local in (True, False) for u in ("
        "'https://canvas.test/jwks', 'http://localhost:9/x', 'http://127.0.0.1/x', 'http://[::1]:80/x', "
        "'http://canvas.test/x', 'https://user:pw@canvas.test/', 'https://canvas.test:99999/', 'ftp://x.test/', "
        "'https:///nohost', '', 'https://' + 'a' * 2050, None, 'https://canvas.test:443/a?b#c')]",
        "def split(u):\n    try:\n        p = split_url(u)\n        return (p.netloc, p.hostname, p.port)\n"
        "    except ValueError:\n        return 'refused'  # urllib's own wording differs between 3.13 releases\n"
        "[split(u) for u in ('https://a[::1]b/', 'https://[::1]x/', 'https://[::1]:8443/', 'https://u[x]@host/', "
        "'https://[v1.fe]/', 'https://[v1]/', 'https://[127.0.0.1]/', 'https://[::1/', 'https://::1]/')]",
        "[is_under(u, b) for u, b in (('https://t.test/lti/launch', 'https://t.test/lti'), "
        "('https://t.test/ltix', 'https://t.test/lti'), ('https://t.test:8443/lti/x', 'https://t.test/lti'), "
        "('http://t.test/lti', 'https://t.test/lti'), ('https://t.test/any', 'https://t.test/'), "
        "('https://t.test:bad/x', 'https://t.test/'))]",
        "[same_endpoint(u, e) for u, e in (('https://t.test/a?x=1', 'https://t.test/a'), "
        "('https://u@t.test/a', 'https://t.test/a'), ('https://t.test/a/', 'https://t.test/a'), "
        "('https://T.TEST/a', 'https://t.test/a'), ('https://t.test:1/a', 'https://t.test/a'))]",
        "r = rng(3)\nparts = ['https://', 'http://', '', 'x', 'localhost', '127.0.0.1', ':8080', '/p', '?q=1', '@', "
        "'user:pw@', 'canvas.test', '[::1]', ':', '#f']\n"
        "def policy(u):\n"
        "    try:\n"
        "        return check_platform_url(u, True)\n"
        "    except UrlPolicyError as e:\n"
        "        return str(e)\n"
        "[(u, policy(u), is_under(u, 'https://canvas.test/p')) for u in "
        "(''.join(r.choice(parts) for _ in range(r.randint(1, 6))) for _ in range(300))]",
    ],
    "lti.origins": [
        "[origin(u) for u in ('https://canvas.test/a/b?c', 'http://localhost:8787/x', 'http://canvas.test/', "
        "'https://u:p@canvas.test/', 'https://[::1]:8443/', 'https://canvas.test:bad/', None, '', 42, "
        "'https://' + 'a' * 2050)]",
        "[origin('http://127.0.0.1:9/x', allow_http_loopback=False), origin('https://x.test', "
        "allow_http_loopback=False)]",
        "[valid_frame_origin(v) for v in ('https://canvas.example.edu', 'https://*.example.edu', "
        "'https://canvas.example.edu/path', 'http://canvas.example.edu', 'https://a b', 'https://x.test:443', "
        "'https://' + 'a' * 300, None)]",
        "[platform_origins('https://canvas.instructure.com', 'https://sso.canvaslms.com/api/lti/authorize', "
        "['https://canvas.example.edu', 'javascript:alert(1)']), platform_origins('https://lms.test', "
        "'https://lms.test/auth', []), platform_origins('https://lms.test', 'http://evil.test/', "
        "['https://o%d.test' % i for i in range(30)])]",
        "[launch_origins(['https://lms.test'], {'return_url': 'https://canvas.example.edu/courses/1'}, "
        "{'canvas_api_domain': 'canvas.example.edu'}), launch_origins([], None, {'canvas_api_domain': "
        "'*.evil.test'}), launch_origins(['https://a.test'], 'not a dict', 'nope'), launch_origins([], "
        "{'return_url': 'javascript:x'}, {})]",
    ],
    "lti.claims": [
        _LAUNCH + "check(payload())",
        _LAUNCH + "[check(payload(**{k: v})) for k, v in (('exp', ...), ('iat', ...), ('exp', '4000'), "
        "('exp', True), ('iss', 'https://other.test'), ('aud', 'other'), ('aud', ['cid', 'x']), "
        "('nonce', ...), ('nonce', 'forged'), ('deployment', 'nope'), ('message_type', 'LtiNope'), "
        "('version', '1.1'), ('sub', ''), ('sub', 'x' * 256), ('roles', ...), ('roles', 'Learner'), "
        "('roles', ['x'] * 101), ('target', 'https://tool.test/other'), ('context', ...), "
        "('context', {'id': ''}), ('context', {'id': 'c', 'title': 't' * 1001}), ('resource_link', ...), "
        "('resource_link', 'rl'), ('name', 'N' * 1001), ('ags', {'lineitems': 'ftp://x'}), "
        "('ags', {'scope': 'x'}), ('nrps', {}), ('custom', {'k': ['list']}), ('custom', {str(i): 'v' for i in "
        "range(51)}), ('presentation', {'return_url': 'javascript:x'}), ('presentation', "
        "{'return_url': 'https://canvas.test/back'}))]",
        _LAUNCH + "[check(payload(aud=['cid', 'other'], azp='cid')), check(payload(azp='other')), "
        "check(payload(), now=4061.0), check(payload(), now=4060.0), check(payload(), now=939.0), "
        "check(payload(), deployments=())]",
        _LAUNCH + "[check(payload(message_type='LtiDeepLinkingRequest', resource_link=..., dl=dl)) for dl in "
        "({'deep_link_return_url': 'https://canvas.test/dl', 'data': 'opaque'}, {'deep_link_return_url': 5}, "
        "None, {'deep_link_return_url': 'https://canvas.test/dl', 'data': 'x' * 2049})]",
        _LAUNCH + "r = rng(9)\nkeys = list(payload())\n"
        "[check({k: v for k, v in payload().items() if r.random() > 0.08}) for _ in range(200)]",
        _TOKEN + "[try_peek(t) for t in ('', None, 'a.b', 'a..c', '%s.%s.sig' % (b64({'alg': 'RS256', 'kid': 'k1'}), "
        "b64({'sub': 'u'})), '%s.%s.s' % (b64({'alg': 'HS256', 'kid': 'k'}), b64({})), '%s.%s.s' % "
        "(b64({'alg': 'RS256'}), b64({})), '%s.%s.s' % (b64([1]), b64({})), '%s.%s.s' % (b64({'alg': 'RS256', "
        "'kid': 'k'}), b64(b'not json')), '%s.%s.s' % (b64({'alg': 'none', 'kid': 'k'}), b64({})))]",
    ],
    "privacy": [
        "[consent(s) for s in (None, {}, 'x', {'consent': None}, {'consent': {'analytics': False}}, "
        "{'consent': {'research': True, 'ai_chat': 'yes', 'unknown': True}}, {'consent': {'instructor_visibility': "
        "0}}, {'consent': ['analytics']})]",
        "[visible_to_instructors(p) for p in ({}, {'privacy_settings': None}, {'privacy_settings': {'consent': "
        "{'instructor_visibility': False}}}, {'privacy_settings': {'consent': {'instructor_visibility': True}}})]",
        "r = rng(21)\nflags = list(CONSENT_DEFAULTS) + ['other']\nvalues = [True, False, None, 1, 'true']\n"
        "[consent({'consent': {r.choice(flags): r.choice(values) for _ in range(r.randint(0, 5))}}) "
        "for _ in range(200)]",
    ],
    "resilience.breaker": [
        _BREAKER + "[await attempt(down) for _ in range(3)] + [b.state, log, b.snapshot()]",
        _BREAKER + "out = [await attempt(down) for _ in range(3)]\nout.append(await attempt(ok))\n"
        "t[0] = 9.9\nout.append(await attempt(ok))\nt[0] = 10.0\nout += [await attempt(ok), b.state, "
        "await attempt(ok), b.state, log, b.snapshot()]\nout",
        _BREAKER + "out = [await attempt(down) for _ in range(3)]\nt[0] = 15\nout += [await attempt(down), b.state, "
        "b.opened_at, log]\nout",
        _BREAKER + "[await attempt(refused) for _ in range(5)] + [b.state, b.failures, await attempt(down), "
        "await attempt(ok), b.failures]",
        "[BreakerConfig.from_env(type('E', (), d)()) for d in ({}, {'D1_BREAKER_FAILURES': '7', "
        "'D1_CALL_TIMEOUT_MS': '250', 'D1_BREAKER_COOLDOWN_S': 'x'}, {'D1_BREAKER_TRIAL_CALLS': ''})]",
    ],
    "db.tables": [
        "sorted(TABLES)",
        "[(n, t.key, sorted(t.columns), sorted(t.json_columns), t.learner_column) for n, t in sorted(TABLES.items())]",
        "[keyset(n) for n in sorted(TABLES)] + [DIRECTORY_TABLES]",
        "table('no_such_table')",
    ],
    "db.exact": [
        "[marker_sql(['a']), marker_sql([]), value_sql('b')]",
        "[encode_row(m, v) for m, v in (('..', [1, 'x']), ('b.i', ['ff', 2, '9007199254740993']), "
        "('r', [3]), ('.r', [None, 'Inf']))]",
        "def bind(v):\n    try:\n        return bind_value(v)\n    except ValueError as e:\n        return str(e)\n"
        "[bind(v) for v in ({'$b': '00ff'}, {'$i': '-9007199254740993'}, {'$i': '1e3'}, {'$r': 4}, {'$r': 'Inf'}, "
        "{'$x': 1}, 'text', 2**53 - 1, 1.5, None, True, [1])]",
        "r = rng(5)\n[encode_row(''.join(r.choice('.bir') for _ in range(4)), [r.randint(-9, 9) for _ in range(4)]) "
        "for _ in range(100)]",
    ],
    "db.scope": [
        _SCOPE + "[attempt(lambda: A.select('learner_profiles', {'lti_user_id': 'u-1', 'created_at__ge': 'x'}, "
        "columns=['id', 'lti_user_id'], order_by='created_at DESC', limit=5)), attempt(lambda: A.count("
        "'learning_sessions', {'learner_profile_id__in': ['p1', 'p2'], 'ended_at': None})), attempt(lambda: "
        "A.insert('learner_profiles', {'id': 'p', 'lti_user_id': 'u'})), attempt(lambda: A.update("
        "'learner_profiles', {'cognitive_profile': '{}'}, {'id': 'p'}, returning=True)), attempt(lambda: "
        "A.delete('learner_profiles', {'id__ne': None}))]",
        _SCOPE + "[attempt(f) for f in (lambda: A.select('no_table'), lambda: A.select('learner_profiles', "
        "{'tenant_id': 'b'}), lambda: A.select('learner_profiles', {'id__like': 'x'}), lambda: A.select("
        "'learner_profiles', {'id; DROP': 1}), lambda: A.select('learner_profiles', {'id__in': []}), "
        "lambda: A.select('learner_profiles', {'id__in': list(range(91))}), lambda: A.insert('learner_profiles', "
        "{'tenant_id': 'b'}), lambda: A.update('learner_profiles', {'id': 'x'}, {}), lambda: A.delete("
        "'learner_profiles', {}), lambda: A.select('learner_profiles', order_by='id SIDEWAYS'), "
        "lambda: TenantScope('tenant-a'), lambda: issue_proof('', 'D1_PRIMARY', 's'), lambda: issue_proof('t', "
        "'primary', 's'))]",
        _SCOPE + "[attempt(lambda: A.export_page('learner_profiles', None, 50)), attempt(lambda: A.export_page("
        "'learner_profiles', ['p9'], 50)), attempt(lambda: A.export_page('learner_profiles', ['a', 'b'], 5)), "
        "attempt(lambda: A.insert_exported('learner_profiles', sorted(A.export_columns('learner_profiles')), "
        "[[str(i)] * len(A.export_columns('learner_profiles')) for i in range(12)])), attempt(lambda: "
        "A.insert_exported('learner_profiles', ['id', 'lti_user_id'], [[{'$b': '00'}, 'u']])), "
        "attempt(lambda: A.delete_some('learner_profiles', 100)), A.export_columns('chat_messages')]",
        _SCOPE + "r = rng(11)\ncols = sorted(table('learner_profiles').columns - {'tenant_id'})\n"
        "ops = ['', '__ne', '__lt', '__le', '__gt', '__ge', '__in', '__nope']\n"
        "def where():\n    w = {}\n    for _ in range(r.randint(0, 4)):\n        op = r.choice(ops)\n"
        "        w[r.choice(cols + ['bogus']) + op] = [r.randint(0, 9)] if op == '__in' else r.choice([None, 1, 'x'])\n"
        "    return w\n[attempt(lambda: A.select('learner_profiles', where())) for _ in range(150)]",
    ],
    "db.system": [
        "[(s.name, s.sql, s.params, s.d1_binding) for s in (get_tenant('t'), list_active_tenants(), insert_tenant("
        "'t', 'T', 'D1_DEDICATED_A'), all_platform_origins(), insert_metric('k', 'n', 1.5, '{}', None), "
        "migration_count(), platform_by_issuer_client('iss', 'cid'), platforms_by_issuer('iss'), "
        "deployments_of('p'), set_tenant_binding('t', 'D1_PRIMARY'), last_migration('D1_DEDICATED_A'))]",
        "[(s.name, s.sql, s.params) for s in (insert_registration_link('l', 't', 'T', 'D1_PRIMARY', 'e'), "
        "claim_registration_link('l', 'now', 'before'), registration_link_status('l'), release_registration_link("
        "'l', 'c'), finish_registration_link('l', 'c', 'p', 'now'), restore_tenant({'id': 't', 'name': 'T', "
        "'created_at': 'c'}, 'D1_PRIMARY'))]",
        "s = system_scope({'id': 't-1', 'd1_binding': None}, 'cron')\n(s.tenant_id, s.d1_binding, s.source, repr(s))",
        "SystemStatement('x', 'DROP TABLE tenants', [])",
    ],
    "backups.format": [
        "[day_of(0), day_of(1767225599999), iso(0), iso(1767225599.9876), is_day('2026-01-05'), is_day('2026-1-5'), "
        "is_day(None)]",
        "[manifest_key('t', '2026-01-05'), chunk_key('t', '2026-01-05', 'learner_profiles', 7), upload_marker_key("
        "'exports/t/d/x/00001.ndjson.gz'), export_instance_id('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', "
        "'2026-01-05'), export_instance_id('tenant with spaces/' * 3, '2026-01-05')]",
        "[first_page_rows(c) for c in (0, 1, 12, 40, 1000)] + [next_page_rows(r, b, c) for r, b, c in ((0, 0, 3), "
        "(500, 100000, 10), (2000, 5000000, 10), (50, 50, 200), (10, 10**9, 1))]",
        "rows = [[1, 'é', None, {'$b': 'ff'}], [2, 'x' * 100, 1.5, True]]\ndata = encode_lines(rows)\n"
        "[data, read_chunk(gzip_bytes(data)), encode_lines([]), sha256(data), [len(p) for p in parts(b'x' * "
        "(PART_BYTES * 2 + 5))]]",
        "m = build_manifest({'tenant': {'id': 't'}, 'day': '2026-01-05', 'schema_version': '0005', 'started_at': 's'}, "
        "[{'name': 'a', 'columns': ['id'], 'objects': [{'key': 'exports/t/2026-01-05/a/00001.ndjson.gz', "
        "'rows': 3, 'bytes': 10, 'sha256': 'h', 'cursor': [1]}]}], 'f')\n"
        "def check(x, t='t', d='2026-01-05'):\n    try:\n        return check_manifest(x, t, d)['rows']\n"
        "    except ManifestError as e:\n        return str(e)\n"
        "[m, manifest_metadata(m), check(m), check(m, t='u'), check({'format': 'x'}), check({**m, 'tables': "
        "[{'columns': ['id'], 'objects': [{'key': 'exports/u/x'}]}]}), check({**m, 'tables': [{'objects': []}]})]",
        "[retention_plan(['2026-01-0%d' % i for i in range(1, 8)], ['2026-01-08', '2026-01-09'], {'2026-01-09'}, "
        "3, '2026-01-10'), retention_plan([], ['2026-01-10'], set(), 0, '2026-01-10')]",
        "sig = sign_link('secret', 'exports/t/k', 100)\n[sig, link_is_valid('secret', 'exports/t/k', 100, sig, 100), "
        "link_is_valid('secret', 'exports/t/k', 100, sig, 101), link_is_valid('other', 'exports/t/k', 100, sig, 0), "
        "link_is_valid('secret', 'exports/t/k2', 100, sig, 0)]",
        # Compressed bytes, not only what they decompress to: the export promises the
        # same bytes for the same rows, so Pyodide's zlib must match this one's.
        "r = rng(2)\ndata = encode_lines([[r.randint(0, 10**6), str(r.random())] for _ in range(500)])\n"
        "sha256(gzip_bytes(data))",
    ],
}
