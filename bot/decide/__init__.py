"""Deciding what to do with a question: live concern (safeguarding), scope, confidence (calibration),
a clause's stance, and the decision itself with the Answer object (answer.py).
May import `bot.config`, `bot.knowledge` and `bot.retrieval`; never the escalations or the adapters."""
