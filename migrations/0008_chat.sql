-- Migration 0008: the AI Guide chat (issue 12).
-- The transcript lives in each conversation's Durable Object (CHAT_CONVERSATIONS) and is
-- written through to chat_conversations / chat_messages (0001) so export and erasure see
-- it; this migration adds what that write-through, the budgets and the usage view need.

-- Conversation columns read by lists and instructor views (the rest stays in metadata).
-- instructor_visible: the tenant let instructors read transcripts AND the learner was shown
-- the notice before the first message; only such conversations are ever shown to staff.
ALTER TABLE chat_conversations ADD COLUMN title TEXT CHECK (title IS NULL OR length(title) <= 200);
ALTER TABLE chat_conversations ADD COLUMN message_count INTEGER NOT NULL DEFAULT 0 CHECK (message_count >= 0);
ALTER TABLE chat_conversations ADD COLUMN instructor_visible INTEGER NOT NULL DEFAULT 0
    CHECK (instructor_visible IN (0, 1));
CREATE INDEX idx_chat_conv_tenant_course ON chat_conversations (tenant_id, course_context, started_at);

-- The message's sequence number in its conversation (the object's order). Unique per
-- conversation, so a replayed write-through can never add a second copy of a turn.
ALTER TABLE chat_messages ADD COLUMN seq INTEGER CHECK (seq IS NULL OR seq >= 1);
CREATE UNIQUE INDEX idx_chat_msg_tenant_conv_seq ON chat_messages (tenant_id, conversation_id, seq);

-- Usage ledger: one row per model turn (its id is the reply message's id, so writing it
-- twice is a no-op). Tokens are counted by chat/tokens.py, the same way every time, for
-- every provider; cost_units come from the tenant's price per 1,000 tokens. No foreign
-- keys: erasure keeps the row (what was paid) and clears learner_id and conversation_id.
CREATE TABLE chat_usage (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    conversation_id     TEXT,
    learner_id          TEXT,
    course_context      TEXT NOT NULL CHECK (length(course_context) BETWEEN 1 AND 255),
    -- UTC calendar day of the turn (YYYY-MM-DD): what the daily budgets count.
    day                 TEXT NOT NULL CHECK (length(day) = 10),
    provider            TEXT NOT NULL CHECK (provider IN ('workers-ai', 'offline')),
    model               TEXT NOT NULL CHECK (length(model) BETWEEN 1 AND 200),
    prompt_tokens       INTEGER NOT NULL CHECK (prompt_tokens >= 0),
    completion_tokens   INTEGER NOT NULL CHECK (completion_tokens >= 0),
    total_tokens        INTEGER NOT NULL CHECK (total_tokens = prompt_tokens + completion_tokens),
    cost_units          REAL NOT NULL CHECK (cost_units >= 0),
    outcome             TEXT NOT NULL CHECK (outcome IN ('complete', 'interrupted', 'failed')),
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (tenant_id, id)
);
-- Each budget sums one index range (covering: the sum reads the index only).
CREATE INDEX idx_chat_usage_tenant_day ON chat_usage (tenant_id, day, total_tokens);
CREATE INDEX idx_chat_usage_tenant_learner_day ON chat_usage (tenant_id, learner_id, day, total_tokens);
CREATE INDEX idx_chat_usage_tenant_course_day ON chat_usage (tenant_id, course_context, day, total_tokens);
CREATE INDEX idx_chat_usage_tenant_conversation ON chat_usage (tenant_id, conversation_id);

-- Chat settings chosen by the tenant's administrator: one row for the tenant ('tenant':
-- provider, model, prices, budgets, instructor transcripts), and budget overrides per
-- course ('course:<context id>') and per learner ('learner:<profile id>').
CREATE TABLE chat_settings (
    id              TEXT NOT NULL CHECK (id = 'tenant' OR id GLOB 'course:?*' OR id GLOB 'learner:?*'),
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    -- Set on learner rows only, so erasure finds them.
    learner_id      TEXT,
    settings        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings) AND json_type(settings) = 'object'),
    updated_by      TEXT,
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (tenant_id, id),
    CHECK ((id GLOB 'learner:?*') = (learner_id IS NOT NULL)),
    FOREIGN KEY (tenant_id, learner_id) REFERENCES learner_profiles (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX idx_chat_settings_tenant_learner ON chat_settings (tenant_id, learner_id);
