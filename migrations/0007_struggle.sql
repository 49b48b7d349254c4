-- Migration 0007: the vocabulary of struggle detection (src/struggle/).
-- struggle_events.event_type gains the detector's reasons (wheel-spinning, rapid guessing,
-- a repeated misconception, help abuse/avoidance, long dwell, fast scrolling, revisiting);
-- intervention_logs.intervention_type gains the note to the instructor. The old values
-- stay valid. SQLite cannot alter a CHECK, so both tables are rebuilt with their rows,
-- foreign keys and indexes:
--   * a parent is renamed first, which repoints its children's foreign keys at the old
--     copy, so no DROP ever cascades into rows that are kept;
--   * the old copies are dropped children first, then the indexes are created again (an
--     index name stays taken until the table holding it is dropped).
-- defer_foreign_keys lets D1 check the references once, at the end of the migration.
PRAGMA defer_foreign_keys = true;

ALTER TABLE struggle_events RENAME TO struggle_events_0006;
CREATE TABLE struggle_events (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    learner_id      TEXT NOT NULL,
    session_id      TEXT,
    concept_id      TEXT,
    event_type      TEXT NOT NULL CHECK (event_type IN (
                        'hover_confusion', 'repeated_error', 'rapid_reread', 'idle', 'help_request', 'low_confidence',
                        'wheel_spinning', 'rapid_guessing', 'misconception', 'help_abuse', 'help_avoidance',
                        'long_dwell', 'rapid_scrolling', 'revisiting')),
    severity        REAL NOT NULL CHECK (severity BETWEEN 0 AND 1),
    signals         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(signals) AND json_type(signals) = 'object'),
    detected_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, learner_id) REFERENCES learner_profiles (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, session_id) REFERENCES learning_sessions (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, concept_id) REFERENCES knowledge_graph (tenant_id, concept_id)
);
INSERT INTO struggle_events (id, tenant_id, learner_id, session_id, concept_id, event_type, severity, signals, detected_at)
    SELECT id, tenant_id, learner_id, session_id, concept_id, event_type, severity, signals, detected_at
    FROM struggle_events_0006;

ALTER TABLE intervention_logs RENAME TO intervention_logs_0006;
CREATE TABLE intervention_logs (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL,
    learner_id          TEXT NOT NULL,
    session_id          TEXT,
    struggle_event_id   TEXT,
    intervention_type   TEXT NOT NULL CHECK (intervention_type IN ('hint', 'explanation', 'example', 'break_suggestion',
                            'chat_prompt', 'review_prompt', 'instructor_note')),
    content             TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(content) AND json_type(content) = 'object'),
    outcome             TEXT CHECK (outcome IS NULL OR outcome IN ('accepted', 'dismissed', 'ignored', 'helpful', 'not_helpful')),
    delivered_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    responded_at        TEXT,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, learner_id) REFERENCES learner_profiles (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, session_id) REFERENCES learning_sessions (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, struggle_event_id) REFERENCES struggle_events (tenant_id, id) ON DELETE CASCADE
);
INSERT INTO intervention_logs (id, tenant_id, learner_id, session_id, struggle_event_id, intervention_type, content,
                               outcome, delivered_at, responded_at)
    SELECT id, tenant_id, learner_id, session_id, struggle_event_id, intervention_type, content, outcome,
           delivered_at, responded_at
    FROM intervention_logs_0006;

DROP TABLE intervention_logs_0006;
DROP TABLE struggle_events_0006;

CREATE INDEX idx_struggle_tenant_learner_time ON struggle_events (tenant_id, learner_id, detected_at);
CREATE INDEX idx_struggle_tenant_session ON struggle_events (tenant_id, session_id);
CREATE INDEX idx_struggle_tenant_concept ON struggle_events (tenant_id, concept_id);
CREATE INDEX idx_interventions_tenant_learner_time ON intervention_logs (tenant_id, learner_id, delivered_at);
CREATE INDEX idx_interventions_tenant_session ON intervention_logs (tenant_id, session_id);
CREATE INDEX idx_interventions_tenant_struggle ON intervention_logs (tenant_id, struggle_event_id);
