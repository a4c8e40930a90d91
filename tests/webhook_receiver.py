"""A webhook receiver on loopback for the notification tests.

usage: webhook_receiver.py PORT_FILE LOG [FAIL_FIRST [DELAY]]

Listens on a free 127.0.0.1 port (written to PORT_FILE once it accepts),
and appends one JSON line per POST to LOG: {"path", "headers" (lower-case
names), "body" (text)}. The first FAIL_FIRST requests are answered 500
(to exercise retries); with DELAY, every answer waits that many seconds
first (a receiver too slow to wait for). Runs until killed.
"""
import http.server
import json
import sys
import threading
import time


def main():
    port_file, log = sys.argv[1], sys.argv[2]
    fail_first = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    delay = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    lock = threading.Lock()
    seen = [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(n).decode("utf-8", "replace")
            with lock:
                seen[0] += 1
                k = seen[0]
                with open(log, "a") as f:
                    f.write(json.dumps({"path": self.path, "body": body,
                                        "headers": {h.lower(): v for h, v in self.headers.items()}}) + "\n")
            if delay:
                time.sleep(delay)
            self.send_response(500 if k <= fail_first else 204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
