-- Migration 0005: what the hardened launch and registration need.

-- Dynamic Registration links: single use, bound to one tenant, short-lived. The code in
-- the link is never stored, only its sha256 (the id). A use claims the link atomically
-- (status open -> claimed); a failed registration gives it back (claimed -> open), a
-- successful one ends it (used). A claim older than ten minutes counts as abandoned.
CREATE TABLE registration_links (
    id              TEXT PRIMARY KEY CHECK (length(id) = 64),
    tenant_id       TEXT NOT NULL CHECK (length(tenant_id) = 36),
    tenant_name     TEXT NOT NULL CHECK (length(tenant_name) BETWEEN 1 AND 200),
    d1_binding      TEXT NOT NULL DEFAULT 'D1_PRIMARY' CHECK (d1_binding GLOB 'D1_[A-Z0-9_]*'),
    status          TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'claimed', 'used')),
    expires_at      TEXT NOT NULL,
    claimed_at      TEXT,
    used_at         TEXT,
    platform_id     TEXT,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX idx_registration_links_tenant ON registration_links (tenant_id);

-- Origins allowed to frame the tool's pages for this platform (CSP frame-ancestors),
-- beyond the issuer and login origins, e.g. an institution's own Canvas domain.
ALTER TABLE lti_platforms ADD COLUMN frame_origins TEXT NOT NULL DEFAULT '[]'
    CHECK (json_valid(frame_origins) AND json_type(frame_origins) = 'array');

-- The course role the launch decided (lti/roles.py): instructors' lists show learners only.
ALTER TABLE learning_sessions ADD COLUMN course_role TEXT NOT NULL DEFAULT 'learner'
    CHECK (course_role IN ('instructor', 'learner', 'other'));
CREATE INDEX idx_sessions_tenant_course_role ON learning_sessions (tenant_id, course_context, course_role);
