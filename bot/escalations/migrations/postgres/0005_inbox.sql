-- One durable inbox for every channel (bot/escalations/inbox.py): what staff asked on Slack, in
-- Teams or in the web chat, stored before the channel is acknowledged, so several processes behind
-- one database share dedupe, replay and feedback. Replaces the adapters' own SQLite tables
-- (slack_inbox, slack_feedback, teams_inbox, teams_references, teams_feedback), which are imported
-- at the first start and then dropped (bot/escalations/legacy_inbox.py).
--   dedupe_key: the channel's key for "the same question again" (Slack: team:channel:ts; Teams:
--     the conversation and activity ids; web: the SHA-256 of the page's request id); alt_key a
--     second one (Slack's event id). Both unique per channel; they outlive the retention purge.
--   data: the channel's ids for answering (kept); content: other text from the asker (blanked by the
--     purge with question); reply: the reply given, where the channel replays it (web).
--   claim_token / lease_until: which process is answering it. A process that dies holding a claim
--     leaves a lease that expires, and any process then takes the item over.
--   legacy_id: the id the item had in the adapters' old file (buttons posted then carry it).
CREATE TABLE inbox (
    id BIGSERIAL PRIMARY KEY,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    dedupe_key TEXT NOT NULL,
    alt_key TEXT,
    question TEXT NOT NULL DEFAULT '',
    data TEXT NOT NULL DEFAULT '{}',
    content TEXT NOT NULL DEFAULT '{}',
    reply TEXT,
    status TEXT NOT NULL DEFAULT 'pending',
    claim_token TEXT NOT NULL DEFAULT '',
    lease_until DOUBLE PRECISION,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at DOUBLE PRECISION NOT NULL,
    answered_at DOUBLE PRECISION,
    purged_at DOUBLE PRECISION,
    legacy_id BIGINT,
    UNIQUE (channel, dedupe_key),
    UNIQUE (channel, alt_key),
    UNIQUE (channel, legacy_id)
);
CREATE INDEX inbox_unanswered ON inbox (channel, status, lease_until);
CREATE INDEX inbox_answered ON inbox (status, answered_at);
-- Votes on an answer the shared feedback record does not know (answered before it kept feedback),
-- one per person per item, so such a press is still kept, not lost.
CREATE TABLE inbox_votes (
    inbox_id BIGINT NOT NULL REFERENCES inbox(id),
    voter TEXT NOT NULL,
    helpful INTEGER NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (inbox_id, voter)
);
-- Where a channel can write to later (Teams conversation references: a person's personal chat,
-- an asker's conversation), by the channel's own key.
CREATE TABLE channel_references (
    key TEXT PRIMARY KEY,
    reference TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);
