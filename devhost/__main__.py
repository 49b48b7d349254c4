"""python -m devhost: the local host of Atomic Guide and its tools.

  serve              run the tool on http://127.0.0.1:8787 with a demo course (what ./scripts/dev does)
  migrate            apply pending D1 migrations to the local state
  register-tenant    create or rename a tenant
  register-platform  register an LTI platform (Canvas presets) for a tenant
  mint-token         print a session token for calling the API locally
  load-learner-model load params.json (scripts/learner-model fit) for a tenant
  export, restore, verify-export, list-exports   backups of one tenant (see README)
  init-dev-vars      create .dev.vars with fresh local secrets if it is missing
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_TENANT_ID = "11111111-1111-4111-8111-111111111111"
DEMO_TENANT_NAME = "Demo University"
LEARNER_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"


def new_tool_key_set(statuses: tuple[str, ...] = ("current",)) -> str:
    """TOOL_PRIVATE_KEYS value: base64 of {"keys": [{"pem", "status"}]} with fresh RSA keys."""
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    keys = []
    for status in statuses:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
        keys.append({"pem": pem, "status": status})
    return base64.b64encode(json.dumps({"keys": keys}).encode()).decode()


def init_dev_vars(root: Path = ROOT) -> bool:
    """Creates .dev.vars with fresh local secrets if it is missing (never overwrites)."""
    path = root / ".dev.vars"
    if path.exists():
        return False
    example = (root / ".dev.vars.example").read_text(encoding="utf-8")
    lines = []
    for line in example.splitlines():
        key, sep, _ = line.partition("=")
        if sep and not line.lstrip().startswith("#") and key.strip() == "TOOL_PRIVATE_KEYS":
            line = f"{key}={new_tool_key_set()}"
        elif sep and not line.lstrip().startswith("#") and key.strip().endswith(("_KEY", "_SECRET")):
            line = f"{key}={secrets.token_urlsafe(48)}"
        lines.append(line)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return True


async def register_tenant(host, tenant_id: str, name: str, d1_binding: str = "D1_PRIMARY") -> dict:
    from db.database import Database
    from db.system import insert_tenant

    db = Database(host.env)
    await db.run(insert_tenant(tenant_id, name, d1_binding))
    if d1_binding != "D1_PRIMARY":
        await db.run(insert_tenant(tenant_id, name, d1_binding, binding=d1_binding))
    return {"id": tenant_id, "name": name, "d1_binding": d1_binding}


async def _load_learner_model(host, args) -> int:
    from db.database import Database
    from db.system import get_tenant, system_scope
    from learner.service import LearnerError, load_parameters

    host.migrate()
    try:
        document = json.loads(Path(args.params).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"error: cannot read {args.params}: {exc}", file=sys.stderr)
        return 2
    db = Database(host.env)
    tenant = await db.first(get_tenant(args.tenant))
    if tenant is None:
        print(f"error: no tenant {args.tenant} (python -m devhost register-tenant)", file=sys.stderr)
        return 2
    try:
        loaded = await load_parameters(db, system_scope(tenant, "devhost"), document if isinstance(document, dict)
                                       else {}, args.create_concepts)
    except LearnerError as exc:
        print(f"error: {exc.detail} {json.dumps(exc.extra)}", file=sys.stderr)
        return 2
    print(json.dumps({"tenant_id": args.tenant, **loaded}))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devhost", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    serve = sub.add_parser("serve", help="run the tool locally with a demo course",
                           description="Applies the D1 migrations, registers the demo tenant and the demo LMS as "
                                       "its platform, then serves the Worker (and the demo LMS under /__lms).")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8787, help="port to listen on (default 8787)")

    sub.add_parser("migrate", help="apply pending D1 migrations to the local state",
                   description="Applies pending migrations to every D1 database, keeping wrangler's bookkeeping.")
    sub.add_parser("init-dev-vars", help="create .dev.vars with fresh local secrets if it is missing",
                   description="Copies .dev.vars.example to .dev.vars, filling every *_KEY and *_SECRET.")

    reg = sub.add_parser("register-tenant", help="create or rename a tenant",
                         description="Creates a tenant (an institution) or renames it; never moves its data.")
    reg.add_argument("--id", default=DEMO_TENANT_ID, help="tenant id, a UUID (default: the demo tenant)")
    reg.add_argument("--name", default=DEMO_TENANT_NAME, help="institution name shown to admins")
    reg.add_argument("--d1-binding", default="D1_PRIMARY", help="D1 database for a new tenant (default D1_PRIMARY)")

    plat = sub.add_parser("register-platform", help="register an LTI platform (Canvas presets) for a tenant",
                          description="Registers a platform (issuer + client id) and its deployments for a tenant, "
                                      "as POST /admin/platforms does. With --preset only the ids are needed.")
    plat.add_argument("--tenant-name", required=True, help="institution name (creates the tenant if new)")
    plat.add_argument("--tenant-id", help="existing or new tenant id (default: the platform's tenant, or a new one)")
    plat.add_argument("--d1-binding", help="D1 database for a new tenant (an existing tenant keeps its own)")
    plat.add_argument("--preset", choices=["canvas", "canvas-beta", "canvas-test"],
                      help="Canvas cloud issuer and endpoints")
    plat.add_argument("--issuer", help="platform issuer (without a preset)")
    plat.add_argument("--client-id", required=True, help="the developer key's client id")
    plat.add_argument("--deployment-id", action="append", required=True, dest="deployment_ids",
                      help="a deployment id (repeat for several)")
    plat.add_argument("--auth-login-url", help="OIDC authorization endpoint (without a preset)")
    plat.add_argument("--auth-token-url", help="OAuth2 token endpoint (without a preset)")
    plat.add_argument("--key-set-url", help="platform JWKS URL (without a preset)")
    plat.add_argument("--frame-origin", action="append", dest="frame_origins",
                      help="an extra origin allowed to frame the tool, e.g. https://canvas.example.edu (repeatable)")

    mint = sub.add_parser("mint-token", help="print a session token for calling the API locally",
                          description="Signs a session token with .dev.vars' SESSION_SIGNING_KEY (local use only).")
    mint.add_argument("--tenant", default=DEMO_TENANT_ID, help="tenant id (default: the demo tenant)")
    mint.add_argument("--user", default="demo-learner", help="LTI user id (sub)")
    mint.add_argument("--context", default="demo-course", help="course context id")
    mint.add_argument("--role", action="append", default=None,
                      help=f"an LTI context role (repeatable; default {LEARNER_ROLE})")
    mint.add_argument("--ttl", type=int, default=None, help="lifetime in seconds (default SESSION_TTL_SECONDS)")
    model = sub.add_parser(
        "load-learner-model", help="load params.json (scripts/learner-model fit) for a tenant",
        description="Stores a fitted learner model for a tenant: default BKT, Elo step sizes, predictor weights "
                    "and each concept's BKT parameters, difficulty and fit figures. Concepts are keyed by "
                    "knowledge-graph concept id; ids the tenant's graph lacks are refused unless --create-concepts.")
    model.add_argument("params", help="path to params.json")
    model.add_argument("--tenant", default=DEMO_TENANT_ID, help="tenant id (default: the demo tenant)")
    model.add_argument("--create-concepts", action="store_true",
                       help="create missing concepts in the tenant's graph (named by id, no prerequisites)")
    from devhost import backups_cli

    backups_cli.add_commands(sub)
    return parser


class _VarsOnly:
    """The vars and secrets of wrangler.jsonc and .dev.vars, without the bindings."""

    def __init__(self, values: dict) -> None:
        self.__dict__.update(values)


def _mint(args) -> int:
    # Light on purpose: reads the vars and signs, no host, no app (answers at once).
    from devhost.config import load_config, read_dev_vars

    sys.path.insert(0, str(ROOT / "src"))
    from auth.tokens import mint_session_token

    env = _VarsOnly({**load_config(ROOT).vars, **read_dev_vars(ROOT / ".dev.vars")})
    print(mint_session_token(env, tenant_id=args.tenant, lti_user_id=args.user, context_id=args.context,
                             roles=args.role or [LEARNER_ROLE], ttl_s=args.ttl))
    return 0


class _PathOnlyAccessLog(logging.Filter):
    """Access log lines name the path, never the query string (it may carry a session
    token or a registration code)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3 and isinstance(record.args[2], str):
            args = list(record.args)
            args[2] = args[2].split("?", 1)[0]
            record.args = tuple(args)
        return True


async def _prepare_demo(host, port: int):
    """The demo LMS (a Canvas stand-in) on http://localhost:PORT/__lms, registered as the
    demo tenant's platform; the tool is http://127.0.0.1:PORT, a different site."""
    from devhost.demo_lms import demo_course
    from lti.registration import PlatformRegistrationRequest, register

    lms = demo_course(host.state_root / "devhost" / "demo-lms")
    lms.url = f"http://localhost:{port}/__lms"
    lms.tool_url = f"http://127.0.0.1:{port}"
    host.mount("/__lms", lms.app)
    host.env.DEMO_LMS_URL = lms.url
    await register_tenant(host, DEMO_TENANT_ID, DEMO_TENANT_NAME)
    await register(host.env, PlatformRegistrationRequest(
        tenant_id=DEMO_TENANT_ID, tenant_name=DEMO_TENANT_NAME, client_id=lms.client_id,
        deployment_ids=[lms.deployment_id], **lms.endpoints()))
    return lms


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "init-dev-vars":
        print("created .dev.vars" if init_dev_vars() else ".dev.vars already exists")
        return 0
    init_dev_vars()
    if args.command == "mint-token":
        return _mint(args)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from devhost.config import ConfigError
    from devhost.host import LocalHost

    try:
        host = LocalHost(ROOT)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from devhost import backups_cli

    if args.command in backups_cli.COMMANDS:
        return backups_cli.run(args, host)
    if args.command == "migrate":
        print(json.dumps(host.migrate(), indent=2))
        return 0
    if args.command == "load-learner-model":
        return asyncio.run(_load_learner_model(host, args))
    if args.command == "register-tenant":
        host.migrate()
        print(json.dumps(asyncio.run(register_tenant(host, args.id, args.name, args.d1_binding))))
        return 0
    if args.command == "register-platform":
        from pydantic import ValidationError

        from lti.registration import PlatformRegistrationRequest, RegistrationConflict, register

        host.migrate()
        fields = {k: getattr(args, k) for k in ("tenant_name", "tenant_id", "d1_binding", "preset", "issuer",
                                                  "client_id", "deployment_ids", "auth_login_url", "auth_token_url",
                                                  "key_set_url", "frame_origins") if getattr(args, k) is not None}
        try:
            request = PlatformRegistrationRequest(**fields)
            request.endpoints()
            print(asyncio.run(register(host.env, request)).model_dump_json(indent=2))
        except (ValidationError, ValueError, RegistrationConflict) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0
    if args.command == "serve":
        import uvicorn

        applied = host.migrate()
        print(f"migrations applied now: {applied}")
        lms = asyncio.run(_prepare_demo(host, args.port))
        logging.getLogger("uvicorn.access").addFilter(_PathOnlyAccessLog())
        print(f"Atomic Guide on http://{args.host}:{args.port}/ (demo tenant {DEMO_TENANT_ID}); "
              f"demo course at {lms.url}/course")
        uvicorn.run(host, host=args.host, port=args.port, log_level="info", lifespan="on")
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
