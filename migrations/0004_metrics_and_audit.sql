-- Migration 0004: operational tables.
-- metrics: query timings, slow-query alerts and fallback events. tenant_id is NULL for
-- events that belong to no tenant (breaker state changes, health). Seed 001's MongoDB
-- analytics_events are not stored: nothing in the product reads them yet.
CREATE TABLE metrics (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       TEXT,
    kind            TEXT NOT NULL CHECK (kind IN ('query_timing', 'slow_query', 'fallback', 'breaker', 'write_refused', 'write_journaled', 'write_replayed', 'export')),
    name            TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    value           REAL NOT NULL,
    detail          TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail) AND json_type(detail) = 'object'),
    recorded_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX idx_metrics_kind_time ON metrics (kind, recorded_at);
CREATE INDEX idx_metrics_tenant_kind_time ON metrics (tenant_id, kind, recorded_at);

-- Audit trail of data-subject requests and admin actions. Holds no personal data: the
-- learner is not named, only what was done and how many rows it touched.
CREATE TABLE audit_log (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    action          TEXT NOT NULL CHECK (action IN ('erasure', 'export', 'tenant_registered', 'platform_registered')),
    detail          TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail) AND json_type(detail) = 'object'),
    recorded_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (tenant_id, id)
);
CREATE INDEX idx_audit_tenant_time ON audit_log (tenant_id, recorded_at);
