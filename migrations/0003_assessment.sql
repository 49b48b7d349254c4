-- Migration 0003: the assessment tables of seed 002, scoped by tenant.
-- Seed 002 was written for D1 already but used MySQL-style inline INDEX clauses (not
-- SQLite); those become CREATE INDEX statements led by tenant_id. platform_id becomes
-- tenant_id (a tenant owns its platforms); `conversations`/`conversation_messages` are
-- named assessment_* to keep them apart from the AI Guide chat tables of story 1.1.
-- user_id/course_id become learner_id (a learner_profiles row) and course_context.

CREATE TABLE assessment_configs (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    resource_link_id    TEXT NOT NULL,
    assessment_type     TEXT NOT NULL CHECK (assessment_type IN ('chat', 'flashcards', 'fill_blank')),
    mastery_threshold   REAL NOT NULL DEFAULT 80 CHECK (mastery_threshold BETWEEN 0 AND 100),
    grading_schema      TEXT NOT NULL DEFAULT 'mastery' CHECK (grading_schema IN ('mastery', 'percentage', 'engagement')),
    ai_config           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(ai_config) AND json_type(ai_config) = 'object'),
    -- LTI line item URL once created in the platform gradebook (AGS).
    line_item_url       TEXT,
    created_by          TEXT NOT NULL,
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (tenant_id, resource_link_id),
    UNIQUE (tenant_id, id)
);

CREATE TABLE assessment_conversations (
    id                      TEXT PRIMARY KEY,
    tenant_id               TEXT NOT NULL,
    assessment_config_id    TEXT NOT NULL,
    learner_id              TEXT NOT NULL,
    course_context          TEXT NOT NULL,
    status                  TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'completed', 'abandoned')),
    started_at              TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    completed_at            TEXT,
    mastery_score           REAL NOT NULL DEFAULT 0 CHECK (mastery_score BETWEEN 0 AND 100),
    metadata                TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata) AND json_type(metadata) = 'object'),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, assessment_config_id) REFERENCES assessment_configs (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, learner_id) REFERENCES learner_profiles (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX idx_assess_conv_tenant_learner_course ON assessment_conversations (tenant_id, learner_id, course_context);
CREATE INDEX idx_assess_conv_tenant_config_status ON assessment_conversations (tenant_id, assessment_config_id, status);

CREATE TABLE assessment_messages (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL,
    conversation_id     TEXT NOT NULL,
    learner_id          TEXT NOT NULL,
    role                TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    content             TEXT NOT NULL,
    metadata            TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata) AND json_type(metadata) = 'object'),
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES assessment_conversations (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, learner_id) REFERENCES learner_profiles (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX idx_assess_msg_tenant_conv_time ON assessment_messages (tenant_id, conversation_id, created_at);
CREATE INDEX idx_assess_msg_tenant_learner ON assessment_messages (tenant_id, learner_id);

CREATE TABLE student_progress (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL,
    learner_id          TEXT NOT NULL,
    course_context      TEXT NOT NULL,
    total_assessments   INTEGER NOT NULL DEFAULT 0 CHECK (total_assessments >= 0),
    average_mastery     REAL NOT NULL DEFAULT 0 CHECK (average_mastery BETWEEN 0 AND 100),
    struggle_patterns   TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(struggle_patterns) AND json_type(struggle_patterns) = 'object'),
    last_activity       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (tenant_id, learner_id, course_context),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, learner_id) REFERENCES learner_profiles (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX idx_progress_tenant_course ON student_progress (tenant_id, course_context);

CREATE TABLE generated_content (
    id                      TEXT PRIMARY KEY,
    tenant_id               TEXT NOT NULL,
    assessment_config_id    TEXT NOT NULL,
    content_hash            TEXT NOT NULL,
    content_type            TEXT,
    content                 TEXT NOT NULL CHECK (json_valid(content)),
    approved                INTEGER NOT NULL DEFAULT 0 CHECK (approved IN (0, 1)),
    created_at              TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (tenant_id, assessment_config_id, content_hash),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, assessment_config_id) REFERENCES assessment_configs (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE analytics_snapshots (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    course_context      TEXT NOT NULL,
    assignment_id       TEXT,
    snapshot_data       TEXT NOT NULL CHECK (json_valid(snapshot_data) AND json_type(snapshot_data) = 'object'),
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (tenant_id, id)
);
CREATE INDEX idx_snapshots_tenant_course_assignment ON analytics_snapshots (tenant_id, course_context, assignment_id);
