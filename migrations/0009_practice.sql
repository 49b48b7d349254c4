-- Migration 0009: practice activities (seed 002's assessment_configs, generated_content,
-- student_progress) on seed 001's question bank (questions, question_responses).
--
-- Binding an activity to its resource link. Canvas assigns the resource link id when the
-- deep-linked item is placed, so the tool learns it only at the first launch. An activity
-- is created with resource_link_id = 'pending:<activity id>' (unique by construction) and
-- its id travels in the content item's custom parameters; the first launch that carries
-- the id binds the row to the launch's resource link (a conditional UPDATE, so two first
-- launches cannot both bind it). From then on the resource link decides: a launch finds
-- its activity by (tenant_id, resource_link_id), which stays UNIQUE as in the seed, so one
-- resource link has exactly one activity. A launch carrying the id of an activity already
-- bound elsewhere (a course copy, where Canvas keeps the custom parameters and issues new
-- resource links) gets a copy of the activity bound to its own link (origin_id says whose).

ALTER TABLE assessment_configs ADD COLUMN course_context TEXT CHECK (course_context IS NULL OR length(course_context) BETWEEN 1 AND 255);
ALTER TABLE assessment_configs ADD COLUMN title TEXT NOT NULL DEFAULT 'Practice' CHECK (length(title) BETWEEN 1 AND 200);
-- The concepts (knowledge_graph ids) the activity covers, a JSON array.
ALTER TABLE assessment_configs ADD COLUMN concepts TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(concepts) AND json_type(concepts) = 'array');
-- Whether scores go to the gradebook (an AGS line item per activity).
ALTER TABLE assessment_configs ADD COLUMN graded INTEGER NOT NULL DEFAULT 1 CHECK (graded IN (0, 1));
-- Edits forgiven in fill-in-the-blank answers (scaled down for short answers; see README).
ALTER TABLE assessment_configs ADD COLUMN typo_tolerance INTEGER NOT NULL DEFAULT 1 CHECK (typo_tolerance BETWEEN 0 AND 3);
-- Answers that make 100% under the engagement grading schema.
ALTER TABLE assessment_configs ADD COLUMN engagement_target INTEGER NOT NULL DEFAULT 20 CHECK (engagement_target BETWEEN 1 AND 1000);
ALTER TABLE assessment_configs ADD COLUMN status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed'));
-- Answers are refused from this time on (ISO 8601 UTC), when set.
ALTER TABLE assessment_configs ADD COLUMN closes_at TEXT;
ALTER TABLE assessment_configs ADD COLUMN origin_id TEXT;
ALTER TABLE assessment_configs ADD COLUMN bound_at TEXT;
-- From the launches of this activity: the platform (for the service token) and the AGS
-- endpoints its grades go to. line_item_url (migration 0003) is the activity's column.
ALTER TABLE assessment_configs ADD COLUMN platform_issuer TEXT;
ALTER TABLE assessment_configs ADD COLUMN platform_client_id TEXT;
ALTER TABLE assessment_configs ADD COLUMN ags_lineitems TEXT;
ALTER TABLE assessment_configs ADD COLUMN ags_scope TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(ags_scope) AND json_type(ags_scope) = 'array');
CREATE INDEX idx_assessment_tenant_course ON assessment_configs (tenant_id, course_context, created_at);

-- questions: practice items. question_type keeps seed 001's Socratic vocabulary (its CHECK
-- cannot change without rebuilding a table other tables point at): practice items are
-- 'clarifying' (recall of what a term is), and item_format says which kind they are.
-- is_validated = approved for learners, is_active = not retired.
ALTER TABLE questions ADD COLUMN item_format TEXT CHECK (item_format IS NULL OR item_format IN ('fill_blank', 'flashcard'));
-- fill_blank: {"answers": [...], "numeric_tolerance": n}; flashcard: {"back": "..."}.
ALTER TABLE questions ADD COLUMN answer_key TEXT CHECK (answer_key IS NULL OR (json_valid(answer_key) AND json_type(answer_key) = 'object'));
-- Every concept the item practises, the primary one (`concept`) first; an answer updates
-- the primary concept's state.
ALTER TABLE questions ADD COLUMN concepts TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(concepts) AND json_type(concepts) = 'array');
-- The instructor's own id for the item (re-importing a file with refs updates, not duplicates).
ALTER TABLE questions ADD COLUMN ref TEXT CHECK (ref IS NULL OR length(ref) BETWEEN 1 AND 100);
-- The course whose instructor imported or approved it.
ALTER TABLE questions ADD COLUMN course_context TEXT;
ALTER TABLE questions ADD COLUMN source TEXT CHECK (source IS NULL OR source IN ('import', 'draft'));
ALTER TABLE questions ADD COLUMN generated_content_id TEXT;
CREATE UNIQUE INDEX idx_questions_tenant_course_ref ON questions (tenant_id, course_context, ref);
CREATE INDEX idx_questions_tenant_format_concept ON questions (tenant_id, item_format, concept, is_active, is_validated);

-- question_responses: the activity an answer was given in (NULL outside activities).
ALTER TABLE question_responses ADD COLUMN activity_id TEXT;
CREATE INDEX idx_responses_tenant_activity_learner ON question_responses (tenant_id, activity_id, learner_id, is_correct);

-- generated_content: drafts from course text. content = {"items": [...], "provider", "model",
-- "kind", "source_chars"}; approved only by the instructor (the approved items are copied into
-- questions then); status says what became of the draft.
ALTER TABLE generated_content ADD COLUMN status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'approved', 'discarded'));
ALTER TABLE generated_content ADD COLUMN updated_at TEXT;
CREATE INDEX idx_generated_tenant_config ON generated_content (tenant_id, assessment_config_id, created_at);

-- One row per learner and activity: where they are (the item shown, hints shown, the items
-- answered lately), their grade by the activity's schema, and its way to the gradebook.
--   score_version   bumped whenever the score changes; sent_version: the one last sent
--   sync_status     idle (nothing to send) | pending (a change waits) | retrying (the last
--                   send failed, next_sync_at says when again) | sent | failed (gave up, or
--                   the platform refused for good; sync_error says why) | not_graded
CREATE TABLE activity_progress (
    id                      TEXT PRIMARY KEY,
    tenant_id               TEXT NOT NULL,
    activity_id             TEXT NOT NULL,
    learner_id              TEXT NOT NULL,
    course_context          TEXT NOT NULL CHECK (length(course_context) BETWEEN 1 AND 255),
    lti_user_id             TEXT NOT NULL CHECK (length(lti_user_id) BETWEEN 1 AND 255),
    current_item_id         TEXT,
    current_presentation    TEXT,
    presented_at            TEXT,
    current_hints           INTEGER NOT NULL DEFAULT 0 CHECK (current_hints BETWEEN 0 AND 10),
    current_revealed        INTEGER NOT NULL DEFAULT 0 CHECK (current_revealed IN (0, 1)),
    recent_items            TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(recent_items) AND json_type(recent_items) = 'array'),
    attempts                INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    correct                 INTEGER NOT NULL DEFAULT 0 CHECK (correct >= 0),
    concepts_mastered       INTEGER NOT NULL DEFAULT 0 CHECK (concepts_mastered >= 0),
    score                   REAL NOT NULL DEFAULT 0 CHECK (score BETWEEN 0 AND 100),
    mastered                INTEGER NOT NULL DEFAULT 0 CHECK (mastered IN (0, 1)),
    mastered_at             TEXT,
    score_version           INTEGER NOT NULL DEFAULT 0 CHECK (score_version >= 0),
    sync_status             TEXT NOT NULL DEFAULT 'idle' CHECK (sync_status IN ('idle', 'pending', 'retrying', 'sent', 'failed', 'not_graded')),
    sent_score              REAL CHECK (sent_score IS NULL OR sent_score BETWEEN 0 AND 100),
    sent_version            INTEGER NOT NULL DEFAULT 0 CHECK (sent_version >= 0),
    sent_at                 TEXT,
    sync_attempts           INTEGER NOT NULL DEFAULT 0 CHECK (sync_attempts >= 0),
    sync_error              TEXT,
    next_sync_at            TEXT,
    version                 INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at              TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at              TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (tenant_id, activity_id, learner_id),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, activity_id) REFERENCES assessment_configs (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, learner_id) REFERENCES learner_profiles (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX idx_activity_progress_tenant_sync ON activity_progress (tenant_id, activity_id, sync_status);
CREATE INDEX idx_activity_progress_tenant_learner ON activity_progress (tenant_id, learner_id);

-- Per tenant and feature ('drafting' here): which model provider runs it and which model.
-- Without a row the Worker's DRAFTING_PROVIDER var and the provider's default model apply.
CREATE TABLE ai_model_settings (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    feature             TEXT NOT NULL CHECK (feature IN ('drafting')),
    provider            TEXT NOT NULL CHECK (provider IN ('workers-ai', 'offline')),
    model               TEXT NOT NULL CHECK (length(model) BETWEEN 1 AND 200),
    updated_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (tenant_id, feature)
);
