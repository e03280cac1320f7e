"""A toy OpenAI-compatible server for the judge-server lifecycle tests (the real vLLM one is tested too).

    python toy_judge_server.py HOST PORT NAME PIDFILE [--delay S] [--crash] [--never-ready] [--ignore-term]

Writes its own pid and that of a grandchild it spawns (like vLLM's engine core) to PIDFILE, one per line, then
answers GET /v1/models with NAME after ``--delay`` seconds. ``--crash`` exits with code 3 after printing a
message; ``--never-ready`` never binds; ``--ignore-term`` ignores SIGTERM (only SIGKILL stops it).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer


def main() -> None:
    host, port, name, pidfile = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    flags = sys.argv[5:]
    delay = float(flags[flags.index("--delay") + 1]) if "--delay" in flags else 0.0
    if "--ignore-term" in flags:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    with open(pidfile, "w") as fh:
        fh.write(f"{__import__('os').getpid()}\n{grandchild.pid}\n")
    print(f"toy server {name} starting on {host}:{port}", flush=True)
    if "--crash" in flags:
        print("RuntimeError: toy engine failed to start: no memory for the KV cache", flush=True)
        sys.exit(3)
    if "--never-ready" in flags:
        while True:
            time.sleep(1)
    time.sleep(delay)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            body = json.dumps({"object": "list", "data": [{"id": name, "object": "model"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    try:
        server = HTTPServer((host, port), Handler)
    except OSError as exc:
        print(f"ERROR: [Errno {exc.errno}] error while attempting to bind: {exc.strerror}", flush=True)
        sys.exit(1)
    server.serve_forever()


if __name__ == "__main__":
    main()
