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
    "resilience.errors": "the failure types the data layer raises (no logic)",
    "resilience.events": "the isolate's buffer of fallback events (logs them)",
    "pages.insights_assets": "the insight pages' stylesheet and script (constants)",
    "web.assets": "page JS/CSS constants and their fingerprinted URLs",
}

_STRUGGLE = """
from struggle.config import DEFAULTS as R
from struggle.rules import Answer, Signal
NOW = 10**12
def A(at, concept, credit, t=20.0, typical=30.0, hints=0, misconception=None):
    return Answer(at, concept, credit, t, typical, hints, None, misconception)
def S(kind, t, **kw):
    return Signal(kind, NOW - 60_000 + t, NOW - 1000, **kw)
spin = [A(NOW - (20 - i) * 60_000, 'c1', 1.0 if i % 3 == 0 else 0.0) for i in range(12)]
wrong_same = [A(NOW - (5 - i) * 60_000, 'c2', 0.0, misconception='sign') for i in range(4)]
rapid = [A(NOW - (6 - i) * 60_000, 'c1', 0.0, t=1.0) for i in range(5)]
flow = [A(NOW - (4 - i) * 30_000, 'c1', 1.0) for i in range(4)]
sigs = [S('dwell', 0, target='q1', ms=400_000), S('scroll', 1000, dy_px=5000, ms=500),
        S('scroll', 2000, dy_px=-5000, ms=400), S('scroll', 3000, dy_px=6000, ms=300),
        S('revisit', 4000, target='q1'), S('revisit', 5000, target='q1'), S('revisit', 6000, target='q1')]
"""

_INSIGHTS = """
import random
def rows(n=12, seed=1, min_group=5):
    r = random.Random(seed)
    concepts = [{"id": "a", "name": "Alpha", "prerequisites": []}, {"id": "b", "name": "Beta", "prerequisites": ["a"]},
                {"id": "c", "name": "Gamma", "prerequisites": ["a", "b"]}]
    learners = [{"id": "L%d" % i, "lti_user_id": "u%d" % i, "visible": i % 4 != 0} for i in range(n)]
    states = ["not_started", "learning", "mastered", "fading"]
    cells = {l["id"]: {c["id"]: CellState(r.random(), r.randint(0, 15), r.choice(states), "2026-03-0%dT10:00:00.000Z"
             % r.randint(1, 9)) for c in concepts if r.random() < 0.8} for l in learners}
    events = [{"learner_id": r.choice(learners)["id"], "reason": r.choice(["idle", "wheel_spinning", "misconception"]),
               "concept": r.choice(["a", "b", None]), "score": round(r.random(), 3), "evidence": {"n": 1},
               "at": "2026-03-%02dT10:00:00.000Z" % r.randint(1, 10)} for _ in range(n)] if n else []
    helps = [{"learner_id": r.choice(learners)["id"], "kind": r.choice(["hint", "example", "instructor_note"]),
              "outcome": r.choice([None, "accepted", "dismissed", "ignored"]), "at": "2026-03-09T00:00:00.000Z"}
             for _ in range(n)] if n else []
    return CourseRows(context_id="c1", day="2026-03-10", computed_at="2026-03-10T03:00:00.000Z", concepts=concepts,
                      learners=learners, cells=cells, events=events, interventions=helps,
                      names={"u1": "Ann", "u2": "Bo"}, previous_trend=[{"day": "2026-03-01", "mean_mastery": 0.2}],
                      min_group=min_group)
"""

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
        "[json_sql('c'), line_sql(['a', 'b']), line_sql([]), needs_python_sql('x'), SENTINEL, REAL_TEXT_MAX]",
        "def fill(text, reals):\n    try:\n        return fill_reals(text, reals)\n    except ValueError as e:\n"
        "        return str(e)\n"
        "[fill('[\\x1f,1]\\n[\\x1f]\\n', [0.1 + 0.2, 10**300]), fill('[1]', []), fill('[\\x1f]', []), "
        "fill('[1]', [1.5]), fill('[\\x1f]', ['1.5']), fill('[\\x1f]', [float('nan')]), "
        "fill('[\\x1f]', [5e-324]), fill('[\\x1f]', [-1.7976931348623157e308])]",
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
        _SCOPE + "[attempt(lambda: A.export_page('learner_profiles', None, 50, 1000)), attempt(lambda: A.export_page("
        "'learner_profiles', ['p9'], 50, 1000)), attempt(lambda: A.export_page('learner_profiles', ['a', 'b'], 5, 1000)), "
        "attempt(lambda: A.export_page('learner_profiles', None, 0, 1000)), "
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
        "def page(answer, limit=5, max_bytes=100):\n    try:\n        return page_ndjson(answer, limit, max_bytes)\n"
        "    except ValueError as e:\n        return str(e)\n"
        "[page([[2, 3, '[\\x1f,\"a\"]', '[{\"$r\":1},\\x1f]'], [0.1 + 0.2, 1e300, None]]), page([[0, 0]]), "
        "page([[1, 1, '[\\x1f]']]), page([[2, 2, '[1]', '[2]']], limit=1), page([[2, 2, '[1]', '[2]']], max_bytes=5), "
        "page_cursor(b'[1,\"k\"]\\n[{\"$i\":\"9007199254740993\"},\"z\"]\\n', ['a', 'id'], ['id', 'a'])]",
        "r = rng(3)\nreals = [r.random() * 10 ** r.randint(-300, 300) for _ in range(300)]\n"
        "page_ndjson([[300, 300] + ['[\\x1f]'] * 300 + reals], 300, 10**6)[0]",
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
    "resilience.memo": [
        "m = _WriteMemo()\n[m.changed('k', 'a', 0), m.changed('k', 'a', 10), m.changed('k', 'b', 11), "
        "m.changed('k', 'b', 11 + REFRESH_AFTER_S), m.forget('k'), m.changed('k', 'b', 12)]",
        "t = _IsolateTenants()\nt.put((None, 'a'), {'id': 'a'}, 10.0)\nt.put(('c', 'b'), {'id': 'b'}, 5.0)\n"
        "out = [t.get((None, 'a'), 9.9), t.get((None, 'a'), 10.0), t.get(('c', 'b'), 1)]\nt.forget('b')\n"
        "out + [t.get(('c', 'b'), 1)]",
        "r = rng(6)\nm = _WriteMemo()\n[m.changed(r.choice('abc'), r.choice('xy'), i * 400) for i in range(300)]",
    ],
    "learner.graph": [
        "C = Concept\nold = {'a': C('a', 'Fractions'), 'b': C('b', 'Ratios', ('a',), ('c-1',))}\n"
        "[plan_import([C('c', 'Rates', ('b',), ('c-1',))], old), plan_import([C('a', 'A2', ('b',))], old), "
        "plan_import([C('x', 'X', ('nope',)), C('x', 'fractions'), C('y', 'Y', ('y',))], old, ['x']).problems]",
        "C = Concept\ng = {'a': C('a', 'A'), 'b': C('b', 'B', ('a',), ('c-1',)), 'c': C('c', 'C', ('a', 'b'), ('c-1',)),"
        " 'd': C('d', 'D', ('c',))}\n[readiness('c', g, {'a'}), readiness('c', g, {'a', 'b'}), dependents(g, 'a'), "
        "readiness_changes(g, 'b', {'a'}, {'a', 'b'}), course_concepts(g, 'c-1'), cycle_members(g), "
        "cycle_members({**g, 'a': C('a', 'A', ('d',))})]",
        "r = rng(9)\nids = ['k%d' % i for i in range(12)]\n"
        "[sorted(cycle_members({i: Concept(i, i, tuple(r.sample(ids, r.randint(0, 2)))) for i in ids})) "
        "for _ in range(60)]",
    ],
    "learner.model": [
        "p = ModelParams()\nb = p.default_bkt\ns = new_state(b)\nout = []\nab = Ability()\n"
        "for credit, t, hints in ((1.0, 20.0, 0), (0.0, 30.0, 1), (1.0, 0.5, 0), (0.5, 25.0, 0), (1.0, 18.0, 2)):\n"
        "    u = update(s, Response(credit, t, hints, 30.0), ab, 0.1, 3, b, p)\n"
        "    ab = ab.plus(s, u.state)\n    s = u.state\n    out.append(u)\n"
        "out + [ab, ab.se, s.mastered, s.skill_se, wheelspin_risk(s, b), wheelspin_risk(new_state(b), b)]",
        "[is_rapid_guess(t, typ) for t, typ in ((1, 30), (2.9, 30), (3.1, 30), (9, 200), (11, 200), (None, 3), (1, None), "
        "(1, 0))] + [evidence_credit(Response(c, hints=h)) for c, h in ((1, 0), (1, 2), (0.5, 1), (7, 0), (-1, 0))]",
        "p = ModelParams()\nb = p.default_bkt\n[bkt_p_correct(x, b) for x in (0.0, 0.5, 1.0)] + "
        "[bkt_posterior(x, c, b) for x in (0.1, 0.9) for c in (0.0, 0.5, 1.0)] + [logit(0.3), sigmoid(-2.0), "
        "clamp(2.0), params_document(p, {'a': {'difficulty': 0.1}}, {'auc': 0.8})]",
        "def bad(d):\n    try:\n        return bkt_from_dict(d, 'x')\n    except ValueError as e:\n        return str(e)\n"
        "[bad(d) for d in ({'p_init': 0.2, 'p_transit': 0.1, 'p_guess': 0.2, 'p_slip': 0.1}, {'p_init': 2}, "
        "{'p_init': 'x'}, {}, {'p_init': 0.2, 'p_transit': 0.1, 'p_guess': 0.7, 'p_slip': 0.6}, {'p_nope': 1})]",
        "r = rng(4)\np = ModelParams()\nb = p.default_bkt\ns = new_state(b)\nab = Ability()\nout = []\n"
        "for _ in range(200):\n    u = update(s, Response(r.choice([0.0, 1.0, 0.5]), r.uniform(0.5, 90), r.randint(0, 2), "
        "r.choice([None, 40.0])), ab, r.uniform(-1, 1), r.randint(0, 50), b, p)\n    ab = ab.plus(s, u.state)\n"
        "    s = u.state\n    out.append((u.state.p_known, u.prediction.p_correct, u.difficulty_delta))\nout",
    ],
    "learner.progress": [
        "[course_score([], {}), course_score(['a', 'b'], {'a': 1.0}), course_score(['a', 'b', 'c'], {'a': 0.91, 'b': "
        "1.7, 'c': -1}), crossing(None, 80.0), crossing(79.99, 80.0), crossing(85.0, 70.0, 75.0), "
        "crossing(90.0, 95.0)]",
        "evidence_comment('Fractions', 12, 9, 0.8123, '2026-11-20T10:00:00Z', 0.956)",
        "r = rng(8)\nids = ['c%d' % i for i in range(6)]\nout = []\nprev = None\nfor _ in range(100):\n"
        "    m = {i: r.random() for i in r.sample(ids, r.randint(0, 6))}\n    s = course_score(ids, m)\n"
        "    out.append((s, crossing(prev, s, r.choice([50.0, 80.0]))))\n    prev = s\nout",
    ],
    "struggle.config": [
        "[from_overrides(None), from_overrides({}), from_overrides({'daily_cap': 3, 'struggle_threshold': 0.5}).as_dict()]",
        "def err(o):\n    try:\n        return from_overrides(o).as_dict()\n    except RulesError as e:\n        return e.problems\n"
        "[err(o) for o in ({'nope': 1}, {'daily_cap': 2.5}, {'daily_cap': True}, {'daily_cap': 10**6}, "
        "{'idle_tier1_s': 900}, {'rapid_guess_min': 9}, 'x', {'cooldown_s': 60.0})]",
        "[lenient({'daily_cap': 3, 'nope': 1}), lenient({'idle_tier1_s': 900}), DEFAULTS.idle_tiers(), "
        "DEFAULTS.cooldown_for('instructor_note'), json_schema()]",
    ],
    "struggle.intake": [
        "[implausible_times([0, 10**6, 10**6 + MAX_LEAD_MS + 1, 10**6 - MAX_AGE_MS - 1], 10**6), "
        "admit([], 30, 0, 60), admit([(0, 40)], 30, 1000, 60), admit([(0, 40), (30000, 10)], 20, 45000, 60), "
        "admit([(0, 40)], 30, 61000, 60), admit([], 100, 0, 60)]",
        "r = rng(3)\nout = []\nintake = []\nfor i in range(300):\n    now = i * 700\n    n = r.randint(1, 30)\n"
        "    ok, wait = admit(intake, n, now, 60)\n    if ok:\n        intake.append((now, n))\n"
        "    out.append((ok, wait))\nout",
        "r = rng(12)\n[implausible_times([r.randint(0, 3 * 10**6) for _ in range(10)], 2 * 10**6) for _ in range(50)]",
        "[chat_signal_rows([], 'c-1', 5), chat_signal_rows([{'kind': 'chat_confusion', 'concept': 'Limits', "
        "'phrase': 'lost'}, {'kind': 'chat_repeated_question', 'concept': 'Limits', 'count': 4}, "
        "{'kind': 'chat_concepts', 'concepts': ['Limits', 'Sums']}], 'c' * 80, 7), "
        "chat_signal_rows([{'kind': 'chat_repeated_question', 'concept': None, 'count': 10**6}], 'c-2', 9)]",
    ],
    "struggle.interventions": [
        _STRUGGLE + "from struggle.rules import assess\nst = assess(spin, [], NOW, R)\nmis = assess(wrong_same, [], NOW, R)\n"
        "P = [Prerequisite('c0', 0.3, 0.9), Prerequisite('c9', None, 0.2)]\n"
        "[choose(st, [], NOW, R, offers_today=0), choose(mis, [], NOW, R, offers_today=0, prerequisites=P), "
        "choose(st, [Offer('hint', 'wheel_spinning', 'c1', NOW - 1000)], NOW, R, offers_today=1), "
        "choose(st, [], NOW, R, offers_today=R.daily_cap), choose(assess([], [], NOW, R), [], NOW, R, offers_today=0), "
        "choose(st, [Offer('hint', 'wheel_spinning', 'c1', NOW - 120_000, 'dismissed')], NOW, R, offers_today=1), "
        "choose(st, [Offer('hint', 'wheel_spinning', 'c1', NOW - 9_000_000, 'dismissed'), Offer('example', "
        "'wheel_spinning', 'c1', NOW - 8_000_000, 'ignored')], NOW, R, offers_today=2, visible_to_instructors=False)]",
        _STRUGGLE + "from struggle.rules import assess\n[utc_day(NOW), weakest_prerequisite([Prerequisite('a', 0.9, 0.9), Prerequisite('b', 0.5), "
        "Prerequisite('c', 0.7, 0.1)], R), weakest_prerequisite([], R), expired([Offer('hint', 'idle', None, 0), "
        "Offer('hint', 'idle', None, NOW - 10), Offer('hint', 'idle', None, 0, 'accepted')], NOW, R)] + "
        "[why(x) for x in assess(spin, sigs, NOW, R).reasons + assess(wrong_same, [], NOW, R).reasons]",
        _STRUGGLE + "from struggle.rules import assess\nr = rng(14)\nout = []\nfor _ in range(60):\n"
        "    offers = [Offer(r.choice(KINDS), r.choice(['idle', 'wheel_spinning']), r.choice(['c1', None]), "
        "NOW - r.randint(0, 4000) * 1000, r.choice([None] + list(OUTCOMES))) for _ in range(r.randint(0, 4))]\n"
        "    out.append(choose(assess(r.choice([spin, wrong_same, rapid, flow]), sigs, NOW, R), offers, NOW, R, "
        "offers_today=r.randint(0, 9), prerequisites=[Prerequisite('p', r.random(), r.random())]))\nout",
    ],
    "struggle.report": [
        "[iso(0), iso(1767225599999), session_summary({'signals_total': 7, 'signals.idle': 2.0, 'idle_ms': 61234, "
        "'peak_score_e4': 8320, 'answers': 3}, {'score': 0.83, 'state': 'struggling'}, [{'outcome': 'accepted'}, "
        "{'outcome': None}], 1767225599999, 1767225600000), session_summary({}, None, [], 0, 0)]",
        "delivered([{'id': str(i), 'kind': 'hint', 'reason': 'idle', 'offered_ms': i * 1000, 'outcome': None} "
        "for i in range(60)])",
        "ev = [{'learner_id': l, 'concept': c, 'reason': r, 'score': s, 'at': a} for l, c, r, s, a in ((\'l1\', 'c1', "
        "'idle', 0.7, '2026-01-01'), ('l1', 'c1', 'misconception', 0.8, '2026-01-02'), ('l2', None, 'idle', 0.6, "
        "'2026-01-03'), ('hidden', 'c1', 'idle', 0.9, '2026-01-04'))]\n"
        "iv = [{'learner_id': 'l1', 'kind': 'instructor_note', 'outcome': 'accepted', 'at': 'x'}, {'learner_id': 'l2', "
        "'kind': 'hint', 'outcome': None, 'at': 'x'}, {'learner_id': 'hidden', 'kind': 'hint', 'outcome': 'dismissed', "
        "'at': 'x'}, {'learner_id': 'l1', 'kind': 'nope', 'at': 'x'}]\n"
        "course_overview(ev, iv, {'l1': 'u-1', 'l2': 'u-2'}, {'c1': 'Fractions'})",
    ],
    "struggle.rules": [
        _STRUGGLE + "[assess([], [], NOW, R), assess(spin, [], NOW, R), assess(spin[:4], [], NOW, R), "
        "assess(wrong_same, [], NOW, R), assess(rapid, [], NOW, R), assess(flow, sigs, NOW, R), "
        "assess(spin, sigs, NOW, R, behaviour_allowed=False)]",
        _STRUGGLE + "[assess([], sigs, NOW, R), assess([], [S('idle', 0, ms=700_000)], NOW, R), "
        "assess([], [S('help_request', i * 500, help='hint', words=200) for i in range(3)], NOW, R), "
        "[tier(ms, R.idle_tiers()) for ms in (0, 59_999, 60_000, 200_000, 10**7)], noisy_or([0.3, 0.6, 0.8]), "
        "most_revisited(sigs), hint_read_ms(0, R), hint_read_ms(100, R)]",
        _STRUGGLE + "r = rng(13)\nkinds = ['dwell', 'idle', 'scroll', 'revisit', 'help_request']\nout = []\n"
        "for _ in range(60):\n    ans = [A(NOW - r.randint(0, 4000) * 1000, r.choice(['c1', 'c2']), r.choice([0.0, 1.0, 0.5]), "
        "r.uniform(0.5, 60), r.choice([None, 30.0]), r.randint(0, 2), misconception=r.choice([None, 'm1'])) "
        "for _ in range(r.randint(0, 14))]\n    ss = [S(r.choice(kinds), i * 1000, ms=r.randint(1, 900_000), "
        "dy_px=r.randint(-9000, 9000), target=r.choice(['q1', 'q2', None]), help='hint', words=r.randint(0, 300)) "
        "for i in range(r.randint(0, 20))]\n    out.append(assess(sorted(ans, key=lambda a: a.at_ms), ss, NOW, R).to_dict())\nout",
    ],
    "insights.csv_export": [
        "[cell(v) for v in (None, True, False, 3, 0.1234567891, '=SUM(A1)', '+1', '-2', '@x', '\\tx', 'plain', 'é')]",
        "to_csv(['name', 'score'], [['Ann, \"A\"', 0.5], ['=cmd', None], ['line\\nbreak', 3]])",
        "[filename('overview', 'c/1?x'), filename('', '../..'), filename('a' * 100)]",
    ],
    "insights.progress": [
        "study_summary([('2026-03-10T09:00:00Z', 30), ('2026-03-09T09:00:00Z', 4000), ('2026-03-01T09:00:00Z', -5)], "
        "['2026-03-08T08:00:00Z'], '2026-03-10')",
        "[study_summary([], [], '2026-03-10'), study_summary([('2026-03-09T23:59:59Z', 60)], [], '2026-03-10'), "
        "unlocks([{'id': 'a'}, {'id': 'b', 'prerequisites': ['a']}, {'id': 'c', 'prerequisites': ['a', 'b']}, "
        "{'id': 'd', 'prerequisites': ['x', 'y']}], {'a'})]",
        "r = rng(15)\ndays = ['2026-02-%02d' % d for d in range(1, 29)]\n[study_summary([(r.choice(days) + 'T10:00:00Z', "
        "r.uniform(0, 900)) for _ in range(r.randint(0, 30))], [r.choice(days) + 'T09:00:00Z'], '2026-02-28') "
        "for _ in range(40)]",
    ],
    "insights.charts": [
        "rows = [Axis('r1', '<b>Ann</b>', '/x?a=1&b=2'), Axis('r2', 'Bo')]\ncols = [Axis('c1', 'Fractions'), "
        "Axis('c2', 'Ratios and a very long concept name')]\ncells = {('r1', 'c1'): Cell(0.834, 'learning'), "
        "('r2', 'c2'): Cell(0.1, 'fading', '!')}\n[heatmap('h', 'T', 'D', rows, cols, cells), "
        "heatmap_table('t', 'Cap', rows, cols, cells)]",
        "[bars('b', 'T', 'D', [Bar('idle', 3), Bar('hint <x>', 7, 'seven', '/y')], None), stacked_bars('s', 'T', 'D', "
        "[('hint', [1, 2, 0]), ('example', [0, 0, 0])], ['accepted', 'dismissed', 'ignored']), "
        "data_table('d', 'Cap', ['a', 'b'], [['<1>', '2']]), data_table('d', 'Cap', ['a'], [['<i>raw</i>']], raw=True)]",
        "[trend('tr', 'T', 'D', [('2026-03-0%d' % i, {'mean_mastery': i / 10, 'mastered_share': None if i == 3 "
        "else i / 20}) for i in range(1, 8)], [('mean_mastery', 'Mean'), ('mastered_share', 'Mastered')]), trend('tr', 'T', 'D', [], "
        "[('mean_mastery', 'Mean')]), [viridis(x / 10) for x in range(-1, 12)], [ink_on(c) for c in VIRIDIS], "
        "[pct(x) for x in (None, 0, 0.5, 0.999)]]",
    ],
    "insights.snapshot": [
        _INSIGHTS + "summary, pages = build(rows())\n[summary, pages]",
        _INSIGHTS + "[prerequisite_order([{'id': 'c', 'name': 'C', 'prerequisites': ['b']}, {'id': 'b', 'name': 'B', "
        "'prerequisites': ['a']}, {'id': 'a', 'name': 'A', 'prerequisites': []}, {'id': 'x', 'name': 'X', "
        "'prerequisites': ['y']}, {'id': 'y', 'name': 'Y', 'prerequisites': ['x']}]), include_hidden(4, 5), "
        "include_hidden(5, 5), day_of('2026-03-10T23:59:59.999Z'), build(rows(min_group=2))[0]]",
        _INSIGHTS + "r = rng(16)\nout = []\nfor _ in range(8):\n    out.append(build(rows(n=r.randint(0, 90), seed=r.randint(0, 10**9)))[0])\nout",
    ],
}

# -- the AI Guide's decisions ------------------------------------------------------------------

_CHAT_LEARNER = """
LEARNER = {'concept': 'Quadratics', 'concept_mastery': 0.4, 'prerequisites': [{'name': 'Factoring', 'mastery': 0.2},
           {'name': 'Exponents', 'mastery': 0.9}], 'mastered': ['Exponents'], 'fading': ['Fractions'],
           'struggles': ['repeated error'], 'last_error': {'question': 'Factor x^2-5x+6.', 'answer': '(x+2)(x+3)',
           'misconceptions': ['sign error']}}
PAGE = {'course': 'Algebra I', 'title': 'Week 3', 'concept': 'Quadratics'}
"""
_CHAT_EXPECT = """
Q = [{'concept': 'Photosynthesis', 'expected_concepts': ['chlorophyll', 'carbon dioxide', 'glucose'],
      'expected_reasoning_path': ['light energy is absorbed by chlorophyll', 'glucose is produced from carbon dioxide'],
      'common_misconceptions': ['plants get their food from the soil', {'misconception': 'light is food'}]},
     {'concept': 'Respiration', 'expected_concepts': ['mitochondria', 'energy']}]
E = [expectation_for('Photosynthesis', Q), expectation_for('Respiration', Q), expectation_for('Osmosis', Q, ['Diffusion'])]
"""

PURE_MODULES.update({
    "chat.tokens": [
        "[count_tokens(t) for t in ('', 'cat', 'catalogue', '!?', 'Quadratics: x² − 5x + 6 = 0', 'naïve café 学习 🚀')]",
        "[truncate_to_tokens('one two three, four five!', n) for n in range(8)] + [prompt_tokens([{'role': 'user', "
        "'content': 'hello there'}, {'role': 'system', 'content': ''}])]",
        "r = rng(21)\ntexts = [''.join(r.choice('ab cd.,!é学\\n') for _ in range(r.randint(0, 90))) for _ in range(150)]\n"
        "[(count_tokens(t), count_tokens(truncate_to_tokens(t, 7)), len(truncate_to_tokens(t, 7))) for t in texts]",
    ],
    "chat.limits": [
        "[rate_decision([1000 * i for i in range(9)], 60_000), rate_decision([1000 * i for i in range(10)], 60_000), "
        "rate_decision([0] * 10, 60_000), rate_decision([], 5), rate_decision([59_000] * 10, 60_000, limit=10)]",
        "S = {**DEFAULTS, 'prompt_budget_tokens': 1000, 'reply_max_tokens': 200, 'conversation_tokens': 5000, "
        "'learner_daily_tokens': 3000, 'course_daily_tokens': 10000, 'tenant_daily_tokens': 100000}\n"
        "[budget_decision(u, S, 1_767_225_600.5) for u in ({}, {'conversation': 3801}, {'learner': 1801}, "
        "{'course': 8801}, {'tenant': 98801}, {'conversation': 3800, 'learner': 1800})] + [cost_units(1000, 500, "
        "{**S, 'prompt_cost_per_1k': 2.0, 'completion_cost_per_1k': 10.0}, p) for p in ('workers-ai', 'offline')]",
        "d = deployment_defaults({'CHAT_MODEL': '@cf/x', 'CHAT_LEARNER_DAILY_TOKENS': '900', 'CHAT_PROVIDER': 'bad', "
        "'CHAT_TENANT_DAILY_TOKENS': '-5', 'CHAT_COURSE_DAILY_TOKENS': 'x'})\n"
        "[d, effective_settings(d, {'model': '@cf/m', 'learner_daily_tokens': 1}, {'learner_daily_tokens': 2, "
        "'model': 'no'}, {'learner_daily_tokens': 3, 'tenant_daily_tokens': 0}), [backoff_ms(n, 500) for n in "
        "range(5)], day_of(0), day_of(1_767_225_599.9), seconds_to_next_day(86_390)]",
        "out = []\nfor t in ('  hi \\r\\n there ', '', '   ', 'x' * 5001, 42, 'x' * 5000):\n    try:\n"
        "        out.append(len(learner_message(t)))\n    except LimitError as exc:\n        out.append(str(exc))\nout",
    ],
    "chat.sse": [
        "p = SSEParser()\nraw = 'data: {\"response\":\"Hel\"}\\n\\ndata: {\"response\":\"lo ✓\"}\\n\\n: c\\n\\nevent: x\\n"
        "id: 7\\ndata: [DONE]\\n\\ndata: tail'.encode()\nevents = []\nfor i in range(0, len(raw), 5):\n"
        "    events += p.feed(raw[i:i + 5])\nevents + p.close()",
        "[model_text(e) for e in ({'data': '[DONE]'}, {'data': '{\"response\": \"a\", \"usage\": {\"n\": 1}}'}, "
        "{'data': '{\"choices\": [{\"delta\": {\"content\": \"b\"}}]}'}, {'data': 'nope'}, {'data': '[1]'}, "
        "{'data': '{\"choices\": []}'}, {'data': '{}'})]",
        "[parse_event_id(v) for v in (None, '', '12.345', ' 3.4 ', '1', 'a.b', '1.2.3')] + [format_event('delta', "
        "{'text': 'a\\nb', 'ü': 1}, event_id(4, 9)).decode(), format_event('done', {}).decode(), retry_hint(1500).decode()]",
    ],
    "chat.judge": [
        _CHAT_EXPECT + "[E, [judge_explanation(t, E[0]) for t in ('Chlorophyll absorbs light energy, and the plant "
        "produces glucose from carbon dioxide and water.', 'Chlorophyll captures light so the plant can live and grow.', "
        "'Chlorophyll absorbs light energy and glucose comes from carbon dioxide, but plants get their food from the "
        "soil.', 'idk')]]",
        _CHAT_EXPECT + "j = judge_message('Respiration turns glucose into energy in the mitochondria of every cell', E, "
        "'Photosynthesis')\nb = best_scores({'Photosynthesis': 0.5}, j)\n[j, b, mastery_score(b, ['Photosynthesis', "
        "'Respiration']), next_focus(b, ['Photosynthesis', 'Respiration'], 80), [activity_grade(g, 55.0, 2, 4, b, "
        "['Photosynthesis', 'Respiration'], 80) for g in ('mastery', 'percentage', 'engagement')], "
        "activity_grade('mastery', 0, 0, 1, {}, [], 80), stem('studies'), content_words('The plants are growing!')]",
        _CHAT_EXPECT + "r = rng(22)\nwords = 'chlorophyll light energy glucose carbon dioxide water soil food plants the "
        "mitochondria is from'.split()\n[judge_message(' '.join(r.choice(words) for _ in range(r.randint(0, 14))), E, "
        "r.choice(['Photosynthesis', 'Respiration', None])) for _ in range(40)]",
    ],
    "chat.policy": [
        "[guide_allowed(a) for a in (None, {'assessment_type': 'chat', 'ai_config': {}}, {'assessment_type': "
        "'flashcards', 'ai_config': {}}, {'assessment_type': 'flashcards', 'ai_config': {'graded': False}}, "
        "{'assessment_type': 'fill_blank', 'ai_config': {'guide_enabled': True}}, {'assessment_type': 'chat', "
        "'ai_config': {'guide_enabled': False}})]",
        "[staff_may_read(t, p) for t in (True, False) for p in ({'privacy_settings': {}}, {'privacy_settings': "
        "{'consent': {'instructor_visibility': False}}})] + [chat_consent({'privacy_settings': {'consent': "
        "{'ai_chat': False}}}), chat_consent({'privacy_settings': None})]",
        "[notices(a, b, c) for a in (True, False) for b in (True, False) for c in (True, False)] + "
        "[activity_course({'ai_config': {'course_context': 'c-1'}}), activity_course({'ai_config': {}}), "
        "is_graded({'ai_config': {'graded': 0}}), is_guide_activity({'assessment_type': 'chat'})]",
    ],
    "chat.prompt": [
        _CHAT_LEARNER + "[build_prompt(mode=m, page=PAGE, learner=LEARNER, summary=empty_summary(), history=[{'role': "
        "'user', 'content': 'help?'}, {'role': 'assistant', 'content': 'What do you think?'}, {'role': 'user', "
        "'content': 'I think x'}], budget_tokens=b, graded={'focus': 'Quadratics'} if m == 'graded' else None) "
        "for m in ('study', 'graded') for b in (60, 400, 3000)]",
        "s = empty_summary()\nfor t in range(300):\n    s = fold_summary(s, [{'seq': 2 * t + 1, 'role': 'user', "
        "'content': f'Question {t} about Factoring? More.'}, {'seq': 2 * t + 2, 'role': 'assistant', 'content': "
        "'Fine. What about Exponents?'}], ['Factoring', 'Exponents'])\n[s, render_summary(s), render_summary(empty_summary())]",
        _CHAT_LEARNER + "r = rng(23)\nout = []\nfor _ in range(30):\n    h = [{'role': r.choice(['user', 'assistant']), "
        "'content': ' '.join(r.choice(['a', 'Quadratics', 'roots!', 'x²', '?']) for _ in range(r.randint(1, 300)))} "
        "for _ in range(r.randint(1, 25))]\n    b = build_prompt(mode='study', page=PAGE, learner=LEARNER, "
        "summary=empty_summary(), history=h, budget_tokens=r.randint(80, 2000))\n    out.append((b['prompt_tokens'], "
        "b['history_used'], b['history_dropped'], len(b['messages'][-1]['content'])))\n"
        "out + [mentioned_concepts('factoring and QUADRATICS, not quadraticsx', ['Quadratics', 'Factoring', 'Roots'])]",
    ],
    "chat.signals": [
        "[chat_signals(m, e, ['Factoring', 'Quadratics'], 'Quadratics') for m, e in (('I am so confused about "
        "factoring', []), ('why does factoring work?', ['what is factoring?', 'is factoring always possible?', 'ok']), "
        "('ok', []), ('how do I start?', ['how?', 'what?']))]",
        "[confusion_phrase(t) for t in ('I dont get it', \"I'm totally lost\", 'This makes no sense', 'can you explain "
        "again', 'fine thanks', 'STUCK on this', 'I give up')]",
        "[(is_question(t), concepts_of(t, ['Vectors'], 'Forces')) for t in ('What is a vector', 'vectors add.', "
        "'Tell me?', 'how', 'sure')]",
    ],
    "chat.offline": [
        _CHAT_LEARNER + "[reply({'message': m, 'history': h, 'page': PAGE, 'learner': LEARNER}) for m in ('I am "
        "confused about quadratics', 'just tell me the answer', 'hello', 'Quadratics have two roots because the parabola "
        "crosses the axis twice') for h in ([], [{'role': 'assistant', 'content': 'Earlier?'}])]",
        "G = {'focus': 'Photosynthesis', 'concepts': ['Photosynthesis'], 'questions': ['How does a plant eat?'], "
        "'judgment': {'judged': True, 'matched': ['chlorophyll'], 'misconceptions': ['soil']}}\n"
        "H = [{'role': 'assistant', 'content': graded_opening('Photosynthesis')}]\n[reply({'message': m, 'history': H, "
        "'page': {}, 'mode': 'graded', 'graded': g}) for m in ('Chlorophyll takes light', 'give me the answer') for g in "
        "(G, {**G, 'judgment': {}}, {**G, 'focus': None})]",
        "[intent(t) for t in ('tell me the answer', 'I am stuck', 'hi!', 'why?', 'Vectors add head to tail to make a "
        "resultant', 'ok')] + [pieces('a  b c'), reply({'message': 'how does photosynthesis work?', 'history': [], "
        "'page': {}, 'learner': {}})]",
    ],
})

# -- practice: answers, drafting, grading, selection, items -----------------------------------

_FILL = """
M = Misconception
CELL = ['mitochondria', 'mitochondrion']
ORGANELLES = [M('chloroplast', 'Chloroplasts make sugar; they do not release its energy.'),
              M('nucleus', 'The nucleus holds DNA.')]
HALF = ['0.5', '1/2']
DENOMINATOR = [M('2', '2 is the denominator: divide 1 by 2.')]
def verdicts(responses, accepted, misconceptions=(), **kw):
    return [(t, check_fill_blank(t, accepted, misconceptions, **kw)) for t in responses]
"""

_DRAFT = """
T = '''Photosynthesis — the process by which plants use light energy to make glucose from carbon dioxide and water.
Chlorophyll: the green pigment in chloroplasts that absorbs light energy.
A stoma is a small pore on the surface of a leaf that lets carbon dioxide in.
Respiration means releasing energy from glucose inside every living cell.
Transpiration refers to the loss of water vapour from the leaves of a plant.
Osmosis is defined as the movement of water across a partially permeable membrane.

Plants need carbon dioxide for photosynthesis. The chloroplasts in leaf cells contain chlorophyll, which absorbs \
light energy. Glucose made in photosynthesis is used in respiration to release energy. When stomata open, carbon \
dioxide enters the leaf and water vapour leaves by transpiration! Root hair cells take up water by osmosis \
from the soil.
- Guard cells open and close each stoma on the leaf surface.
- Xylem vessels carry water from the roots to the leaves of the plant.'''
C = [('bio.photo', 'Photosynthesis'), ('bio.water', 'Water transport in plants'), ('bio.resp', 'Respiration')]
"""

_SELECT = """
C, S = Candidate, ConceptStatus
BANK = [C('f1', 'frac', 3), C('f2', 'frac', 5), C('f3', 'frac', 8), C('r1', 'ratio', 4), C('r2', 'ratio', 6),
        C('d1', 'dec', 5), C('p1', 'pct', 2), C('p2', 'pct', 9)]
ST = {'frac': S('frac', 0.7, attempts=4, p_known=0.5), 'ratio': S('ratio', 0.4, missing=('frac',)),
      'dec': S('dec', 0.95, mastered=True, recall=0.8), 'pct': S('pct', 0.9, mastered=True, due=True, recall=0.6)}
def without(*names):
    return {k: v for k, v in ST.items() if k not in names}
"""

_ITEMS = """
FB = {'format': 'fill_blank', 'concept': 'fractions', 'prompt': 'One half as a decimal is ___.',
      'answers': ['0.5', '1/2']}
FC = {'format': 'flashcard', 'concept': 'bio.photo', 'front': 'Chlorophyll', 'back': 'The green pigment'}
def problems(parsed):
    return ([(line, n, spec.as_document()) for line, n, spec in parsed.items], [p.as_dict() for p in parsed.problems])
"""

PURE_MODULES.update({
    "practice.answers": [
        "[(t, normalise(t)) for t in ('  The  Mitochondria. ', 'ＡＢＣ', '“Quoted”', 'an apple', 'a', 'the', 'The ', "
        "'', None, 'ﬁsh', 'x − y', '1½', '(Nucleus)!', 'STRASSE', 'Straße')] + [(t, "
        "None if (n := parse_number(t)) is None else str(n)) for t in ('0.5', '.5', '5.', '1/2', '½', '1 ½', '1½', "
        "'-3', '−2', '+4', '1,000', '1,000.25', '12,34', '1 000', '2.5e3', '-1.5E-2', '1/0', '3 1/0', '- 1/2', "
        "'-1 1/2', 'abc', '', None, '٣', '１２')]",
        "[(a, b, k, edit_distance(a, b, k)) for a, b, k in (('kitten', 'sitting', 3), ('kitten', 'sitting', 2), "
        "('ab', 'ba', 1), ('abc', 'abc', 0), ('abcdef', '', 2), ('ca', 'abc', 3), ('', '', 0), ('abcd', 'abdc', "
        "1))] + [(e, t, allowed_typos(e, t)) for e, t in (('cat', 3), ('cats', 3), ('mitochondria', 1), "
        "('mitochondria', 9), ('mitochondria', -2), ('abcdefgh', 3), ('abcdefg', 3), ('abcdefghijklmnop', 3))]",
        _FILL + "[verdicts(['Mitochondria', 'the mitochondrion.', 'mitochondira', 'mitocondria', 'mtchndria', "
        "'chloroplast', 'Chloroplasts', 'nucleus', 'nucleuss', '', '   ', 'ribosome', '42'], CELL, ORGANELLES), "
        "verdicts(['mitocondria'], CELL, ORGANELLES, typo_tolerance=0), verdicts(['refractin', 'reflectoin', "
        "'refraction'], ['reflection'], [M('refraction', 'That bends light.')], typo_tolerance=3), verdicts(['½', "
        "'.5', '0.50', '2', '2.0', '0.4', '1/0', 'half', ' 1 / 2 '], HALF, DENOMINATOR), verdicts(['0.55', '0.61', "
        "'1.95'], HALF, DENOMINATOR, numeric_tolerance=0.1), verdicts(['cat', 'cut'], ['cat']), verdicts(['x'], ['', "
        "'  '], [M('', 'empty')])]",
        "def grade(g):\n    try:\n        return flashcard_grade(g)\n    except ValueError as e:\n"
        "        return str(e)\n[grade(g) for g in ('again', ' Hard ', 'GOOD', 'easy', 'meh', '', "
        "None)] + [has_blank(p) for p in ('The ___ makes energy.', 'Two __ only', None, '', "
        "'a ____ b')] + [FLASHCARD_GRADES, AGAIN, EASY, MAX_TYPO_TOLERANCE, TYPO_MIN_LENGTH]",
        _FILL + "r = rng(31)\nwords = ['photosynthesis', 'osmosis', 'chlorophyll', 'stoma', 'xylem', 'cell', "
        "'transpiration', 'glucose']\ndef mutate(w):\n    w = list(w)\n    for _ in range(r.randint(0, 3)):\n"
        "        k = r.randrange(len(w) or 1)\n        op = r.choice('sdiwcp')\n        if op == 's' and w:\n"
        "            w[k] = r.choice('aeiostx')\n        elif op == 'd' and len(w) > 1:\n            del w[k]\n"
        "        elif op == 'i':\n            w.insert(k, r.choice('aeiostx'))\n"
        "        elif op == 'w' and k + 1 < len(w):\n            w[k], w[k + 1] = w[k + 1], w[k]\n"
        "        elif op == 'c':\n            w = list(''.join(w).upper())\n        elif op == 'p':\n"
        "            w = list('The ' + ''.join(w) + '.')\n    return ''.join(w)\nout = []\nfor _ in range(200):\n"
        "    key = r.sample(words, 2)\n    wrong = [M(r.choice(words), 'no')]\n"
        "    resp = mutate(r.choice(key + [wrong[0].answer]))\n"
        "    v = check_fill_blank(resp, key, wrong, typo_tolerance=r.randint(0, 3))\n"
        "    out.append((resp, v.correct, v.outcome, v.matched, v.misconception))\nfor _ in range(100):\n"
        "    a, b = r.randint(-20, 20), r.randint(1, 8)\n"
        "    resp = r.choice(['%d/%d' % (a, b), '%s' % (a / b), '%d %d/%d' % (abs(a), 1, b), '%d,000' % abs(a)])\n"
        "    out.append((resp, check_fill_blank(resp, ['%d/%d' % (a, b)], numeric_tolerance=r.choice([0.0, "
        "0.01])).outcome))\nout",
    ],
    "practice.drafting": [
        _DRAFT + "s = sentences(T)\nd = definitions(s)\n[s, d, key_terms(s, d), key_terms(s, d, limit=8)]",
        _DRAFT + "[draft(T, 'flashcard', C), draft(T, 'fill_blank', C), draft(T, 'fill_blank', C, limit=2), draft(T, "
        "'fill_blank', [('only', 'Unrelated topic')])[:3]]",
        _DRAFT + "[draft(T, 'fill_blank', []), draft('', 'fill_blank', C), draft(None, 'flashcard', C), "
        "draft('Too short.', 'fill_blank', C), sentences(None), "
        "sentences('Short one. Another.\\n\\nA longer sentence here.'), "
        "definitions(['The the: something long enough here', 'Cell - a unit of life in biology', 'Matter is stuff', "
        "'Atoms are the smallest units of an element', 'A very long term with too many words: x defined here', "
        "'Atoms are a repeated definition of atoms']), [(w, _variants(w)) for w in ('cell', 'cells', 'berries', "
        "'berry', 'boxes', 'box', 'church', 'day', 'analysis', 'stimulus', 'stomata', 'bus', 'gas')], "
        "draft('x' * (MAX_TEXT + 500) + '. Cells are the units of life in every living organism.', 'flashcard', C)]",
        _DRAFT + "r = rng(32)\nterms = ['Mitosis', 'Meiosis', 'Enzyme', 'Catalyst', 'Ribosome', 'Nucleus', "
        "'Cell membrane', 'Diffusion']\nforms = ['{t} — {d}', '{t}: {d}', '{t} is a {d}', '{t} means {d}', "
        "'{t} refers to {d}', '{t} is defined as {d}', 'In biology {t} matters because {d}', "
        "'We saw {t} and {o} when {d}']\nphrases = ['process of dividing a cell into two identical cells', "
        "'protein that speeds up reactions in cells', 'structure that builds proteins', "
        "'movement of particles from high to low concentration', 'control centre holding genetic material']\n"
        "out = []\nfor _ in range(20):\n    text = ' '.join(r.choice(forms).format(t=r.choice(terms), "
        "o=r.choice(terms), d=r.choice(phrases)) + r.choice(['.', '!', '.\\n\\n']) for _ in range(r.randint(0, "
        "14)))\n    for kind in ('flashcard', 'fill_blank'):\n"
        "        items = draft(text, kind, C, limit=r.randint(1, 30))\n"
        "        out.append([(i['concept'], i.get('front') or i['prompt'], i.get('answers'), i['difficulty'], "
        "i['bloom'], len(i['hints']), [m['answer'] for m in i['misconceptions']]) for i in items])\nout",
    ],
    "practice.grading": [
        "[grade(s, ['a', 'b', 'c', 'a'], {'a', 'b', 'z'}, 10, 7, 66.0, 20) for s in SCHEMAS] + [grade('percentage', "
        "[], set(), 0, 0, 80.0, 10), grade('engagement', ['a'], {'a'}, 50, 1, 100.0, 0), grade('mastery', ['a', 'b', "
        "'c'], {'a', 'b'}, 3, 3, 66.66, 5), grade('mastery', ['a', 'b', 'c'], {'a', 'b'}, 3, 3, 66.67, 5), "
        "grade('percentage', ['a'], set(), 3, 1, 0.0, 1), grade('mastery', [], set(), 0, 0, 0.0, 1)]",
        "def g(*a):\n    try:\n        return grade(*a)\n    except ValueError as e:\n        return str(e)\n"
        "[g('letter', ['a'], set(), 1, 1, 80.0, 1), g('Mastery', ['a'], set(), 1, 1, 80.0, 1), mastery_share([], "
        "set()), mastery_share(['a', 'a', 'b'], {'a'}), mastery_share(iter(['x', 'y', 'z']), {'x', 'y', "
        "'z'})] + [comment(grade(s, ['a', 'b', 'c'], {'a'}, 4, 3, t, 8), s, t) for s in SCHEMAS for t in (30.0, "
        "33.333, 80.0)]",
        "r = rng(33)\nids = ['c%d' % i for i in range(8)]\nout = []\nfor _ in range(150):\n"
        "    schema = r.choice(SCHEMAS)\n    concepts = r.sample(ids, r.randint(0, 8))\n"
        "    mastered = set(r.sample(ids, r.randint(0, 8)))\n    attempts = r.randint(0, 40)\n"
        "    t = r.choice([50.0, 80.0, 100.0, float(r.randint(0, 100))])\n"
        "    x = grade(schema, concepts, mastered, attempts, r.randint(0, attempts), t, r.randint(0, 30))\n"
        "    out.append((x.score, x.concepts_mastered, x.concept_count, x.mastered, comment(x, schema, t)))\nout",
    ],
    "practice.selection": [
        _SELECT + "[[(reason, s.concept) for reason, s in rank(ST)], choose(BANK, ST), choose(BANK, ST, "
        "recent=['p1']), choose(BANK, ST, recent=['p1', 'p2']), choose(BANK, without('pct')), choose(BANK, "
        "without('pct', 'frac')), choose(BANK, without('pct', 'frac', 'ratio')), [choose([C('t%d' % i, 'frac', "
        "5) for i in range(4)], without('pct'), salt=k).item_id for k in range(6)], choose(BANK, "
        "{'frac': ST['frac']}, recent=['f1', 'f2', 'f3']), choose([C('only', 'frac', 5)], {'frac': ST['frac']}, "
        "recent=['only']), choose([C('only', 'frac', 5)], {'frac': ST['frac']}, recent=['x', 'only']), choose([], "
        "ST), choose(BANK, {'zzz': S('zzz', 0.5)}), choose(BANK, ST, band=(0.0, 0.1))]",
        _SELECT + "[[item_success(p, d, 5.0) for p in (0.0, 0.3, 0.72, 1.0) for d in (1, 5, 10)], "
        "item_success(1e-300, 10, 1.0), pick(BANK, ST['frac']), pick(BANK, ST['frac'], recent=['f2'], salt=3), "
        "pick(BANK, ST['frac'], band=(0.9, 0.99)), pick(BANK, S('nope', 0.5)), pick(BANK, ST['frac'], recent=['f1', "
        "'f2', 'f3']), pick([C('a', 'frac', 5)], ST['frac'], recent=['a']), [(reason, s.concept) for reason, "
        "s in rank({'b': S('b', 0.5, due=True, recall=0.2), 'a': S('a', 0.5, due=True, recall=0.2), 'c': S('c', 0.5, "
        "attempts=0, p_known=0.9), 'd': S('d', 0.5, attempts=2, p_known=0.1), 'e': S('e', 0.5, missing=('x', 'y')), "
        "'f': S('f', 0.5, missing=('x',)), 'g': S('g', 0.9, mastered=True, recall=0.1)})], rank({}), repeat(None, "
        "{}, {}), repeat('f2', {'frac': BANK[:3]}, ST), repeat(None, {'frac': BANK[:3]}, ST), repeat('zz', "
        "{'frac': BANK[:3]}, ST), remember(['a', 'b', 'c'], 'b'), remember(list('abcdef'), 'g'), remember([], 'x', "
        "keep=1), remember(['x'], 'x')]",
        _SELECT + "r = rng(34)\nconcepts = ['k%d' % i for i in range(6)]\n"
        "bank = [C('i%d' % n, r.choice(concepts), r.randint(1, 10)) for n in range(60)] + [C('lone', 'k9', 5)]\n"
        "recent = []\nout = []\nfor step in range(150):\n"
        "    statuses = {c: S(c, r.random(), mastered=r.random() < 0.3, due=r.random() < 0.2, recall=r.random(), "
        "missing=tuple(r.sample(concepts, r.randint(0, 2))) if r.random() < 0.4 else (), attempts=r.randint(0, 9), "
        "p_known=r.random()) for c in r.sample(concepts + ['k9'], r.randint(0, 7))}\n"
        "    ch = choose(bank, statuses, recent, salt=step)\n    if ch is not None:\n"
        "        assert ch.reason == 'repeat' or not recent or ch.item_id != recent[-1]\n"
        "        recent = remember(recent, ch.item_id)\n    out.append(ch and (ch.item_id, ch.concept, ch.reason, "
        "ch.predicted))\nout",
    ],
    "practice.items": [
        _ITEMS + "[validate(FB), validate(FC), validate({**FB, 'also_concepts': ['ratios', 'fractions'], "
        "'difficulty': '7', 'bloom': 'apply', 'hints': [' Halve one. ', ''], 'misconceptions': [{'answer': '2', "
        "'feedback': 'No.'}], 'estimated_time_seconds': 30.0, 'numeric_tolerance': '0.25', 'ref': 'frac-1', "
        "'approved': 'no'}), validate('x'), validate({}), validate({**FB, 'extra': 1, 'prompt': 'No gap here', "
        "'front': 'F'}), validate({**FC, 'answers': ['a'], 'back': ''}), validate({**FB, 'concept': 'bad id!', "
        "'answers': [], 'also_concepts': ['ok', 'b d']})] + [validate({**FB, k: v})[1] for k, v in (('difficulty', "
        "7.5), ('difficulty', True), ('difficulty', 'x'), ('difficulty', 11), ('numeric_tolerance', 'nan'), "
        "('numeric_tolerance', True), ('numeric_tolerance', -1), ('numeric_tolerance', [1]), ('approved', 'maybe'), "
        "('approved', 1), ('bloom', 'memorise'), ('ref', 'has space'), ('prompt', 'x' * 2001 + ' ___'), ('prompt', "
        "'a\\x00 ___'), ('answers', 'not a list'), ('answers', ['x'] * 21), ('hints', ['h'] * 6), ('misconceptions', "
        "[{'answer': 'a'}]), ('misconceptions', [{'answer': 'a', 'feedback': 'f' * 501}]), ('misconceptions', 'x'), "
        "('estimated_time_seconds', 0))]",
        _ITEMS + "[problems(parse(TEMPLATE_CSV, 'csv')), problems(parse(TEMPLATE_JSON, 'json')), problems(parse('', "
        "'json')), problems(parse('[]', 'json')), problems(parse('{\"items\": 3}', 'json')), "
        "problems(parse('[1,\\n {\"format\": \"flashcard\"},\\n {\"format\": \"flashcard\", \"concept\": \"c\", "
        "\"front\": \"F\", \"back\": \"B\"}]', 'json')), problems(parse('{\"a\": 1', 'json')), "
        "problems(parse('\"x\"', 'json')), problems(parse('', 'csv')), "
        "problems(parse('format,concept,nope,format\\n', 'csv')), problems(parse('format,concept\\n\\n', 'csv')), "
        "problems(parse('format,concept,answers,prompt,misconceptions\\nfill_blank,c,a|b\\\\|c,Gap ___,x => y|z => "
        "w\\nfill_blank,c,d,No gap,\\nfill_blank,c\\n\"open', 'csv')), problems(parse(json.dumps([FB] * 501), "
        "'json'))] + [[p.as_dict() for p in duplicates(parse(json.dumps([{**FB, 'ref': 'r'}, FC, {**FC, 'ref': 'r'}, "
        "{**FB, 'ref': 'r'}]), 'json'))]]",
        _ITEMS + "spec = validate({**FB, 'also_concepts': ['ratios', 'fractions'], 'hints': ['Halve one.'], "
        "'misconceptions': [{'answer': '2', 'feedback': 'No: é.'}], 'numeric_tolerance': 0.5, 'ref': 'f-1', "
        "'estimated_time_seconds': 40})[0]\ncard = validate({**FC, 'approved': False})[0]\n"
        "rows = [row_values(s) for s in (spec, card)]\ndecoded = {**rows[0], "
        "**{k: json.loads(rows[0][k]) for k in ('answer_key', 'hints', 'concepts', 'common_misconceptions')}}\n"
        "[rows, [from_row(x) == s for x, s in zip(rows, (spec, card))], from_row(decoded) == spec, [(s.concepts, "
        "s.question_text, s.answer_key(), s.as_document()) for s in (spec, card)], from_row({'concept': 'c', "
        "'question_text': 'Q ___', 'hints': ['plain'], 'common_misconceptions': [1, {'answer': 'a'}]}), MAX_ITEMS, "
        "FIELDS]",
        _ITEMS + "r = rng(35)\nvalues = {'format': ['fill_blank', 'flashcard', 'quiz', None], 'concept': ['c1', "
        "'c 2', '', 5], 'prompt': ['Gap ___ here', 'no gap', '', None], 'answers': [['a'], [], ['a', ' '], 'a'], "
        "'front': ['F', ''], 'back': ['B', None], 'difficulty': [1, 10, '3', 0, 2.5, None], 'bloom': ['apply', "
        "'recall', None], 'numeric_tolerance': [0, '1e7', 'x', 0.1], 'approved': [True, 'yes', 'nah', 0], "
        "'ref': ['r-1', '-bad', None], 'hints': [['h'], 'h', [1]]}\nout = []\nfor _ in range(200):\n"
        "    raw = {**r.choice([FB, FC]), **{k: r.choice(v) for k, v in values.items() if r.random() < 0.15}}\n"
        "    spec, bad = validate(raw)\n    out.append(spec.as_document() if spec else bad)\nout",
    ],
})
