"""lti: LTI 1.3 launch validation (this tool's lti.launch against PyLTI1p3's MessageLaunch
on the very same RS256 id_token and public key), and the CPU time of a whole
POST /lti/launch through the app against the Worker's limits.cpu_ms.

Validation (ops/s; one op per launch, sides interleaved, median over repetitions):
  this tool   peek(token) + validate_id_token(token, login, reg, jwk): base64/JSON of the
              header and payload, the platform's JWK dict -> RSA key (RSAAlgorithm.from_jwk),
              PyJWT RS256 signature check, exp/iat/iss/aud/azp/nonce-hash/deployment/
              message_type/version/sub/roles/target_link_uri/resource_link/context checks,
              the LaunchClaims pydantic model.
  PyLTI1p3    a MessageLaunch per op (as per launch in its framework adapters; the
              requests.Session it would otherwise build is passed in, built once), then
              validate_jwt_format, validate_nonce (nonce saved in the session, as its OIDC
              login does), validate_registration (ToolConfDict, static "key_set" JWKS),
              validate_jwt_signature (JWKS -> jwcrypto JWK -> PEM -> PyJWT RS256 decode,
              which also checks exp/iat/nbf), validate_deployment, validate_message.
              validate_state (its cookie/state check) and save_launch_data are left out:
              the state handling on this tool's side is outside validate_id_token too.
  Outside the clock on both sides: signing the token, the login record / session, the
  Registration / ToolConfDict, the request and cookie stand-ins.

Launch CPU: a real GET /lti/login (state in the OIDC_STATE Durable Object, nonce from the
redirect), an id_token signed like devhost/demo_lms.py does, then POST /lti/launch with
the state cookie (303) and the GET /app page it leads to; time.process_time() (process
CPU, not wall) around the local host's handling of those two requests, which runs the
deploy path: entry.Default.fetch, the SDK's ASGI bridge, the app. The platform JWKS is
pre-seeded in the KEY_SETS KV cache and the outbound HTTP transport refuses every call,
so there is no network on the hot path. Users are returning ones (a pool of subs created
during warm-up): state consume, registration from KV, JWK from KV, validation, profile
ensure (SELECT), session INSERT, KV writes, session token, page.
  launch_cpu_*            all CPU of the process while handling the requests: the
                          Worker's and the local platform's (SQLite under D1/KV, the
                          Durable Object) - conservative
  launch_worker_cpu_*     without the platform's side of binding calls (PLATFORM_CPU in
                          devhost/runtime/platform.py: local D1/KV/R2 work and whole DO
                          calls, which on Cloudflare run outside the Worker's isolate).
                          Still counted: app, SDK, conversions and the JS objects that
                          devhost renders in Python (V8 does them faster on Cloudflare)
  launch_worker_cpu_p99_at_pyodide_ms = that p99 x pyodide_factor, the CPython ->
                          Pyodide slowdown measured by the `pyodide` group in this run
                          (the largest ratio over the hot pure functions)
  launch_cpu_cap_headroom_ratio = limits.cpu_ms / launch_worker_cpu_p99_at_pyodide_ms
                          (>= 3 is the target); launch_cpu_budget_ratio_at_pyodide_factor
                          = whole-process p99 x factor / limits.cpu_ms (< 1: inside)
  *_d1_round_trips        D1 calls per request (median), counted at the local binding
The same figures for a warm GET /api/profile with the session token the page carries."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from urllib.parse import parse_qs, urlsplit

from bench import BenchRun, group
from bench.stats import median, percentile, ratio, settle

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
ISSUER = "https://canvas.bench.test"
CLIENT_ID = "10000000000001"
DEPLOYMENT_ID = "1:bench"
KID = "platform-key-1"
TOOL = "https://tool.bench.test"
UNREACHABLE_JWKS = "http://127.0.0.1:9/api/lti/security/jwks"  # discard port; never fetched
DEFAULT_CPU_MS = 50


class BenchPlatform:
    """The signing half of devhost/demo_lms.py: an RSA key, its public JWK, id_tokens."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def public_jwk(self) -> dict:
        from jwt.algorithms import RSAAlgorithm

        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {**jwk, "kid": KID, "alg": "RS256", "use": "sig"}

    def claims(self, nonce: str, sub: str = "user-1", target: str = TOOL + "/lti/launch") -> dict:
        now = int(time.time())
        return {
            "iss": ISSUER, "aud": CLIENT_ID, "iat": now, "exp": now + 3600, "nonce": nonce,
            "sub": sub, "name": "Ada Lovelace",
            LTI + "deployment_id": DEPLOYMENT_ID, LTI + "message_type": "LtiResourceLinkRequest",
            LTI + "version": "1.3.0", LTI + "roles": [LEARNER], LTI + "target_link_uri": target,
            LTI + "context": {"id": "course-1", "title": "Algebra I"},
            LTI + "resource_link": {"id": "rl-1"},
            "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
                "scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                          "https://purl.imsglobal.org/spec/lti-ags/scope/score"],
                "lineitems": ISSUER + "/api/lti/courses/1/line_items"},
            "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
                "context_memberships_url": ISSUER + "/api/lti/courses/1/names_and_roles",
                "service_versions": ["2.0"]},
        }

    def sign(self, claims: dict) -> str:
        import jwt

        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": KID})


def tampered(token: str) -> str:
    head, body, sig = token.split(".")
    return f"{head}.{body}.{sig[:10]}{'A' if sig[10] != 'A' else 'B'}{sig[11:]}"


# -- PyLTI1p3 ------------------------------------------------------------------------------

def pylti1p3_validator(platform: BenchPlatform, token: str, nonce: str):
    """A function validating `token` through PyLTI1p3's MessageLaunch steps."""
    import requests
    from pylti1p3.cookie import CookieService
    from pylti1p3.message_launch import MessageLaunch
    from pylti1p3.request import Request
    from pylti1p3.session import SessionService
    from pylti1p3.tool_config import ToolConfDict

    class BenchRequest(Request):
        def __init__(self, params: dict, session: dict) -> None:
            self._params = params
            self._session = session

        @property
        def session(self):
            return self._session

        def is_secure(self) -> bool:
            return True

        def get_param(self, key: str) -> str:
            return self._params.get(key)

    class BenchCookies(CookieService):
        def __init__(self, cookies: dict) -> None:
            self._cookies = cookies

        def get_cookie(self, name):
            return self._cookies.get(name)

        def set_cookie(self, name, value, exp=3600):
            self._cookies[name] = value

    class BenchMessageLaunch(MessageLaunch):
        def _get_request_param(self, key: str) -> str:
            return self._request.get_param(key)

    tool_conf = ToolConfDict({ISSUER: {
        "default": True, "client_id": CLIENT_ID,
        "auth_login_url": ISSUER + "/api/lti/authorize_redirect",
        "auth_token_url": ISSUER + "/login/oauth2/token",
        "key_set_url": None, "key_set": {"keys": [platform.public_jwk()]},
        "deployment_ids": [DEPLOYMENT_ID]}})
    state = "state-" + secrets.token_urlsafe(16)
    session = {"lti1p3-nonce-" + nonce: True}  # what its OIDC login saved
    http = requests.Session()

    def validate(id_token: str = token):
        request = BenchRequest({"id_token": id_token, "state": state}, session)
        launch = BenchMessageLaunch(request, tool_conf, session_service=SessionService(request),
                                    cookie_service=BenchCookies({}), requests_session=http)
        launch.set_auto_validation(False)
        (launch.validate_jwt_format().validate_nonce().validate_registration().validate_jwt_signature()
         .validate_deployment().validate_message())
        return launch._jwt["body"]

    return validate


# -- the group -----------------------------------------------------------------------------

@group("lti")
async def lti(run: BenchRun) -> list[tuple[str, float]]:
    from pylti1p3.exception import LtiException

    from lti.launch import LaunchError, peek, validate_id_token
    from lti.registration import Registration

    platform = BenchPlatform()
    jwk = platform.public_jwk()
    out: list[tuple[str, float]] = []

    # -- 1. validation: this tool vs PyLTI1p3 on one token ---------------------------------
    reps = run.pick(7, 3)
    n = run.pick(600, 150)
    nonce = secrets.token_urlsafe(32)
    token = platform.sign(platform.claims(nonce))
    login = {"issuer": ISSUER, "client_id": CLIENT_ID, "target_link_uri": TOOL + "/lti/launch",
             "nonce_hash": hashlib.sha256(nonce.encode()).hexdigest(), "storage_target": None,
             "platform_origin": ISSUER}
    reg = Registration(tenant_id="b0000000-0000-4000-8000-000000000001", platform_id="p-1", issuer=ISSUER,
                       client_id=CLIENT_ID, deployment_ids=[DEPLOYMENT_ID],
                       auth_login_url=ISSUER + "/api/lti/authorize_redirect",
                       auth_token_url=ISSUER + "/login/oauth2/token", key_set_url=UNREACHABLE_JWKS)

    def ours(id_token: str = token):
        head = peek(id_token)
        assert head.header["kid"] == KID
        return validate_id_token(id_token, login, reg, jwk, time.time())

    theirs = pylti1p3_validator(platform, token, nonce)

    # Both sides accept the token, and both refuse it with one signature byte changed.
    assert ours().sub == "user-1" and theirs()["sub"] == "user-1"
    bad = tampered(token)
    for side, fn, exc in (("this tool", ours, LaunchError), ("PyLTI1p3", theirs, LtiException)):
        try:
            fn(bad)
        except exc:
            pass
        else:
            raise AssertionError(f"{side} accepted an id_token with a bad signature")

    clock = time.perf_counter

    def ops_per_s(fn) -> float:
        settle()
        started = clock()
        for _ in range(n):
            fn()
        return n / (clock() - started)

    for fn in (ours, theirs):  # warm-up
        for _ in range(max(20, n // 10)):
            fn()
    rates: dict[str, list[float]] = {"ours": [], "theirs": []}
    for rep in range(reps):
        order = [("ours", ours), ("theirs", theirs)]
        for name, fn in (order if rep % 2 == 0 else order[::-1]):
            rates[name].append(ops_per_s(fn))
    run.log(f"lti validation: {reps} reps of {n} validations per side")
    ours_ops, theirs_ops = median(rates["ours"]), median(rates["theirs"])
    out += [
        ("launch_validation_ops_per_s", ours_ops),
        ("pylti1p3_validation_ops_per_s", theirs_ops),
        ("launch_validation_vs_pylti1p3_ratio", ratio(ours_ops, theirs_ops)),
    ]

    # -- 2. CPU per full launch through the app ------------------------------------------
    out += await launch_cpu(run, platform, jwk)
    return out


async def launch_cpu(run: BenchRun, platform: BenchPlatform, jwk: dict) -> list[tuple[str, float]]:
    import httpx

    from bench.fixture import quiet_data_layer_log
    from bench.pyodide import measured_factor
    from devhost.__main__ import new_tool_key_set
    from devhost.host import LocalHost
    from devhost.runtime.platform import PLATFORM_CPU
    from lti import http as lti_http
    from lti.launch import _iss_hash
    from resilience.gateway import reset as gateway_reset

    factor = measured_factor(run)
    reps = run.pick(5, 3)
    per_rep = run.pick(120, 30)
    users = run.pick(40, 15)

    # A fresh isolate: no breaker state left by an earlier group (resilience opens it).
    gateway_reset()
    quiet_data_layer_log()
    admin_secret = secrets.token_urlsafe(48)
    host = LocalHost(run.root, state_root=run.tmpdir("lti-state"),
                     dev_vars={"SESSION_SIGNING_KEY": secrets.token_urlsafe(48), "ADMIN_API_SECRET": admin_secret,
                               "TOOL_PRIVATE_KEYS": new_tool_key_set(), "ALLOW_HTTP_LOOPBACK": "true"})
    host.migrate()
    await host.start()
    # One client launching thousands of times is the bench, not an attack: the limiters
    # still run on every launch (their cost is measured) but never refuse.
    for limiter in host.ratelimits.values():
        limiter.limit_value = 10**9
    cpu_cap = getattr(host.config, "cpu_ms", None) or DEFAULT_CPU_MS

    outbound: list[str] = []

    async def no_network(method, url, headers, body, timeout_s):
        outbound.append(url)
        raise lti_http.HttpError(f"bench: no network on the launch path ({method} {url})")

    saved_transport = lti_http._transport
    lti_http.install(no_network)

    timing = {"cpu": 0.0, "wall": 0.0, "platform": 0.0, "trips": 0, "on": False}

    def trips() -> int:
        return sum(d1.round_trips for d1 in host.d1.values())

    async def timed_app(scope, receive, send):
        if not timing["on"]:
            await host(scope, receive, send)
            return
        wall0, cpu0, plat0, trips0 = time.perf_counter(), time.process_time(), PLATFORM_CPU.total_s, trips()
        await host(scope, receive, send)
        timing["cpu"] = time.process_time() - cpu0
        timing["wall"] = time.perf_counter() - wall0
        timing["platform"] = PLATFORM_CPU.total_s - plat0
        timing["trips"] = trips() - trips0

    transport = httpx.ASGITransport(app=timed_app, raise_app_exceptions=True)
    samples: dict[str, list] = {k: [] for k in ("cpu", "worker", "wall", "post_trips", "page_trips",
                                               "api_cpu", "api_worker", "api_trips")}
    try:
        async with httpx.AsyncClient(transport=transport, base_url=TOOL) as client:
            r = await client.post("/admin/platforms", headers={"Authorization": f"Bearer {admin_secret}"},
                                  json={"tenant_name": "Bench Platform U", "issuer": ISSUER, "client_id": CLIENT_ID,
                                        "deployment_ids": [DEPLOYMENT_ID],
                                        "auth_login_url": ISSUER + "/api/lti/authorize_redirect",
                                        "auth_token_url": ISSUER + "/login/oauth2/token",
                                        "key_set_url": UNREACHABLE_JWKS})
            assert r.status_code == 201, r.text
            kv_key = f"jwk:{_iss_hash(ISSUER)}:{hashlib.sha256(KID.encode()).hexdigest()[:32]}"
            public = {k: jwk[k] for k in ("kty", "n", "e", "kid", "alg", "use") if k in jwk}
            await host.env.KEY_SETS.put(kv_key, json.dumps(public), expirationTtl=24 * 3600)
            login_params = {"iss": ISSUER, "login_hint": "hint-1", "target_link_uri": TOOL + "/lti/launch",
                            "client_id": CLIENT_ID, "lti_deployment_id": DEPLOYMENT_ID,
                            "lti_message_hint": "msg-1"}
            counter = {"i": 0}

            async def timed(request):
                timing["on"] = True
                try:
                    response = await request
                finally:
                    timing["on"] = False
                return response, dict(timing)

            async def one_launch(record: bool) -> str:
                r = await client.get("/lti/login", params=login_params)
                assert r.status_code == 302, r.text
                q = parse_qs(urlsplit(r.headers["location"]).query)
                state, nonce = q["state"][0], q["nonce"][0]
                cookie = r.headers["set-cookie"].split(";")[0]
                sub = f"bench-user-{counter['i'] % users:03d}"
                counter["i"] += 1
                id_token = platform.sign(platform.claims(nonce, sub=sub))
                # A launch as the learner lives it: the form post (303) and the page it leads to.
                r, post = await timed(client.post("/lti/launch", data={"id_token": id_token, "state": state},
                                                  headers={"Cookie": cookie}))
                if r.status_code != 303 or "notice=" in r.headers.get("location", ""):
                    raise RuntimeError(f"launch failed: HTTP {r.status_code}: {r.text[:500]}")
                page, got = await timed(client.get(r.headers["location"]))
                if page.status_code != 200 or 'id="landing"' not in page.text:
                    raise RuntimeError(f"landing failed: HTTP {page.status_code}: {page.text[:500]}")
                if record:
                    cpu = post["cpu"] + got["cpu"]
                    samples["cpu"].append(cpu * 1e3)
                    samples["worker"].append((cpu - post["platform"] - got["platform"]) * 1e3)
                    samples["wall"].append((post["wall"] + got["wall"]) * 1e3)
                    samples["post_trips"].append(post["trips"])
                    samples["page_trips"].append(got["trips"])
                config = re.search(r'<script type="application/json" id="ag-config">(.*?)</script>', page.text, re.S)
                return json.loads(config.group(1))["token"]

            for _ in range(users):  # warm-up: creates every user's profile
                token = await one_launch(False)
            cpu50, cpu99, worker50, worker99, wall50 = [], [], [], [], []
            for _ in range(reps):
                for k in ("cpu", "worker", "wall"):
                    samples[k].clear()
                settle()
                for _ in range(per_rep):
                    token = await one_launch(True)
                cpu50.append(percentile(samples["cpu"], 50))
                cpu99.append(percentile(samples["cpu"], 99))
                worker50.append(percentile(samples["worker"], 50))
                worker99.append(percentile(samples["worker"], 99))
                wall50.append(percentile(samples["wall"], 50))
            # The common API request: a learner's own profile, with the page's session token.
            headers = {"Authorization": f"Bearer {token}"}
            await client.get("/api/profile", headers=headers)  # the isolate's tenant copy is warm
            for _ in range(per_rep):
                r, got = await timed(client.get("/api/profile", headers=headers))
                assert r.status_code == 200, r.text
                samples["api_cpu"].append(got["cpu"] * 1e3)
                samples["api_worker"].append((got["cpu"] - got["platform"]) * 1e3)
                samples["api_trips"].append(got["trips"])
            assert not outbound, f"the launch path made network calls: {outbound}"
            run.log(f"lti launch: {reps} reps of {per_rep} launches ({users} returning users); "
                    f"cpu cap {cpu_cap} ms, measured Pyodide factor x{factor:.2f} (pyodide group)")
    finally:
        lti_http.install(saved_transport)
        await host.aclose()
        gateway_reset()

    p50, p99 = median(cpu50), median(cpu99)
    w50, w99 = median(worker50), median(worker99)
    api99 = percentile(samples["api_worker"], 99)
    return [
        ("launch_cpu_p50_ms", p50),
        ("launch_cpu_p99_ms", p99),
        ("launch_worker_cpu_p50_ms", w50),
        ("launch_worker_cpu_p99_ms", w99),
        ("launch_pyodide_factor", factor),
        ("launch_worker_cpu_p99_at_pyodide_ms", w99 * factor),
        ("launch_cpu_cap_headroom_ratio", cpu_cap / (w99 * factor)),
        ("launch_cpu_budget_ratio_at_pyodide_factor", p99 * factor / cpu_cap),
        ("launch_wall_p50_ms", median(wall50)),
        ("launch_post_d1_round_trips", median(samples["post_trips"])),
        ("launch_page_d1_round_trips", median(samples["page_trips"])),
        ("api_profile_cpu_p50_ms", percentile(samples["api_cpu"], 50)),
        ("api_profile_worker_cpu_p99_ms", api99),
        ("api_profile_cpu_cap_headroom_ratio", cpu_cap / (api99 * factor)),
        ("api_profile_d1_round_trips", median(samples["api_trips"])),
    ]
