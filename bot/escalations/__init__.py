"""The escalation workflow: what the bot cannot answer safely reaches the school's named lead,
and the lead's answer reaches the asker, durably (a database outbox) and platform-neutrally.

Adapters use `EscalationService` (service.py) and register a `Notifier` per channel
(notify.py); the worker (worker.py) delivers the outbox and runs the routing timers. store.py is
the interface both backends implement; factory.py picks the configured one.
May import `bot.config`, `bot.knowledge` (contacts) and `bot.decide.answer` (the Answer escalated); never the adapters.
"""
from .model import (Asker, Escalation, IllegalTransition, NotFound, OutboxMessage)  # noqa: F401
