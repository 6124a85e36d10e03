-- The authoring view's drafts (adapters/authoring_api.py): a policy read from an uploaded document,
-- under review until the lead accepts or discards it. Kept here rather than in one process's
-- memory, so a restart does not lose a draft and every worker of `serve --workers N` finds it.
-- body is the draft as JSON (bot/knowledge/authoring.draft_to_dict): the policy's text and the
-- lead's edits, no question or personal data. The purge deletes drafts untouched for 30 days.
CREATE TABLE authoring_drafts (
    id TEXT PRIMARY KEY,
    school TEXT NOT NULL,
    body TEXT NOT NULL,
    revision INTEGER NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX authoring_drafts_updated ON authoring_drafts (updated_at);
