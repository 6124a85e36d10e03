"""Settings -> the Teams `Channel` for `policybot serve`: route, store, answerer, notifier.

When Teams is on: MICROSOFT_APP_ID set (with its password, or a managed identity), or
POLICYBOT_TEAMS_EMULATOR=1 for the Bot Framework Emulator on this machine. An endpoint with no
app id accepts unauthenticated requests, so anything that looks like a half-configured
production bot (a password or a tenant mapping but no app id, or emulator mode off loopback or
with an app id) stops the start with a ConfigError saying why, instead of running open.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import AsyncIterator

from aiohttp import web

from adapters.appkeys import RATE_LIMITER, RUNTIME
from adapters.channel import Channel
from adapters.escalation_wiring import ESCALATION_CONSUMERS
from adapters.place_mapping import load as load_mapping
from adapters.request_log import REQUEST_ID
from adapters.store_wiring import StoreHolder, use_store
from adapters.web_security import BodyTooLarge, is_loopback, read_json_capped
from bot.config import ConfigError, Settings
from bot.escalations.inbox import Inbox as SharedInbox, InboxUnavailable
from bot.escalations.legacy_inbox import import_once

from .answering import TeamsAnswerer
from .delivery import RetryingSender
from .framework import BotFramework, KeysUnavailable
from .model import BadActivity, Unauthorized
from .notifier import register_teams_notifier
from .store import LEGACY_TABLES, TeamsStore, legacy_rows

log = logging.getLogger("policybot.teams")

MESSAGES_PATH = "/api/messages"
VARIABLE = "TEAMS_TENANT_SCHOOLS"
OFF_BECAUSE = "set MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD, or POLICYBOT_TEAMS_EMULATOR=1 for the Emulator"
# Activities are small; a card submit with a long answer is the largest we expect.
MAX_ACTIVITY_BYTES = 256 * 1024
TEAMS_ADAPTER = web.AppKey("teams_adapter", TeamsAnswerer)


def check(settings: Settings) -> bool:
    """True when Teams should be on; ConfigError when the settings are unsafe or incomplete."""
    s = settings
    if s.teams_emulator:
        if s.microsoft_app_id:
            raise ConfigError("POLICYBOT_TEAMS_EMULATOR=1 runs /api/messages without authentication; "
                              "it cannot be combined with MICROSOFT_APP_ID. Unset one of them.")
        if not is_loopback(s.host):
            raise ConfigError(f"POLICYBOT_TEAMS_EMULATOR=1 is for the Emulator on this machine only, but the "
                              f"server binds to {s.host}; bind to 127.0.0.1 or configure MICROSOFT_APP_ID.")
        return True
    if not s.microsoft_app_id:
        stray = [n for n, v in (("MICROSOFT_APP_PASSWORD", s.microsoft_app_password),
                                ("MICROSOFT_APP_TENANT_ID", s.microsoft_app_tenant_id),
                                (VARIABLE, s.teams_tenant_schools)) if v]
        if stray:
            raise ConfigError(f"{', '.join(stray)} set but MICROSOFT_APP_ID is not: Teams would run without "
                              "authentication. Set MICROSOFT_APP_ID (or POLICYBOT_TEAMS_EMULATOR=1 for local "
                              "Emulator testing only).")
        return False
    if s.microsoft_app_type != "UserAssignedMSI" and not s.microsoft_app_password:
        raise ConfigError(f"MICROSOFT_APP_ID is set but MICROSOFT_APP_PASSWORD is not "
                          f"(MICROSOFT_APP_TYPE={s.microsoft_app_type}).")
    if s.microsoft_app_type != "MultiTenant" and not s.microsoft_app_tenant_id:
        raise ConfigError(f"MICROSOFT_APP_TYPE={s.microsoft_app_type} needs MICROSOFT_APP_TENANT_ID.")
    return True


def teams_channel(settings: Settings, *, credentials_factory=None, retry_base_seconds: float = 0.5) -> Channel:
    """`credentials_factory` (a Bot Framework ServiceClientCredentialsFactory) and the retry base
    are for tests; production uses the SDK's factory built from the settings."""
    if not check(settings):
        return Channel("teams", None, OFF_BECAUSE)
    schools = load_mapping(settings.teams_tenant_schools, VARIABLE, settings.knowledge_dir,
                           allow_wildcard=settings.teams_emulator)
    if not schools.slugs():
        log.warning("teams: %s is empty, so every tenant will be told policybot is not set up", VARIABLE)

    def mount(app: web.Application) -> None:
        framework = BotFramework(settings, credentials_factory=credentials_factory)
        stored_in = use_store(app, settings)  # the shared inbox lives in the escalation store
        store = TeamsStore(SharedInbox(stored_in.get, "teams", lease_seconds=settings.delivery_lease_seconds,
                                       retry_base_seconds=settings.retry_base_seconds,
                                       retry_max_seconds=settings.retry_max_seconds))
        send = RetryingSender(framework.send, retries=settings.teams_api_retries, base_seconds=retry_base_seconds)
        answerer = TeamsAnswerer(app[RUNTIME], store, send, schools, settings.log_questions,
                                 delivery_wait=settings.delivery_wait_seconds,
                                 limit=app[RATE_LIMITER].take if RATE_LIMITER in app else None)
        app[TEAMS_ADAPTER] = answerer
        app.router.add_post(MESSAGES_PATH, _endpoint(framework, answerer))
        if ESCALATION_CONSUMERS in app:
            def use(service, registry) -> None:
                answerer.escalations = service
                register_teams_notifier(registry, store, send)
            app[ESCALATION_CONSUMERS].append(use)
        app.cleanup_ctx.append(_lifecycle(stored_in, answerer, settings))

    where = MESSAGES_PATH + (" (Emulator mode: no authentication, loopback only)" if settings.teams_emulator else "")
    return Channel("teams", mount, where=where)


def _endpoint(framework: BotFramework, answerer: TeamsAnswerer):
    async def messages(request: web.Request) -> web.StreamResponse:
        rid = request.get(REQUEST_ID, "-")
        try:
            payload = await read_json_capped(request, MAX_ACTIVITY_BYTES)
            if not isinstance(payload, dict):
                raise ValueError("not an object")
            invoke = await framework.receive(payload, request.headers.get("Authorization", ""), answerer.receive)
        except BodyTooLarge:
            return web.json_response({"error": "activity too large"}, status=413)
        except (ValueError, BadActivity):  # json and unicode errors are ValueErrors
            return web.json_response({"error": "not a Bot Framework activity"}, status=400)
        except Unauthorized as exc:
            # ids only: a rejected body may hold a question naming a child
            log.warning("teams: rejected request (%s): request=%s", exc, rid)
            return web.json_response({"error": "unauthorized"}, status=401)
        except KeysUnavailable as exc:
            log.error("teams: cannot check tokens, signing keys unavailable (%s): request=%s", exc, rid)
            return web.json_response({"error": "try again later"}, status=503, headers={"Retry-After": "10"})
        except InboxUnavailable as exc:
            log.error("teams: activity not stored (%s), not acknowledged: request=%s", exc, rid)
            return web.json_response({"error": "try again later"}, status=503, headers={"Retry-After": "5"})
        if invoke is not None:
            return web.json_response(invoke)
        return web.Response(status=200)

    return messages


async def import_old_store(stored_in: StoreHolder, settings: Settings) -> int:
    """The adapters' old SQLite tables (teams_inbox, teams_references, teams_feedback), copied into
    the shared inbox once and dropped."""
    return await import_once(stored_in.store, settings.db_path, LEGACY_TABLES, legacy_rows, "teams store")


def _lifecycle(stored_in: StoreHolder, answerer: TeamsAnswerer, settings: Settings):
    """Imports the old store tables once; answers in the background what is stored and held by
    nobody, at start and every POLICYBOT_WORKER_POLL_SECONDS (a process sharing the database may
    have died holding it). The retention purge is the escalation worker's (store.purge)."""

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await import_old_store(stored_in, settings)
        replay = asyncio.create_task(answerer.sweep(settings.worker_poll_seconds), name="teams-replay")
        yield
        replay.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await replay
        await answerer.drain()

    return lifecycle
