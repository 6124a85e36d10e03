"""Typed keys for what the server shares with every channel mounted on it.

Kept apart from server.py so channel modules can import them without importing the app
factory (which imports the channels).
"""
from __future__ import annotations

from typing import Awaitable, Callable

from aiohttp import web

from bot.config import Settings

from .runtime import BotRuntime
from .rate_limit import RateLimiter

# A readiness check returns "" when fine, else a short reason; the escalation store adds one.
ReadinessCheck = Callable[[], Awaitable[str]]

SETTINGS = web.AppKey("settings", Settings)
RUNTIME = web.AppKey("runtime", BotRuntime)
READINESS_CHECKS = web.AppKey("readiness_checks", list)
# Readiness notes return a dict merged into a ready /readyz body (warnings that do not make the
# server unready, e.g. schools whose escalations would reach nobody).
READINESS_NOTES = web.AppKey("readiness_notes", list)
# Start-up warnings: callables given the loaded knowledge base, each returning lines to log once.
STARTUP_WARNINGS = web.AppKey("startup_warnings", list)
# Whether "Ask <lead>" can create an escalation for a school slug; False until issue 5 wires it.
CAN_ESCALATE = web.AppKey("can_escalate", Callable)
# The one rate limiter every channel takes questions from (keys name the person, or the address).
RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)
