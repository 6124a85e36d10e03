"""Running the outbox worker: `policybot worker` on its own, or inside `policybot serve`
(mount `run_worker` in the server's cleanup_ctx with a stop event set on shutdown)."""
from __future__ import annotations

import asyncio
import logging
import signal

from .factory import open_store
from .notify import NotifierRegistry, default_registry
from .outbox import OutboxWorker
from .store import EscalationStore

log = logging.getLogger("policybot.escalations.worker")


async def run_worker(settings, stop: asyncio.Event, registry: NotifierRegistry | None = None,
                     store: EscalationStore | None = None) -> None:
    """Deliver the outbox and run the routing timers until `stop` is set.

    `registry`: the server passes one with its chat notifiers added to the defaults;
    `store`: an already-open store to share (the caller closes it); else one is opened here.
    """
    registry = registry or default_registry(settings)
    own = store is None
    store = store or open_store(settings)
    if own:
        await store.open()
    try:
        await OutboxWorker(store, registry, settings).run(stop)
    finally:
        if own:
            await store.close()


def main(settings) -> int:
    """`policybot worker`: until SIGTERM or SIGINT, finishing the message in hand."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def _run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(settings, stop)

    asyncio.run(_run())
    return 0
