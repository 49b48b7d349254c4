"""python -m devhost: serve | migrate | register-tenant | register-platform | mint-token |
load-learner-model | init-dev-vars"""

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devhost", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="apply migrations, register the demo tenant, serve on loopback")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8787)
    sub.add_parser("migrate", help="apply pending D1 migrations to the local state")
    sub.add_parser("init-dev-vars", help="create .dev.vars with fresh secrets if missing")
    reg = sub.add_parser("register-tenant", help="create or rename a tenant")
    reg.add_argument("--id", default=DEMO_TENANT_ID)
    reg.add_argument("--name", default="Demo University")
    reg.add_argument("--d1-binding", default="D1_PRIMARY")
    plat = sub.add_parser("register-platform", help="register an LTI platform (Canvas presets) for a tenant")
    plat.add_argument("--tenant-name", required=True)
    plat.add_argument("--tenant-id")
    plat.add_argument("--d1-binding", default="D1_PRIMARY")
    plat.add_argument("--preset", choices=["canvas", "canvas-beta", "canvas-test"])
    plat.add_argument("--issuer")
    plat.add_argument("--client-id", required=True)
    plat.add_argument("--deployment-id", action="append", required=True, dest="deployment_ids")
    plat.add_argument("--auth-login-url")
    plat.add_argument("--auth-token-url")
    plat.add_argument("--key-set-url")
    mint = sub.add_parser("mint-token", help="print a session token (local testing only)")
    mint.add_argument("--tenant", default=DEMO_TENANT_ID)
    mint.add_argument("--user", default="demo-learner")
    mint.add_argument("--context", default="demo-course")
    mint.add_argument("--role", action="append", default=None)
    model = sub.add_parser(
        "load-learner-model", help="load params.json (scripts/learner-model fit) for a tenant",
        description="Stores a fitted learner model for a tenant: default BKT, Elo step sizes, predictor weights "
                    "and each concept's BKT parameters, difficulty and fit figures. Concepts are keyed by "
                    "knowledge-graph concept id; ids the tenant's graph lacks are refused unless --create-concepts.")
    model.add_argument("params", help="path to params.json")
    model.add_argument("--tenant", default=DEMO_TENANT_ID, help="tenant id (default: the demo tenant)")
    model.add_argument("--create-concepts", action="store_true",
                       help="create missing concepts in the tenant's graph (named by id, no prerequisites)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from devhost.config import ConfigError
    from devhost.host import LocalHost

    if args.command == "init-dev-vars":
        print("created .dev.vars" if init_dev_vars() else ".dev.vars already exists")
        return 0
    init_dev_vars()
    try:
        host = LocalHost(ROOT)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command == "migrate":
        print(json.dumps(host.migrate(), indent=2))
        return 0
    if args.command == "register-tenant":
        host.migrate()
        print(json.dumps(asyncio.run(register_tenant(host, args.id, args.name, args.d1_binding))))
        return 0
    if args.command == "register-platform":
        from pydantic import ValidationError

        from lti.registration import PlatformRegistrationRequest, register

        host.migrate()
        fields = {k: getattr(args, k) for k in ("tenant_name", "tenant_id", "d1_binding", "preset", "issuer",
                                                  "client_id", "deployment_ids", "auth_login_url", "auth_token_url",
                                                  "key_set_url") if getattr(args, k) is not None}
        try:
            request = PlatformRegistrationRequest(**fields)
            request.endpoints()
        except (ValidationError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(asyncio.run(register(host.env, request)).model_dump_json(indent=2))
        return 0
    if args.command == "load-learner-model":
        return asyncio.run(_load_learner_model(host, args))
    if args.command == "mint-token":
        from auth.session import mint_session_token

        roles = args.role or ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]
        print(mint_session_token(host.env, tenant_id=args.tenant, lti_user_id=args.user,
                                 context_id=args.context, roles=roles))
        return 0
    if args.command == "serve":
        import uvicorn

        applied = host.migrate()
        print(f"migrations applied now: {applied}")
        asyncio.run(register_tenant(host, DEMO_TENANT_ID, "Demo University"))
        print(f"demo tenant {DEMO_TENANT_ID} registered; serving on http://{args.host}:{args.port}")
        uvicorn.run(host, host=args.host, port=args.port, log_level="info", lifespan="on")
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
