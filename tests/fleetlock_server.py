"""A fake FleetLock server on loopback, for apply --semaphore fleetlock+URL.

usage: fleetlock_server.py PORT_FILE LOG SLOTS

No FleetLock server is packaged in Debian (Fedora CoreOS's airlock needs
etcd and is not), so this one follows the protocol's documentation
(Zincati's docs/development/fleetlock/protocol.md): POST BASE/v1/pre-reboot
and BASE/v1/steady-state, each with {"client_params": {"id", "group"}}
and the header "fleet-lock-protocol: true"; a counting semaphore of SLOTS
per group whose locks are owned by id and recursive (a holder that locks
again gets 200, an unlock by a non-holder is 200 and changes nothing);
errors are 4xx/5xx with {"kind", "value"}. BASE is any path prefix.

It listens on a free 127.0.0.1 port (written to PORT_FILE once it
accepts) and appends one JSON line per request to LOG: {"t" (seconds),
"op", "id", "group", "status"}. POST /admin/free?id=ID drops ID's lock,
as an operator freeing a slot by hand would. Runs until killed.
"""
import http.server
import json
import re
import sys
import threading
import time
import urllib.parse

GROUP = re.compile(r"^[a-zA-Z0-9.-]+$")


def main():
    port_file, log, slots = sys.argv[1], sys.argv[2], int(sys.argv[3])
    lock = threading.Lock()
    holders = {}  # group -> list of ids

    class Handler(http.server.BaseHTTPRequestHandler):
        def answer(self, status, obj=None):
            body = json.dumps(obj).encode() if obj is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def note(self, op, cid, group, status):
            with open(log, "a") as f:
                f.write(json.dumps({"t": time.time(), "op": op, "id": cid, "group": group,
                                    "status": status}) + "\n")

        def do_POST(self):
            n = int(self.headers.get("content-length", "0"))
            raw = self.rfile.read(n)
            url = urllib.parse.urlparse(self.path)
            if url.path == "/admin/free":
                cid = urllib.parse.parse_qs(url.query).get("id", [""])[0]
                with lock:
                    for ids in holders.values():
                        if cid in ids:
                            ids.remove(cid)
                self.note("free", cid, None, 200)
                return self.answer(200, {})
            op = url.path.rsplit("/", 2)[-2:]
            if op not in (["v1", "pre-reboot"], ["v1", "steady-state"]):
                return self.answer(404, {"kind": "not_found", "value": "no such endpoint"})
            op = op[1]
            if self.headers.get("fleet-lock-protocol") != "true":
                self.note(op, None, None, 400)
                return self.answer(400, {"kind": "missing_header", "value": "fleet-lock-protocol header missing"})
            try:
                params = json.loads(raw)["client_params"]
                cid, group = params["id"], params["group"]
                if not isinstance(cid, str) or not cid or not isinstance(group, str) or not GROUP.match(group):
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                self.note(op, None, None, 400)
                return self.answer(400, {"kind": "bad_request", "value": "malformed client_params"})
            with lock:
                ids = holders.setdefault(group, [])
                if op == "pre-reboot":
                    if cid in ids:
                        status = 200
                    elif len(ids) < slots:
                        ids.append(cid)
                        status = 200
                    else:
                        status = 409
                elif cid in ids:
                    ids.remove(cid)
                    status = 200
                else:
                    status = 200
            self.note(op, cid, group, status)
            if status == 409:
                return self.answer(409, {"kind": "failed_lock_semaphore_full",
                                         "value": "semaphore currently full, all slots are locked already"})
            return self.answer(200, {})

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
