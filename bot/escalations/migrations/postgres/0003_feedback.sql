-- Feedback from every channel (Slack, Teams, web chat). One row per answer a channel gave
-- (event 'answered', helpful NULL, asker_id the asker) and one per person's vote on that answer
-- (event 'vote', helpful 0/1, asker_id the voter), so "answered" and the votes are counted from
-- one table. answer_ref names the answer as its channel does (slack:<inbox id>, teams:<inbox id>,
-- web:<random>); a second vote by the same person on the same answer replaces the first.
-- question is kept on the 'answered' row only and blanked by the retention purge (purged_at).
CREATE TABLE feedback (
    id TEXT PRIMARY KEY,
    answer_ref TEXT NOT NULL,
    event TEXT NOT NULL,
    school TEXT NOT NULL,
    platform TEXT NOT NULL,
    asker_id TEXT NOT NULL DEFAULT '',
    decision TEXT NOT NULL DEFAULT '',
    clauses TEXT NOT NULL DEFAULT '[]',
    helpful INTEGER,
    question TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    purged_at DOUBLE PRECISION,
    UNIQUE (answer_ref, event, asker_id)
);
CREATE INDEX feedback_school ON feedback (school, created_at);
CREATE INDEX escalations_created ON escalations (school, created_at);
