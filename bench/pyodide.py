"""pyodide: the hot pure functions timed on CPython and under real Pyodide 0.28.3 (the
Workers runtime's CPython-in-WebAssembly, run by Node) in the same run, and the ratio.
The largest ratio is the measured CPython -> Pyodide factor (`pyodide_factor`) that
every CPU-cap estimate of the bench multiplies by (launch, backups; later groups too).

Both sides run devhost/pyodide/driver.py on the working tree's src/: timeit with a
warm-up and about 0.2 s of calls per repetition, the minimum over repetitions (per
call), each side in a fresh process.

To add a hot function: one entry in HOT_FUNCTIONS (its module must load under Pyodide:
the pure core, tests/pyodide/pure_modules.py)."""

from __future__ import annotations

from bench import BenchRun, group

# name -> (module, setup run once in the module's namespace, the timed call, minimum calls per repetition)
HOT_FUNCTIONS: dict[str, tuple[str, str, str, int]] = {
    "launch_claims": ("lti.claims", """
import hashlib
NONCE = "n-0123456789abcdef"
LOGIN = {"issuer": "https://canvas.test", "client_id": "10000000000001",
         "target_link_uri": "https://tool.test/lti/launch", "nonce_hash": hashlib.sha256(NONCE.encode()).hexdigest()}
P = {"iss": "https://canvas.test", "aud": "10000000000001", "iat": 1000, "exp": 4000, "nonce": NONCE, "sub": "u-1",
     "name": "Ada Lovelace", LTI + "deployment_id": "1:dep", LTI + "message_type": "LtiResourceLinkRequest",
     LTI + "version": "1.3.0", LTI + "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
     LTI + "target_link_uri": "https://tool.test/lti/launch", LTI + "context": {"id": "c-1", "title": "Algebra I"},
     LTI + "resource_link": {"id": "rl-1"}, LTI + "custom": {"canvas_api_domain": "canvas.test"},
     AGS_CLAIM: {"scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/score"],
                 "lineitems": "https://canvas.test/api/lti/courses/1/line_items"},
     NRPS_CLAIM: {"context_memberships_url": "https://canvas.test/api/lti/courses/1/names_and_roles",
                  "service_versions": ["2.0"]}}
""", "check_claims(P, LOGIN, '10000000000001', ['1:dep'], 2000.0)", 2000),
    "launch_token_peek": ("lti.claims", """
import base64, json
def b64(o):
    return base64.urlsafe_b64encode(json.dumps(o).encode()).decode().rstrip("=")
TOKEN = b64({"alg": "RS256", "kid": "k1", "typ": "JWT"}) + "." + b64({"sub": "u", "x": "y" * 400}) + ".sig"
""", "peek(TOKEN)", 5000),
    "course_role": ("lti.roles", """
ROLES = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner",
         "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Student",
         "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"]
""", "course_role(ROLES)", 20000),
    "struggle_assess_window": ("struggle.rules", """
from struggle.config import DEFAULTS as R
r = rng(4)
NOW = 10**12
ANSWERS = [Answer(NOW - (40 - i) * 60_000, r.choice(["c1", "c2"]), r.choice([0.0, 1.0]), r.uniform(1, 60), 30.0,
                  r.randint(0, 2), None, r.choice([None, "m1"])) for i in range(40)]
SIGNALS = [Signal(r.choice(["dwell", "idle", "scroll", "revisit", "help_request"]), NOW - 60_000 + i * 1000, NOW - 1000,
                  r.choice(["q1", "q2"]), r.randint(1, 400_000), r.randint(-6000, 6000), "hint", r.randint(0, 300))
           for i in range(50)]
""", "assess(ANSWERS, SIGNALS, NOW, R)", 2000),
    "scope_statement": ("db.scope", """
A = TenantScope(issue_proof("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", "D1_PRIMARY", "session"))
""", "A.select('learner_profiles', {'lti_user_id': 'learner-1'}, limit=1)", 20000),
    "consent": ("privacy", "S = {'consent': {'analytics': False, 'ai_chat': True}}", "consent(S)", 50000),
    # C-accelerated work (json, zlib, hashlib compiled to WebAssembly), beside the pure-Python loops.
    "export_page_encoding": ("backups.format", """
r = rng(1)
ROWS = [[f"id-{i:06d}", r.randint(0, 10**9), r.random(), "note " * r.randint(0, 20), None] for i in range(200)]
""", "sha256(gzip_bytes(encode_lines(ROWS)))", 100),
    # The export step's own work since SQLite builds the lines: REALs filled in, gzip, sha256.
    "export_page_filling": ("backups.format", """
r = rng(1)
LINES = ['["id-%06d",%d,\x1f,"%s",null]' % (i, r.randint(0, 10**9), "note " * r.randint(0, 20)) for i in range(200)]
ANSWER = [[200, 200, *LINES[:30]]] + [LINES[i:i + 32] for i in range(30, 200, 32)] + [[r.random() for _ in range(200)]]
""", "sha256(gzip_bytes(page_ndjson(ANSWER, 4000, 10**6)[0]))", 100),
    "frame_origins": ("lti.origins", "", "launch_origins(['https://canvas.test'], "
                      "{'return_url': 'https://canvas.example.edu/courses/1'}, {'canvas_api_domain': 'x.test'})",
                      10000),
}

_MEASURED: dict[str, dict] = {}


def _entries(quick: bool) -> list[dict]:
    # Calls per repetition: at least `number`, at least about 0.2 s (the driver's autorange),
    # in --quick too: a short repetition measures the timer, not the function.
    return [{"name": name, "module": module, "setup": setup, "call": call, "number": number}
            for name, (module, setup, call, number) in HOT_FUNCTIONS.items()]


def measure(run: BenchRun) -> dict:
    """{name: {cpython_s, pyodide_s, ratio}} and the factor; measured once per process."""
    if "result" in _MEASURED:
        return _MEASURED["result"]
    from devhost.pyodide import harness

    repeat = run.pick(5, 3)
    entries = _entries(run.quick)
    base = {"modules": {}, "allowed_packages": [], "probes": [], "bench": entries, "repeat": repeat}
    run.log(f"pyodide: {len(entries)} hot functions, {repeat} repetitions per side (Pyodide in Node, then CPython)")
    pyodide = harness.run_pyodide(harness.DRIVER, {**base, "src": harness.PYODIDE_SRC, "path": [harness.PYODIDE_SITE]})
    cpython = harness.run_cpython(harness.DRIVER, {**base, "src": str(harness.SRC), "path": []})
    per = {name: {"cpython_s": cpython["bench"][name], "pyodide_s": pyodide["bench"][name],
                  "ratio": pyodide["bench"][name] / cpython["bench"][name]} for name in HOT_FUNCTIONS}
    factor_name = max(per, key=lambda n: per[n]["ratio"])
    result = {"per": per, "factor": per[factor_name]["ratio"], "factor_from": factor_name,
              "python": {"cpython": cpython["python"], "pyodide": pyodide["python"]}}
    _MEASURED["result"] = result
    return result


def measured_factor(run: BenchRun) -> float:
    """The CPython -> Pyodide slowdown to multiply CPython CPU figures by: the largest
    ratio measured over the hot functions (measured now if this run has not yet)."""
    return measure(run)["factor"]


@group("pyodide")
def pyodide(run: BenchRun) -> list[tuple[str, float]]:
    result = measure(run)
    out: list[tuple[str, float]] = []
    for name, fig in result["per"].items():
        out += [(f"pyodide_{name}_cpython_us", fig["cpython_s"] * 1e6),
                (f"pyodide_{name}_pyodide_us", fig["pyodide_s"] * 1e6),
                (f"pyodide_{name}_ratio", fig["ratio"])]
    run.log(f"pyodide: factor {result['factor']:.2f} from {result['factor_from']} "
            f"(CPython {result['python']['cpython']}, Pyodide's Python {result['python']['pyodide']})")
    out.append(("pyodide_factor", result["factor"]))
    return out
