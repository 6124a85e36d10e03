"""The knowledge base as data: load + validate schools, policies, clauses and synonyms (load.py),
YAML with line numbers, drafting clauses from a policy text (ingest), source coverage.
May import only `bot.retrieval.text` (normalising) and `bot.decide.stance` (a clause's stance on load)."""
