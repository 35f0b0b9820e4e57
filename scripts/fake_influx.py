#!/usr/bin/env python3
"""A small fake InfluxDB for tests (Python standard library only).

Records every request (method, path with query, headers, body) and answers 204 unless told
otherwise. Used for what a real InfluxDB cannot be made to do on demand: the v2/v3 endpoints,
429/503 with Retry-After, slow answers (timeouts), partial-write errors.

Command line:
  --port N             port on 127.0.0.1 (required)
  --record FILE        also append each request as one JSON line to FILE
  --status N           default status (204)
  --body TEXT          default response body ("")
  --retry-after TEXT   default Retry-After header (none)
  --delay SECONDS      default delay before answering (0)

Control endpoints (not recorded):
  GET  /_requests      JSON list of recorded requests: {"method","path","headers":{lower-case
                       name: value},"body_base64","body"(text, if UTF-8),
                       "decoded_base64"(gunzipped body when Content-Encoding: gzip)}
  POST /_script        JSON {"responses":[{"status":503,"body":"…","retry_after":"1","delay":0.5,
                       "headers":{…}}, …], "default":{…}?}: the listed responses answer the next
                       requests in order, then the default applies
  POST /_refuse        JSON {"containing":"text","status":400,"body":"…"}: answer every later
                       write whose body contains the text like InfluxDB 1.x refusing a bad line
                       (it does not say which one); scripted responses still come first
  POST /_reset         forget recorded requests, the script and the refusals
  GET  /_health        200
"""
import argparse
import base64
import gzip
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
REQUESTS = []
SCRIPT = []
DEFAULT = {}
REFUSALS = []
RECORD_PATH = None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real server

    def log_message(self, fmt, *args):
        sys.stderr.write("fake_influx: " + (fmt % args) + "\n")

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def answer(self, status, body=b"", headers=None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status != 204:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 204 and body:
            self.wfile.write(body)

    def control(self, body):
        global SCRIPT, DEFAULT, REFUSALS
        if self.command == "GET" and self.path == "/_requests":
            with LOCK:
                data = json.dumps(REQUESTS).encode()
            self.answer(200, data, {"Content-Type": "application/json"})
        elif self.command == "POST" and self.path == "/_script":
            spec = json.loads(body or b"{}")
            with LOCK:
                SCRIPT = list(spec.get("responses", []))
                if "default" in spec:
                    DEFAULT = spec["default"]
            self.answer(200, b"{}", {"Content-Type": "application/json"})
        elif self.command == "POST" and self.path == "/_refuse":
            spec = json.loads(body or b"{}")
            with LOCK:
                REFUSALS.append(spec)
            self.answer(200, b"{}", {"Content-Type": "application/json"})
        elif self.command == "POST" and self.path == "/_reset":
            with LOCK:
                REQUESTS.clear()
                SCRIPT = []
                REFUSALS = []
            self.answer(200, b"{}", {"Content-Type": "application/json"})
        elif self.path == "/_health":
            self.answer(200, b"ok")
        else:
            self.answer(404, b"unknown control endpoint")

    def handle_any(self):
        body = self.read_body()
        if self.path.startswith("/_"):
            return self.control(body)
        record = {
            "method": self.command,
            "path": self.path,
            "headers": {name.lower(): value for name, value in self.headers.items()},
            "body_base64": base64.b64encode(body).decode(),
        }
        try:
            record["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            record["body"] = None
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            try:
                record["decoded_base64"] = base64.b64encode(gzip.decompress(body)).decode()
            except OSError as error:
                record["decode_error"] = str(error)
        with LOCK:
            REQUESTS.append(record)
            if SCRIPT:
                response = SCRIPT.pop(0)
            else:
                refusal = next((r for r in REFUSALS if r.get("containing", "").encode() in body), None)
                response = {"status": refusal.get("status", 400), "body": refusal.get("body", "")} if refusal else DEFAULT
            if RECORD_PATH:
                with open(RECORD_PATH, "a") as f:
                    f.write(json.dumps(record) + "\n")
        delay = float(response.get("delay", 0) or 0)
        if delay > 0:
            time.sleep(delay)
        headers = dict(response.get("headers", {}))
        if response.get("retry_after") is not None:
            headers["Retry-After"] = str(response["retry_after"])
        status = int(response.get("status", 204))
        text = response.get("body", "")
        if text:
            headers.setdefault("Content-Type", "application/json")
        try:
            self.answer(status, text.encode(), headers)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)

    do_GET = handle_any
    do_POST = handle_any
    do_PUT = handle_any
    do_DELETE = handle_any


def main():
    global DEFAULT, RECORD_PATH
    parser = argparse.ArgumentParser(description="fake InfluxDB for tests")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--record")
    parser.add_argument("--status", type=int, default=204)
    parser.add_argument("--body", default="")
    parser.add_argument("--retry-after")
    parser.add_argument("--delay", type=float, default=0)
    args = parser.parse_args()
    RECORD_PATH = args.record
    DEFAULT = {"status": args.status, "body": args.body, "retry_after": args.retry_after, "delay": args.delay}
    # The test runner may start us with SIGTERM ignored or blocked (both are inherited across
    # exec); stop promptly on SIGTERM anyway.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"fake_influx listening on 127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
