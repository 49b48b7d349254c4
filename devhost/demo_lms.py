"""A small LMS that behaves like Canvas over HTTP, for the local host's demo course and
for the tests. A FAKE of Canvas, on purpose (Canvas cannot run here), but a real LTI 1.3
platform: its own RSA key and JWKS, the OIDC authorization endpoint (answers with an
auto-submitting form_post of a signed id_token), the OAuth2 token endpoint (verifies the
tool's client assertion against the tool's JWKS), AGS line items and scores, NRPS
memberships with Link pagination, Deep Linking returns (the items become module items
of the course), Dynamic Registration, and course pages that frame the tool the way
Canvas does (a cross-site iframe).

On the local host it is mounted under /__lms and reached as http://localhost:PORT while
the tool is http://127.0.0.1:PORT, so the tool really runs in a third-party iframe."""

from __future__ import annotations

import json
import secrets
import time
from html import escape
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
COURSE_ID = "demo-course-1"
COURSE_TITLE = "Algebra I (demo)"

# The demo course's people: login_hint -> who they are.
PEOPLE = {
    "ada": {"sub": "demo-ada", "name": "Ada Lovelace", "roles": [LEARNER]},
    "alan": {"sub": "demo-alan", "name": "Alan Turing", "roles": [LEARNER]},
    "katherine": {"sub": "demo-katherine", "name": "Katherine Johnson", "roles": [LEARNER]},
    "grace": {"sub": "demo-grace", "name": "Grace Hopper", "roles": [INSTRUCTOR]},
}
# /course?as=... -> (person, message type)
VIEWS = {"learner": ("ada", "LtiResourceLinkRequest"), "instructor": ("grace", "LtiResourceLinkRequest"),
         "designer": ("grace", "LtiDeepLinkingRequest")}


class _Drop:
    pass


DROP = _Drop()


class DemoLMS:
    def __init__(self, client_id: str = "10000000000001", deployment_id: str = "1:abc",
                 state_path: Path | None = None, course_id: str = "course-1", course_title: str = "Algebra I",
                 members: list[dict] | None = None) -> None:
        self.client_id = client_id
        self.deployment_id = deployment_id
        self.course_id = course_id
        self.course_title = course_title
        self.state_path = Path(state_path) if state_path else None
        self.key = self._load_key()
        self.kid = "platform-key-1"
        self.url = ""  # where it is served (set by whoever serves it)
        self.tool_url = ""
        # Knobs the tests turn.
        self.jwks_mode = "ok"  # ok | down | notjson | slow
        self.jwks_override: list[dict] | None = None  # keys to publish instead of its own
        self.fail_scores_first = 0  # answer 429 to this many score posts first
        self.next_user = {"sub": "user-1", "name": "Ada Lovelace", "roles": [LEARNER],
                          "message_type": "LtiResourceLinkRequest"}
        self.claim_overrides: dict = {}
        self.page_size = 3
        # What happened.
        self.jwks_fetches = 0
        self.token_requests = 0
        self.deep_link_returns: list[dict] = []
        self.registrations: list[dict] = []
        self.members = members if members is not None else [
            {"user_id": f"user-{i}", "name": f"Student {i}", "roles": [LEARNER], "status": "Active"} for i in range(7)]
        state = self._load_state()
        self.line_items: dict[str, dict] = state.get("line_items", {})
        self.scores: list[dict] = state.get("scores", [])
        self.modules: list[dict] = state.get("modules", [])
        self.app = Starlette(routes=[
            Route("/api/lti/security/jwks", self.jwks),
            Route("/api/lti/authorize_redirect", self.authorize, methods=["GET", "POST"]),
            Route("/login/oauth2/token", self.token, methods=["POST"]),
            Route("/api/lti/courses/1/line_items", self.line_items_route, methods=["GET", "POST"]),
            Route("/api/lti/courses/1/line_items/{item}/scores", self.score_route, methods=["POST"]),
            Route("/api/lti/courses/1/names_and_roles", self.nrps),
            Route("/deep_link_return", self.deep_link_return, methods=["POST"]),
            Route("/.well-known/openid-configuration", self.openid_configuration),
            Route("/register", self.register, methods=["POST"]),
            Route("/canvas", self.canvas_page),
            Route("/course", self.course_page),
            Route("/grades", self.grades_page),
            Route("/", lambda request: RedirectResponse(self.url + "/course?as=learner")),
        ])

    # -- persistence (local host only) ---------------------------------------------------

    def _load_key(self):
        if self.state_path and (self.state_path / "demo-lms-key.pem").exists():
            return serialization.load_pem_private_key((self.state_path / "demo-lms-key.pem").read_bytes(), None)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if self.state_path:
            # Kept across restarts: the tool caches this platform's key by kid.
            self.state_path.mkdir(parents=True, exist_ok=True)
            (self.state_path / "demo-lms-key.pem").write_bytes(key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        return key

    def _load_state(self) -> dict:
        if self.state_path and (self.state_path / "demo-lms.json").exists():
            return json.loads((self.state_path / "demo-lms.json").read_text())
        return {}

    def _save(self) -> None:
        if self.state_path:
            (self.state_path / "demo-lms.json").write_text(json.dumps(
                {"line_items": self.line_items, "scores": self.scores, "modules": self.modules}, indent=1))

    @property
    def issuer(self) -> str:
        return self.url

    def endpoints(self) -> dict:
        return {"issuer": self.issuer, "auth_login_url": self.url + "/api/lti/authorize_redirect",
                "auth_token_url": self.url + "/login/oauth2/token",
                "key_set_url": self.url + "/api/lti/security/jwks"}

    # -- tokens -------------------------------------------------------------------------

    def public_jwk(self) -> dict:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}

    def claims(self, nonce_value: str, /, user: dict | None = None, resource_link: str = "rl-1",
               custom: dict | None = None, **overrides) -> dict:
        now = int(time.time())
        user = dict(user or self.next_user)
        message_type = user.pop("message_type", "LtiResourceLinkRequest")
        claims = {
            "iss": self.issuer, "aud": self.client_id, "iat": now, "exp": now + 300, "nonce": nonce_value,
            "sub": user["sub"], "name": user.get("name", "Ada Lovelace"),
            LTI + "deployment_id": self.deployment_id, LTI + "message_type": message_type, LTI + "version": "1.3.0",
            LTI + "roles": user["roles"], LTI + "target_link_uri": self.tool_url + "/lti/launch",
            LTI + "context": {"id": self.course_id, "title": self.course_title},
            LTI + "resource_link": {"id": resource_link},
            LTI + "launch_presentation": {"document_target": "iframe", "return_url": self.url + "/course"},
            "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
                "scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                          "https://purl.imsglobal.org/spec/lti-ags/scope/score"],
                "lineitems": self.url + "/api/lti/courses/1/line_items"},
            "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
                "context_memberships_url": self.url + "/api/lti/courses/1/names_and_roles",
                "service_versions": ["2.0"]},
        }
        if custom:
            claims[LTI + "custom"] = custom
        if message_type == "LtiDeepLinkingRequest":
            claims.pop(LTI + "resource_link")
            claims[DL_CLAIM + "deep_linking_settings"] = {
                "deep_link_return_url": self.url + "/deep_link_return", "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"], "accept_multiple": True,
                "data": "opaque-platform-data"}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not DROP}

    def sign(self, claims: dict, alg: str = "RS256", kid: str | None = "default", key=None) -> str:
        headers = {} if kid is None else {"kid": self.kid if kid == "default" else kid}
        return jwt.encode(claims, key or self.key, algorithm=alg, headers=headers)

    def login_url(self, person: str, message_type: str, resource_link: str = "rl-course-nav") -> str:
        """Where Canvas sends the browser to start a launch (the tool's OIDC login)."""
        return self.tool_url + "/lti/login?" + urlencode({
            "iss": self.issuer, "login_hint": person, "target_link_uri": self.tool_url + "/lti/launch",
            "client_id": self.client_id, "lti_deployment_id": self.deployment_id,
            "lti_message_hint": json.dumps({"type": message_type, "link": resource_link})})

    # -- endpoints -----------------------------------------------------------------------

    async def jwks(self, request: Request):
        self.jwks_fetches += 1
        if self.jwks_mode == "down":
            return Response("unavailable", status_code=503)
        if self.jwks_mode == "notjson":
            return Response("<html>not json</html>", media_type="text/html")
        if self.jwks_mode == "slow":
            import asyncio

            await asyncio.sleep(6)
        return JSONResponse({"keys": self.jwks_override if self.jwks_override is not None else [self.public_jwk()]})

    async def authorize(self, request: Request):
        params = dict(request.query_params)
        if request.method == "POST":
            params.update(dict(parse_qsl((await request.body()).decode())))
        for required in ("scope", "response_type", "response_mode", "prompt", "client_id", "redirect_uri",
                         "login_hint", "state", "nonce"):
            if not params.get(required):
                return Response(f"missing {required}", status_code=400)
        if (params["scope"], params["response_type"], params["response_mode"], params["prompt"]) != (
                "openid", "id_token", "form_post", "none"):
            return Response("bad OIDC parameters", status_code=400)
        if params["client_id"] != self.client_id:
            return Response("unknown client", status_code=400)
        person = PEOPLE.get(params["login_hint"])
        if person is not None:  # a launch from the demo course page
            try:
                hint = json.loads(params.get("lti_message_hint") or "{}")
            except json.JSONDecodeError:
                hint = {}
            user = {**person, "message_type": hint.get("type", "LtiResourceLinkRequest")}
            link = str(hint.get("link", "rl-course-nav"))
            item = next((m for m in self.modules if m["resource_link_id"] == link), None)
            claims = self.claims(params["nonce"], user=user, resource_link=link,
                                 custom=(item or {}).get("custom"))
        else:
            claims = self.claims(params["nonce"], **self.claim_overrides)
        fields = {"id_token": self.sign(claims), "state": params["state"]}
        inputs = "".join(f'<input type="hidden" name="{k}" value="{escape(v)}">' for k, v in fields.items())
        return HTMLResponse(f'<html><body><form id="f" method="post" action="{escape(params["redirect_uri"])}">'
                            f"{inputs}</form><script>document.getElementById('f').submit()</script></body></html>")

    async def token(self, request: Request):
        self.token_requests += 1
        form = dict(parse_qsl((await request.body()).decode()))
        if form.get("grant_type") != "client_credentials" or form.get("client_assertion_type") != \
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        assertion = form.get("client_assertion", "")
        async with httpx.AsyncClient() as client:
            tool_jwks = (await client.get(self.tool_url + "/.well-known/jwks.json")).json()
        kid = jwt.get_unverified_header(assertion).get("kid")
        jwk = next((k for k in tool_jwks["keys"] if k["kid"] == kid), None)
        if jwk is None:
            return JSONResponse({"error": "invalid_client", "error_description": "unknown kid"}, status_code=401)
        try:
            claims = jwt.decode(assertion, RSAAlgorithm.from_jwk(json.dumps(jwk)), algorithms=["RS256"],
                                audience=self.url + "/login/oauth2/token")
        except jwt.InvalidTokenError as exc:
            return JSONResponse({"error": "invalid_client", "error_description": str(exc)}, status_code=401)
        if claims.get("iss") != self.client_id or claims.get("sub") != self.client_id:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        return JSONResponse({"access_token": "tok-" + secrets.token_hex(8), "token_type": "Bearer",
                             "expires_in": 3600, "scope": form.get("scope", "")})

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization", "").startswith("Bearer tok-")

    def _new_line_item(self, body: dict) -> dict:
        item_id = f"{self.url}/api/lti/courses/1/line_items/{len(self.line_items) + 1}"
        self.line_items[item_id] = {**body, "id": item_id}
        self._save()
        return self.line_items[item_id]

    async def line_items_route(self, request: Request):
        if not self._authorized(request):
            return Response(status_code=401)
        if request.method == "GET":
            q = request.query_params
            items = [i for i in self.line_items.values()
                     if (not q.get("resource_link_id") or i.get("resourceLinkId") == q["resource_link_id"])
                     and (not q.get("tag") or i.get("tag") == q["tag"])]
            return JSONResponse(items, media_type="application/vnd.ims.lis.v2.lineitemcontainer+json")
        if request.headers.get("content-type") != "application/vnd.ims.lis.v2.lineitem+json":
            return Response("wrong media type", status_code=415)
        item = self._new_line_item(json.loads(await request.body()))
        return JSONResponse(item, status_code=201, media_type="application/vnd.ims.lis.v2.lineitem+json")

    async def score_route(self, request: Request):
        if not self._authorized(request):
            return Response(status_code=401)
        if request.headers.get("content-type") != "application/vnd.ims.lis.v1.score+json":
            return Response("wrong media type", status_code=415)
        if self.fail_scores_first > 0:
            self.fail_scores_first -= 1
            return Response("slow down", status_code=429, headers={"Retry-After": "0"})
        body = json.loads(await request.body())
        self.scores.append({"line_item": request.path_params["item"], **body})
        self._save()
        return Response(status_code=204)

    async def nrps(self, request: Request):
        if not self._authorized(request):
            return Response(status_code=401)
        members = self.members
        page = int(request.query_params.get("page", "1"))
        start = (page - 1) * self.page_size
        chunk = members[start:start + self.page_size]
        headers = {}
        if start + self.page_size < len(members):
            headers["Link"] = f'<{self.url}/api/lti/courses/1/names_and_roles?page={page + 1}>; rel="next"'
        return JSONResponse({"id": request.url.path, "context": {"id": self.course_id}, "members": chunk},
                            headers=headers, media_type="application/vnd.ims.lti-nrps.v2.membershipcontainer+json")

    async def deep_link_return(self, request: Request):
        form = dict(parse_qsl((await request.body()).decode()))
        token = form.get("JWT", "")
        async with httpx.AsyncClient() as client:
            tool_jwks = (await client.get(self.tool_url + "/.well-known/jwks.json")).json()
        kid = jwt.get_unverified_header(token)["kid"]
        jwk = next(k for k in tool_jwks["keys"] if k["kid"] == kid)
        claims = jwt.decode(token, RSAAlgorithm.from_jwk(json.dumps(jwk)), algorithms=["RS256"],
                            audience=self.issuer)
        self.deep_link_returns.append(claims)
        added = []
        for item in claims.get(DL_CLAIM + "content_items", []):
            link = f"rl-{len(self.modules) + 1}"
            module = {"title": item.get("title", "Atomic Guide"), "resource_link_id": link,
                      "custom": item.get("custom") or {}}
            if item.get("lineItem"):  # Canvas makes an assignment (a gradebook column) for it
                self._new_line_item({**item["lineItem"], "resourceLinkId": link})
                module["graded"] = True
            self.modules.append(module)
            added.append(module)
        self._save()
        listing = "".join(f"<li>{escape(m['title'])}</li>" for m in added)
        return HTMLResponse(f"<html><body id='dl-done'><h1>Content added</h1><ul>{listing}</ul>"
                            f"<p><a href='{escape(self.url)}/course?as=instructor' target='_top'>Back to the course"
                            "</a></p></body></html>")

    async def openid_configuration(self, request: Request):
        return JSONResponse({
            "issuer": self.issuer, "authorization_endpoint": self.url + "/api/lti/authorize_redirect",
            "token_endpoint": self.url + "/login/oauth2/token", "jwks_uri": self.url + "/api/lti/security/jwks",
            "registration_endpoint": self.url + "/register",
            "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                "product_family_code": "canvas", "https://canvas.instructure.com/lti/account_name": "Demo Account"}})

    async def register(self, request: Request):
        if request.headers.get("authorization") != "Bearer reg-token-1":
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        body = json.loads(await request.body())
        self.registrations.append(body)
        n = len(self.registrations)
        return JSONResponse({**body, "client_id": f"dyn-client-{n}",
                             "https://purl.imsglobal.org/spec/lti-tool-configuration": {
                                 **body["https://purl.imsglobal.org/spec/lti-tool-configuration"],
                                 "deployment_id": f"dyn-deployment-{n}"}}, status_code=201)

    async def canvas_page(self, request: Request):
        """Any URL in a cross-origin iframe, as Canvas frames tools."""
        src = request.query_params["src"]
        return HTMLResponse(f'<html><body><h1>Canvas course</h1><iframe id="tool" name="tool" '
                            f'src="{escape(src)}" width="900" height="600" '
                            'allow="clipboard-write"></iframe></body></html>')

    async def course_page(self, request: Request):
        view = request.query_params.get("as", "learner")
        if view not in VIEWS:
            return Response("unknown view", status_code=400)
        person, message_type = VIEWS[view]
        link = request.query_params.get("link", "rl-course-nav")
        src = self.login_url(person, message_type, link)
        nav = "".join(f'<li><a href="{escape(self.url)}/course?as={v}"{" aria-current=page" if v == view else ""}>'
                      f"{label}</a></li>" for v, label in (("learner", "Ada (learner)"),
                                                           ("instructor", "Grace (instructor)"),
                                                           ("designer", "Add an activity")))
        modules = "".join(
            f'<li><a href="{escape(self.url)}/course?as={"instructor" if view != "learner" else "learner"}&amp;'
            f'link={escape(m["resource_link_id"])}">{escape(m["title"])}</a>{" (graded)" if m.get("graded") else ""}'
            "</li>" for m in self.modules) or "<li>No items yet: use “Add an activity”.</li>"
        who = PEOPLE[person]["name"]
        return HTMLResponse(f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{escape(self.course_title)} · Demo LMS</title>
<style>body{{margin:0;font-family:system-ui,sans-serif;display:grid;grid-template-columns:14rem 1fr;min-height:100vh}}
aside{{background:#2d3b45;color:#fff;padding:1rem}} aside a{{color:#fff}} aside ul{{padding-left:1rem}}
main{{padding:1rem}} iframe{{width:100%;height:80vh;border:1px solid #c7cdd1}}
header{{font-size:.9rem;color:#555;margin-bottom:.5rem}}
@media (max-width:40rem){{body{{grid-template-columns:1fr}} iframe{{height:90vh}}}}</style></head>
<body><aside><h1 style="font-size:1.1rem">{escape(self.course_title)}</h1><p>Demo LMS (a stand-in for Canvas)</p>
<h2 style="font-size:1rem">View as</h2><ul>{nav}</ul><h2 style="font-size:1rem">Modules</h2><ul>{modules}</ul>
<p><a href="{escape(self.url)}/grades">Gradebook</a></p></aside>
<main><header>Signed in as {escape(who)} · Atomic Guide (LTI 1.3 tool)</header>
<iframe id="tool" name="tool" title="Atomic Guide" src="{escape(src)}" allow="clipboard-write"></iframe></main>
</body></html>""")

    async def grades_page(self, request: Request):
        people = {p["sub"]: p["name"] for p in PEOPLE.values()}
        items = list(self.line_items.values())
        head = "".join(f"<th>{escape(i.get('label', i['id']))}</th>" for i in items)
        rows = ""
        for sub, name in people.items():
            cells = ""
            for i in items:
                got = [s for s in self.scores if s["userId"] == sub and i["id"].endswith("/" + s["line_item"])]
                cells += f"<td>{escape(str(got[-1]['scoreGiven'])) if got else '–'}</td>"
            rows += f"<tr><th>{escape(name)}</th>{cells}</tr>"
        return HTMLResponse(f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Gradebook</title>"
                            "</head><body><h1>Gradebook</h1><table border='1'><thead><tr><th>Learner</th>"
                            f"{head}</tr></thead><tbody>{rows}</tbody></table>"
                            f"<p><a href='{escape(self.url)}/course?as=instructor'>Back to the course</a></p>"
                            "</body></html>")


def demo_course(state_path: Path) -> DemoLMS:
    """The local host's demo course (persistent key, modules and gradebook)."""
    return DemoLMS(client_id="demo-client", deployment_id="demo-deployment", state_path=state_path,
                   course_id=COURSE_ID, course_title=COURSE_TITLE,
                   members=[{"user_id": p["sub"], "name": p["name"], "roles": p["roles"], "status": "Active"}
                            for p in PEOPLE.values()])


def serve(platform: DemoLMS, server_cls, host: str = "127.0.0.1"):
    """Starts the platform with the tests' loopback server class; returns the server."""
    server = server_cls(platform.app)
    if host != "127.0.0.1":
        server.url = server.url.replace("127.0.0.1", host)
    platform.url = server.url
    return server
