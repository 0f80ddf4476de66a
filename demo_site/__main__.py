"""``python -m demo_site``: run the demo bank site on an embedded SQLite file."""

from __future__ import annotations

import argparse

import uvicorn

from .app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m demo_site", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--database", default="demo_site/data/demo.sqlite3")
    args = parser.parse_args()
    app = create_app(args.database)
    print(f"Demo Bank: http://{args.host}:{args.port}/  (database: {args.database})", flush=True)
    print(f"Activity log: .venv/bin/kxt --database {args.database} activities", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
