"""A test platform that behaves like Canvas over HTTP on loopback: its own RSA key and
JWKS, the OIDC authorization endpoint (answers with an auto-submitting form_post of the
id_token), the OAuth2 token endpoint (verifies the tool's signed client assertion against
the tool's JWKS), AGS line items and scores, NRPS memberships with Link pagination, and
Dynamic Registration. A fake of Canvas, on purpose: Canvas cannot run here."""

from __future__ import annotations

import json
import secrets
import threading
import time
from html import escape
from urllib.parse import parse_qsl, urlencode

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


class Platform:
    def __init__(self, client_id: str = "10000000000001", deployment_id: str = "1:abc") -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "platform-key-1"
        self.client_id = client_id
        self.deployment_id = deployment_id
        self.url = ""  # set when served
        self.tool_url = ""
        self.jwks_mode = "ok"  # ok | down | notjson | slow
        self.jwks_fetches = 0
        self.token_requests = 0
        self.fail_scores_first = 0  # answer 429 to this many score posts first
        self.line_items: dict[str, dict] = {}
        self.scores: list[dict] = []
        self.members = [{"user_id": f"user-{i}", "name": f"Student {i}", "roles": [LEARNER], "status": "Active"}
                        for i in range(7)]
        self.page_size = 3
        self.next_user = {"sub": "user-1", "roles": [LEARNER], "message_type": "LtiResourceLinkRequest"}
        self.claim_overrides: dict = {}
        self.deep_link_returns: list[dict] = []
        self.registrations: list[dict] = []
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
        ])

    @property
    def issuer(self) -> str:
        return self.url

    # -- tokens -------------------------------------------------------------------------

    def public_jwk(self) -> dict:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}

    def claims(self, nonce_value: str, /, **overrides) -> dict:
        now = int(time.time())
        user = dict(self.next_user)
        message_type = user.pop("message_type")
        claims = {
            "iss": self.issuer, "aud": self.client_id, "iat": now, "exp": now + 300, "nonce": nonce_value,
            "sub": user["sub"], "name": "Ada Lovelace",
            LTI + "deployment_id": self.deployment_id, LTI + "message_type": message_type, LTI + "version": "1.3.0",
            LTI + "roles": user["roles"], LTI + "target_link_uri": self.tool_url + "/lti/launch",
            LTI + "context": {"id": "course-1", "title": "Algebra I"},
            LTI + "resource_link": {"id": "rl-1"},
            "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
                "scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                          "https://purl.imsglobal.org/spec/lti-ags/scope/score"],
                "lineitems": self.url + "/api/lti/courses/1/line_items"},
            "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
                "context_memberships_url": self.url + "/api/lti/courses/1/names_and_roles",
                "service_versions": ["2.0"]},
        }
        if message_type == "LtiDeepLinkingRequest":
            claims.pop(LTI + "resource_link")
            claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = {
                "deep_link_return_url": self.url + "/deep_link_return", "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"], "accept_multiple": True,
                "data": "opaque-platform-data"}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not _DROP}

    def sign(self, claims: dict, alg: str = "RS256", kid: str | None = "default", key=None) -> str:
        headers = {} if kid is None else {"kid": self.kid if kid == "default" else kid}
        return jwt.encode(claims, key or self.key, algorithm=alg, headers=headers)

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
        return JSONResponse({"keys": [self.public_jwk()]})

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
        token = self.sign(self.claims(params["nonce"], **self.claim_overrides))
        fields = {"id_token": token, "state": params["state"]}
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
        body = json.loads(await request.body())
        item_id = f"{self.url}/api/lti/courses/1/line_items/{len(self.line_items) + 1}"
        self.line_items[item_id] = {**body, "id": item_id}
        return JSONResponse(self.line_items[item_id], status_code=201,
                            media_type="application/vnd.ims.lis.v2.lineitem+json")

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
        return Response(status_code=204)

    async def nrps(self, request: Request):
        if not self._authorized(request):
            return Response(status_code=401)
        page = int(request.query_params.get("page", "1"))
        start = (page - 1) * self.page_size
        chunk = self.members[start:start + self.page_size]
        headers = {}
        if start + self.page_size < len(self.members):
            headers["Link"] = f'<{self.url}/api/lti/courses/1/names_and_roles?page={page + 1}>; rel="next"'
        return JSONResponse({"id": request.url.path, "context": {"id": "course-1"}, "members": chunk},
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
        return HTMLResponse("<html><body id='dl-done'>Content added</body></html>")

    async def openid_configuration(self, request: Request):
        return JSONResponse({
            "issuer": self.issuer, "authorization_endpoint": self.url + "/api/lti/authorize_redirect",
            "token_endpoint": self.url + "/login/oauth2/token", "jwks_uri": self.url + "/api/lti/security/jwks",
            "registration_endpoint": self.url + "/register",
            "https://purl.imsglobal.org/spec/lti-platform-configuration": {"product_family_code": "canvas"}})

    async def register(self, request: Request):
        if request.headers.get("authorization") != "Bearer reg-token-1":
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        body = json.loads(await request.body())
        self.registrations.append(body)
        return JSONResponse({**body, "client_id": "dyn-client-1",
                             "https://purl.imsglobal.org/spec/lti-tool-configuration": {
                                 **body["https://purl.imsglobal.org/spec/lti-tool-configuration"],
                                 "deployment_id": "dyn-deployment-1"}}, status_code=201)

    async def canvas_page(self, request: Request):
        """A course page with the tool in a cross-origin iframe, as Canvas shows it."""
        src = request.query_params["src"]
        return HTMLResponse(f'<html><body><h1>Canvas course</h1><iframe id="tool" name="tool" '
                            f'src="{escape(src)}" width="900" height="600" '
                            'allow="clipboard-write"></iframe></body></html>')


_DROP = object()
DROP = _DROP


def serve(platform: Platform, server_cls, host: str = "127.0.0.1"):
    """Starts the platform with the tests' loopback server class; returns the server."""
    server = server_cls(platform.app)
    if host != "127.0.0.1":
        server.url = server.url.replace("127.0.0.1", host)
    platform.url = server.url
    return server
