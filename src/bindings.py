"""Names of the bindings the code expects in `env` (declared in wrangler.jsonc; a test
keeps the two in step)."""

from typing import Literal

D1_PRIMARY = "D1_PRIMARY"
D1_DATABASES = ("D1_PRIMARY", "D1_DEDICATED_A")
# The D1 binding a request body may name (the OpenAPI document lists exactly these).
D1Binding = Literal["D1_PRIMARY", "D1_DEDICATED_A"]
KV_NAMESPACES = ("LTI_PLATFORMS", "KEY_SETS", "PROFILE_CACHE")
R2_BUCKETS = ("EXPORTS",)
DURABLE_OBJECTS = ("OIDC_STATE", "STRUGGLE_DETECTOR", "CHAT_CONVERSATIONS", "GRADE_SYNC")
AI = "AI"
WORKFLOWS = ("EXPORT_WORKFLOW", "RESTORE_WORKFLOW", "INSIGHTS_WORKFLOW")


def var(env, name: str, default: str | None = None) -> str | None:
    """A var or secret from env (wrangler vars, .dev.vars, `wrangler secret put`)."""
    value = getattr(env, name, None)
    return default if value is None else str(value)
