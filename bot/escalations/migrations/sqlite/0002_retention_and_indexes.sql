-- Retention: when question/answer text was blanked. Indexes for the worker's claim and the list.
ALTER TABLE escalations ADD COLUMN purged_at REAL;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_escalation ON outbox (escalation_id);
CREATE INDEX escalations_status ON escalations (status, school, created_at);
