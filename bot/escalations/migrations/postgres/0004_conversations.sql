-- The web chat's conversations (bot/escalations/conversations.py): one row per question a browser
-- asked and the reply it was shown, so a reload keeps them, and the lead's answer that comes later
-- (read from the escalation the turn caused, escalation_id). conversation_key is the SHA-256 of the
-- browser's conversation id: the id itself, the only key to the history, is never stored.
-- The retention purge deletes turns POLICYBOT_RETENTION_DAYS after created_at.
CREATE TABLE conversation_turns (
    id TEXT PRIMARY KEY,
    conversation_key TEXT NOT NULL,
    school TEXT NOT NULL,
    question TEXT NOT NULL,
    reply TEXT NOT NULL,
    escalation_id TEXT,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX conversation_turns_key ON conversation_turns (conversation_key, created_at);
