#!/usr/bin/env python3
"""Launcher for the AWS emulator used by the privateapi operator's tests.

Runs moto's server (the same WSGI app as `moto_server`) with our patches from
patches.py applied, plus a few control endpoints under /_privateapi/ (see
patches.py). Normally started by `scripts/emulator.sh start`; by hand:

    $VENV/bin/python scripts/moto/server.py --host 127.0.0.1 --port 5055

It prints one line "privateapi-moto ready on http://HOST:PORT" once it listens, and
stops cleanly on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=int(os.environ.get("MOTO_PORT", "5055")))
    ap.add_argument("--quiet", action="store_true", help="don't log each request")
    args = ap.parse_args(argv)

    # Read by moto when its backends are created: set before importing moto.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    os.environ["MOTO_PORT"] = str(args.port)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    sys.dont_write_bytecode = True  # no __pycache__ in the work tree for patches.py
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import moto
    import patches
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    report = patches.apply_all()
    width = max(len(n) for n in report)
    print(f"privateapi-moto: moto {moto.__version__}, patches:", flush=True)
    for name, status in report.items():
        print(f"  {name:<{width}}  {status}", flush=True)
    print(f"  ecs running mode: {patches.CONFIG['ecs_running']!r}", flush=True)

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(
        args.host,
        args.port,
        patches.control_app(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )

    def stop(signum: int, _frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"privateapi-moto ready on http://{args.host}:{args.port}", flush=True)
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    print("privateapi-moto stopped", flush=True)
    sys.stderr.flush()
    os._exit(0)  # all state is in memory: skip the slow interpreter teardown


if __name__ == "__main__":
    sys.exit(main())
