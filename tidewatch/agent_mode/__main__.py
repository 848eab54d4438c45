"""Run the metrics agent on its own: ``python -m tidewatch.agent_mode --config
prometheus.yml --data-dir DIR [--listen 127.0.0.1:9095]``.

Serves ``/metrics`` (the agent's self metrics), ``/-/healthy``, ``/-/ready`` and
``/-/reload``; SIGHUP reloads the config too; SIGINT/SIGTERM stop it after a bounded
final flush.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from tidewatch.agent_mode.lifecycle import AgentReloader, serve_lifecycle
from tidewatch.config.loader import load_config


async def serve(config_path: str, data_dir: str, listen: str) -> None:
    reloader = AgentReloader(lambda: load_config(config_path), data_dir)
    runner = await serve_lifecycle(reloader, listen)
    await reloader.start(load_config(config_path))

    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(reloader.reload_logged()))
    loop.add_signal_handler(signal.SIGTERM, done.set)
    loop.add_signal_handler(signal.SIGINT, done.set)
    await done.wait()
    await reloader.stop()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tidewatch.agent_mode", description=__doc__)
    p.add_argument("--config", required=True, help="prometheus.yml or tidewatch.yml")
    p.add_argument("--data-dir", required=True, help="where the remote-write queues live")
    p.add_argument("--listen", default="127.0.0.1:9095", help="host:port of /metrics")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency, but optional here
        pass
    asyncio.run(serve(args.config, args.data_dir, args.listen))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
