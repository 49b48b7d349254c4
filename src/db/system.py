"""Statements on the tables that belong to no single tenant (the tenant directory and
metrics) and the system grant used by cron/admin work. Fixed SQL only."""

from __future__ import annotations

from dataclasses import dataclass

from db.scope import TenantScope, issue_proof
from db.tables import UnscopedQueryError

_SYSTEM_KEY = object()
PRIMARY = "D1_PRIMARY"


@dataclass(frozen=True)
class SystemStatement:
    name: str
    sql: str
    params: list
    d1_binding: str = PRIMARY
    _key: object = None

    def __post_init__(self) -> None:
        if self._key is not _SYSTEM_KEY:
            raise UnscopedQueryError("system statements are fixed in db/system.py")


def _s(name: str, sql: str, params: list, binding: str = PRIMARY) -> SystemStatement:
    return SystemStatement(name, sql, params, binding, _SYSTEM_KEY)


def get_tenant(tenant_id: str) -> SystemStatement:
    return _s("tenants.get", "SELECT id, name, d1_binding, status, settings, created_at FROM tenants WHERE id = ?",
              [tenant_id])


def list_active_tenants() -> SystemStatement:
    return _s("tenants.list_active",
              "SELECT id, name, d1_binding FROM tenants WHERE status = 'active' ORDER BY id", [])


def insert_tenant(tenant_id: str, name: str, d1_binding: str, binding: str = PRIMARY) -> SystemStatement:
    """Creates a tenant or renames it; never changes where an existing tenant's data
    lives (d1_binding is set on creation only). Also written into a dedicated database
    so its foreign keys hold there."""
    return _s("tenants.insert",
              "INSERT INTO tenants (id, name, d1_binding) VALUES (?, ?, ?) "
              "ON CONFLICT(id) DO UPDATE SET name = excluded.name, "
              "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
              [tenant_id, name, d1_binding], binding)


def all_platform_origins() -> SystemStatement:
    # The platform directory, read only to rebuild the frame-origins union when its KV
    # copy is missing (a registration rewrites that copy): a small table, read rarely.
    return _s("lti_platforms.origins", "SELECT issuer, auth_login_url, frame_origins FROM lti_platforms", [])


def insert_metric(kind: str, name: str, value: float, detail_json: str, tenant_id: str | None) -> SystemStatement:
    return _s("metrics.insert", "INSERT INTO metrics (tenant_id, kind, name, value, detail) VALUES (?, ?, ?, ?, ?)",
              [tenant_id, kind, name, value, detail_json])


def migration_count() -> SystemStatement:
    return _s("d1_migrations.count", "SELECT count(*) AS n FROM d1_migrations", [])


def system_scope(tenant_row: dict, reason: str) -> TenantScope:
    """A scope for work no session drives (nightly export, admin registration): the
    tenant comes from the tenant directory row, never from a request parameter."""
    return TenantScope(issue_proof(tenant_row["id"], tenant_row.get("d1_binding") or PRIMARY, f"system:{reason}"))


def platform_by_issuer_client(issuer: str, client_id: str) -> SystemStatement:
    # Before a launch is verified the tenant is unknown: the registration names it.
    return _s("lti_platforms.by_issuer_client",
              "SELECT p.id, p.tenant_id, p.issuer, p.client_id, p.auth_login_url, p.auth_token_url, p.key_set_url,"
              " p.frame_origins, t.d1_binding FROM lti_platforms p JOIN tenants t ON t.id = p.tenant_id"
              " WHERE p.issuer = ? AND p.client_id = ? AND t.status = 'active'", [issuer, client_id])


def platforms_by_issuer(issuer: str) -> SystemStatement:
    return _s("lti_platforms.by_issuer", "SELECT client_id FROM lti_platforms WHERE issuer = ? LIMIT 2", [issuer])


def deployments_of(platform_id: str) -> SystemStatement:
    return _s("lti_deployments.of_platform",
              "SELECT deployment_id FROM lti_deployments WHERE platform_id = ? ORDER BY deployment_id", [platform_id])


# -- Dynamic Registration links (single use; see migrations/0005) ---------------------

def insert_registration_link(link_id: str, tenant_id: str, tenant_name: str, d1_binding: str,
                             expires_at: str) -> SystemStatement:
    return _s("registration_links.insert",
              "INSERT INTO registration_links (id, tenant_id, tenant_name, d1_binding, expires_at) VALUES (?, ?, ?, ?, ?)",
              [link_id, tenant_id, tenant_name, d1_binding, expires_at])


def claim_registration_link(link_id: str, now: str, abandoned_before: str) -> SystemStatement:
    """Atomic: only one use can move an open (or abandoned) unexpired link to claimed."""
    return _s("registration_links.claim",
              "UPDATE registration_links SET status = 'claimed', claimed_at = ? WHERE id = ? AND expires_at > ? "
              "AND (status = 'open' OR (status = 'claimed' AND claimed_at < ?)) "
              "RETURNING tenant_id, tenant_name, d1_binding, claimed_at",
              [now, link_id, now, abandoned_before])


def registration_link_status(link_id: str) -> SystemStatement:
    return _s("registration_links.status", "SELECT status, expires_at FROM registration_links WHERE id = ?", [link_id])


def release_registration_link(link_id: str, claimed_at: str) -> SystemStatement:
    return _s("registration_links.release",
              "UPDATE registration_links SET status = 'open', claimed_at = NULL "
              "WHERE id = ? AND status = 'claimed' AND claimed_at = ?", [link_id, claimed_at])


def finish_registration_link(link_id: str, claimed_at: str, platform_id: str, now: str) -> SystemStatement:
    return _s("registration_links.finish",
              "UPDATE registration_links SET status = 'used', used_at = ?, platform_id = ? "
              "WHERE id = ? AND status = 'claimed' AND claimed_at = ? RETURNING id",
              [now, platform_id, link_id, claimed_at])


def last_migration(binding: str) -> SystemStatement:
    """The schema version of a database: the last migration applied to it."""
    return _s("d1_migrations.last", "SELECT name FROM d1_migrations ORDER BY id DESC LIMIT 1", [], binding)


def set_tenant_binding(tenant_id: str, d1_binding: str) -> SystemStatement:
    """Points the tenant directory at another database (the switch of a restore)."""
    return _s("tenants.set_binding",
              "UPDATE tenants SET d1_binding = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
              [d1_binding, tenant_id])


def restore_tenant(row: dict, d1_binding: str, binding: str = PRIMARY) -> SystemStatement:
    """The tenant's directory row as an export recorded it (disaster recovery into an
    empty database, and the copy a dedicated database keeps for its foreign keys)."""
    return _s("tenants.restore",
              "INSERT INTO tenants (id, name, d1_binding, status, settings, created_at) VALUES (?, ?, ?, ?, ?, ?) "
              "ON CONFLICT(id) DO UPDATE SET name = excluded.name, d1_binding = excluded.d1_binding",
              [row["id"], row["name"], d1_binding, row.get("status") or "active", row.get("settings") or "{}",
               row.get("created_at")], binding)


def concepts_of_other_tenants(concept_ids: list[str], tenant_id: str, binding: str = PRIMARY) -> SystemStatement:
    """Which of these concept ids another tenant owns (knowledge_graph.concept_id is one
    global key): only the ids, so an import can be refused naming them."""
    if not 1 <= len(concept_ids) <= 90:
        raise UnscopedQueryError("between 1 and 90 concept ids per lookup")
    marks = ", ".join("?" * len(concept_ids))
    return _s("knowledge_graph.foreign_ids",
              f"SELECT concept_id FROM knowledge_graph WHERE concept_id IN ({marks}) AND tenant_id != ?",
              [*concept_ids, tenant_id], binding)


def set_struggle_rules(tenant_id: str, overrides_json: str) -> SystemStatement:
    """A tenant's overrides of the struggle-detection thresholds (settings.struggle), the
    rest of its settings kept. Sessions started afterwards use them."""
    return _s("tenants.set_struggle_rules",
              "UPDATE tenants SET settings = json_set(settings, '$.struggle', json(?)), "
              "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ? RETURNING settings",
              [overrides_json, tenant_id])
