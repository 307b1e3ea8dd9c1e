#!/usr/bin/python3
"""A threaded HTTP/1.1 test server on 127.0.0.1 for the download and metadata tests (stdlib only).

    /usr/bin/python3 tests/support/http_server.py --root DIR --port-file F [--log F]
        [--cert CERT --key KEY] [--metadata F] [--no-flavor-header] [--no-guest-attributes]
        [--guest-attributes-by-metadata] [--tree] [--faults F] [--slow GLOB=SECONDS]...

Binds port 0 and writes the chosen port to --port-file (atomically, once listening). Ends on
SIGTERM/SIGINT, and by itself when the process that started it goes away.

Files: GET/HEAD /files/<name> serves DIR/<name> with Accept-Ranges, ETag and Last-Modified.
  - Range: one range ("bytes=a-b", "a-", "-n") -> 206 with Content-Range; an unsatisfiable one ->
    416 with "Content-Range: bytes */SIZE"; several ranges -> the whole file (200), as RFC 9110 allows.
  - If-Range: an ETag (strong comparison) or an HTTP date equal to Last-Modified keeps the range;
    anything else gets the whole file (200).
With --tree, every other path is a file under DIR too, served the same way (a folder serves its
index.html): apt repositories and pip indexes for the GPU tests. --slow GLOB=SECONDS: a file whose
URL path matches GLOB (fnmatch) sends its body in SECONDS (a rate of its size / SECONDS, unless
the URL asks for a rate): the largest downloads of a real run, such as the CUDA toolkit's .debs,
take the longest.
Fault injection by query parameters. Each URL (path plus query) has its own request counter, so
tests that use different queries do not disturb each other:
  cut=N            close the connection after N body bytes (responses shorter than that are sent whole)
  cut_times=K      cut only the first K responses longer than N bytes (default: every one); a
                   one-byte probe is never cut, a probe answered with the whole file (norange) is
  norange=1        ignore Range and If-Range: always 200 with the whole file, no Accept-Ranges
  chunked=1        no Content-Length (chunked encoding); implies norange=1
  fail=CODE        answer CODE (e.g. 503, 429, 404) to the first fail_times requests (default 1)
  retry_after=S    with fail (or /status): add "Retry-After: S"
  etag_flip=K      the file changes K times: the served version starts at 0 and goes up by one
                   after every request (or, with cut=N, after every cut response) until it reaches
                   K, the real file in DIR. Older versions have the same size but other bytes
                   (every byte XOR a per-version value), their own ETag and an older Last-Modified,
                   so a client that resumes across a change without If-Range ends up with mixed
                   bytes (and a checksum mismatch), while one that starts over gets exactly DIR's
                   file and its checksum.
  rate=B           send at most B body bytes per second on this response
  validators=V     which validators the file has: both (default: ETag and Last-Modified), etag,
                   date (Last-Modified only), none, or weak (a weak W/ ETag, which as RFC 9110 says
                   never matches an If-Range, and Last-Modified)
Faults by client (--faults F, a JSON list re-read on every request; no file: none): for the URLs that clients
build themselves (apt from its index, pip from a PEP 503 page), where no query can be added. Each
rule {"path": REGEX (re.search on the decoded path), "user_agent": PREFIX (optional; any client
without it), "answer": CODE | "corrupt"}; the first rule that matches a file request decides:
  CODE       answer CODE (e.g. 500) instead of the file
  "corrupt"  the file's bytes, every one XORed with 0x5a: same size, ETag and dates, other bytes
Other paths:
  /redirect/<n>/files/<name>   302 to /redirect/<n-1>/..., the last one to /files/<name> (query kept)
  /redirect-to?to=URL          302 to URL, any scheme or host (e.g. from this https server to an http one)
  /status/<code>               answers <code> with a short text body
  /_idle                       answers once every earlier request is answered and logged (not logged
                               itself): read the log after it, so that the last entries are there
  /_bodies[?reset=1]           JSON {"active": N, "most": M}: file bodies being sent now, and the most
                               at once since the start (or the last reset, which sets it to N). A body
                               counts from before its headers go out until before its last chunk does,
                               so within the client's connection to it: M is never more than the
                               connections the client had open at once (not logged itself)
Metadata (GCE emulation, --metadata F, a JSON file re-read on every request), below /computeMetadata/v1/:
  GET instance/attributes/<key>, instance/zone, instance/id,
      instance/network-interfaces/0/access-configs/0/external-ip, ... (any path into the JSON);
      a folder lists its keys ("name" or "name/" per line), or with ?recursive=true (or alt=json) is JSON
  PUT instance/guest-attributes/<ns>/<key> stores the body (GET reads it back); 403 with
      --no-guest-attributes (a VM without enable-guest-attributes=TRUE), or with
      --guest-attributes-by-metadata unless the metadata's instance attribute
      enable-guest-attributes is TRUE (GCE's rule)
  Requests without "Metadata-Flavor: Google" get 403; missing keys 404; every answer carries
  "Metadata-Flavor: Google" unless --no-flavor-header. ?slow=SECONDS delays the answer.
Log (--log F): one JSON object per line and request: seq (the order the requests arrived in; lines
are written when the answer is sent, so sort by seq), method, path, query, range, if_range,
user_agent, status, bytes (body bytes sent), fault (the --faults answer given), and where they apply version (etag_flip), cut (true when cut), body (PUT),
error (the client hung up).
"""

import argparse
import email.utils
import fnmatch
import json
import os
import re
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK = 256 * 1024


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.counters = {}  # URL -> requests so far
        self.cuts = {}  # URL -> responses cut so far
        self.versions = {}  # URL -> current etag_flip version
        self.guest_attributes = {}
        self.in_flight = 0  # requests being answered and not logged yet
        self.active_bodies = 0  # file bodies being sent (see /_bodies)
        self.most_bodies = 0
        self.sequence = 0  # requests so far, in the order they arrived
        self.idle = threading.Condition(self.lock)
        self.log_file = open(args.log, "a", encoding="utf-8") if args.log else None

    def count(self, url):
        with self.lock:
            self.counters[url] = self.counters.get(url, 0) + 1
            return self.counters[url]

    def log(self, entry):
        if not self.log_file:
            return
        line = json.dumps(entry, sort_keys=True)
        with self.lock:
            self.log_file.write(line + "\n")
            self.log_file.flush()


def parse_range(header, size):
    """(start, end_inclusive), "unsatisfiable", or None (no usable single range)."""
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header or "")
    if not match or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if first:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
        if last and int(last) < start:
            return None
        if start >= size:
            return "unsatisfiable"
        return start, end
    suffix = int(last)
    if suffix == 0 or size == 0:
        return "unsatisfiable"
    return max(0, size - suffix), size - 1


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cs231n-test-server/1"

    def setup(self):
        context = self.server.ssl_context
        if context is not None:
            self.request.settimeout(10)
            self.request = context.wrap_socket(self.request, server_side=True)
            self.request.settimeout(None)
        super().setup()

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    # -- plumbing ------------------------------------------------------------------------------

    def begin(self):
        parsed = urllib.parse.urlsplit(self.path)
        self.url_path = urllib.parse.unquote(parsed.path)
        self.url_query = parsed.query
        self.params = dict(urllib.parse.parse_qsl(parsed.query))
        self.entry = {
            "method": self.command,
            "path": self.url_path,
            "query": self.url_query,
            "range": self.headers.get("Range"),
            "if_range": self.headers.get("If-Range"),
            "user_agent": self.headers.get("User-Agent"),
            "status": None,
            "bytes": 0,
        }
        self.sent = 0

    def int_param(self, name, default=None):
        value = self.params.get(name)
        return int(value) if value not in (None, "") else default

    def finish_entry(self):
        self.entry["bytes"] = self.sent
        self.server.state.log(self.entry)

    def start_response(self, status, headers):
        self.entry["status"] = status
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()

    def send_small(self, status, body, content_type="text/plain", extra=()):
        data = body.encode() if isinstance(body, str) else body
        headers = [("Content-Type", content_type), ("Content-Length", str(len(data)))] + list(extra)
        self.start_response(status, headers)
        if self.command != "HEAD":
            self.wfile.write(data)
            self.sent += len(data)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except OSError:  # the client hung up (ConnectionError, ssl.SSLError and timeouts are OSErrors)
            self.close_connection = True

    def dispatch(self):
        state = self.server.state
        if self.path.startswith("/_idle"):
            return self.wait_idle()
        if self.path.startswith("/_bodies"):
            return self.bodies()
        self.entry = None
        with state.lock:
            state.in_flight += 1
            state.sequence += 1
            sequence = state.sequence
        try:
            self.begin()
            self.entry["seq"] = sequence
            self.route()
        except OSError as error:
            if self.entry is not None:
                self.entry["error"] = "connection lost: %s" % error.__class__.__name__
            raise
        finally:
            if self.entry is not None and not self.entry.get("logged"):
                self.finish_entry()
                self.entry["logged"] = True
            with state.lock:
                state.in_flight -= 1
                state.idle.notify_all()

    def wait_idle(self):
        """/_idle answers once every request so far is answered and logged (at most 10 s)."""
        state = self.server.state
        with state.lock:
            idle = state.idle.wait_for(lambda: state.in_flight == 0, timeout=10)
        body = b"idle\n" if idle else b"busy\n"
        self.send_response(200 if idle else 503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def bodies(self):
        state = self.server.state
        with state.lock:
            if "reset=1" in self.path:
                state.most_bodies = state.active_bodies
            body = json.dumps({"active": state.active_bodies, "most": state.most_bodies}).encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def count_body(self, delta):
        state = self.server.state
        with state.lock:
            state.active_bodies += delta
            state.most_bodies = max(state.most_bodies, state.active_bodies)
        self.body_counted = delta > 0

    def uncount_body(self):
        if getattr(self, "body_counted", False):
            self.count_body(-1)

    do_GET = do_HEAD = do_PUT = do_POST = dispatch

    def route(self):
        path = self.url_path
        if path.startswith("/computeMetadata/"):
            return self.metadata()
        match = re.fullmatch(r"/redirect/(\d+)(/.*)", path)
        if match:
            remaining = int(match.group(1))
            target = match.group(2) if remaining <= 1 else "/redirect/%d%s" % (remaining - 1, match.group(2))
            if self.url_query:
                target += "?" + self.url_query
            return self.send_small(302, "redirect\n", extra=[("Location", target)])
        if path == "/redirect-to":
            return self.send_small(302, "redirect\n", extra=[("Location", self.params.get("to", "/"))])
        match = re.fullmatch(r"/status/(\d{3})", path)
        if match:
            extra = [("Retry-After", self.params["retry_after"])] if "retry_after" in self.params else []
            return self.send_small(int(match.group(1)), "status %s\n" % match.group(1), extra=extra)
        if path.startswith("/files/"):
            return self.serve_file(path[len("/files/"):])
        if self.server.args.tree:
            return self.serve_file(path.lstrip("/"), tree=True)
        return self.send_small(404, "not found\n")

    # -- files ---------------------------------------------------------------------------------

    def serve_file(self, name, tree=False):
        state = self.server.state
        url = self.path
        number = state.count(url)
        fail = self.int_param("fail")
        if fail is not None and number <= self.int_param("fail_times", 1):
            extra = [("Retry-After", self.params["retry_after"])] if "retry_after" in self.params else []
            return self.send_small(fail, "injected failure %d\n" % fail, extra=extra)
        fault = self.client_fault()
        if isinstance(fault, int):
            self.entry["fault"] = fault
            return self.send_small(fault, "injected failure %d for this client\n" % fault)
        full = os.path.join(self.server.args.root, name)
        if tree and os.path.isdir(full):
            full = os.path.join(full, "index.html")
        outside = ".." in name.split("/") if tree else ("/" in name or name in ("", ".", ".."))
        if outside or not os.path.isfile(full):
            return self.send_small(404, "no such file\n")
        info = os.stat(full)
        size = info.st_size
        flips = self.int_param("etag_flip", 0)
        cut = self.int_param("cut")
        with state.lock:
            version = state.versions.get(url, 0) if flips else 0
            if flips and cut is None and version < flips:
                state.versions[url] = version + 1  # the next request sees the next version
        key = 0
        etag = '"%x-%x"' % (size, info.st_mtime_ns)
        mtime = int(info.st_mtime)
        if flips and version < flips:
            self.entry["version"] = version
            key = (0x5B + version * 37) % 255 + 1  # never 0: every byte differs
            etag = '"%x-%x-v%d"' % (size, info.st_mtime_ns, version)
            mtime -= (flips - version) * 3600
        elif flips:
            self.entry["version"] = version
        if fault == "corrupt":
            self.entry["fault"] = fault
            key = 0x5A
        last_modified = email.utils.formatdate(mtime, usegmt=True)

        chunked = self.params.get("chunked") == "1"
        ranges_ok = self.params.get("norange") != "1" and not chunked
        status, start, end = 200, 0, size - 1
        validators = self.params.get("validators", "both")
        if validators == "weak":
            etag = "W/" + etag
        # pip reads an index page only when it says it is HTML (PEP 503, and pip's _get_simple_response).
        headers = [("Content-Type", "text/html" if full.endswith(".html") else "application/octet-stream")]
        if validators in ("both", "etag", "weak"):
            headers.append(("ETag", etag))
        if validators in ("both", "date", "weak"):
            headers.append(("Last-Modified", last_modified))
        # If-Range matches a strong ETag exactly, or the Last-Modified date (RFC 9110 13.1.5: a
        # weak entity tag never matches).
        current = [value for name, value in headers if name in ("ETag", "Last-Modified") and not value.startswith("W/")]
        if ranges_ok:
            headers.append(("Accept-Ranges", "bytes"))
            wanted = parse_range(self.headers.get("Range"), size) if self.headers.get("Range") else None
            if_range = self.headers.get("If-Range")
            if wanted is not None and if_range is not None and if_range.strip() not in current:
                wanted = None  # If-Range names another version: the whole (current) file
            if wanted == "unsatisfiable":
                return self.send_small(416, "range not satisfiable\n", extra=[("Content-Range", "bytes */%d" % size)])
            if wanted is not None:
                status, (start, end) = 206, wanted
                headers.append(("Content-Range", "bytes %d-%d/%d" % (start, end, size)))
        length = max(0, end - start + 1)
        if chunked:
            headers.append(("Transfer-Encoding", "chunked"))
        else:
            headers.append(("Content-Length", str(length)))

        cut_now = False
        if cut is not None and length > cut and self.command != "HEAD":
            with state.lock:
                done = state.cuts.get(url, 0)
                if done < self.int_param("cut_times", 1 << 62):
                    state.cuts[url] = done + 1
                    cut_now = True
                    if flips and state.versions.get(url, 0) < flips:
                        state.versions[url] = state.versions.get(url, 0) + 1  # changed while cut off
        rate = self.int_param("rate")
        for slow in self.server.args.slow:
            pattern, _, seconds = slow.rpartition("=")
            if rate is None and fnmatch.fnmatch(self.url_path, pattern):
                rate = max(1, int(length / float(seconds)))
        self.count_body(1)
        try:
            self.start_response(status, headers)
            if self.command == "HEAD":
                return
            limit = min(length, cut) if cut_now else length
            self.send_body(full, start, limit, key, chunked, rate, not cut_now)
        finally:
            self.uncount_body()
        if cut_now:
            self.entry["cut"] = True
            self.close_connection = True
            self.wfile.flush()
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def client_fault(self):
        """The --faults answer for this request (a status code or "corrupt"), or None."""
        if not self.server.args.faults or not os.path.exists(self.server.args.faults):
            return None
        with open(self.server.args.faults, encoding="utf-8") as stream:
            rules = json.loads(stream.read() or "[]")
        agent = self.headers.get("User-Agent") or ""
        for rule in rules:
            if re.search(rule["path"], self.url_path) and agent.startswith(rule.get("user_agent", "")):
                return rule["answer"]
        return None

    def send_body(self, full, offset, length, key, chunked, rate, complete):
        table = bytes(b ^ key for b in range(256)) if key else None
        began = time.monotonic()
        step = CHUNK if not rate else max(1, min(CHUNK, rate // 20))
        with open(full, "rb") as stream:
            stream.seek(offset)
            remaining = length
            while remaining > 0:
                data = stream.read(min(step, remaining))
                if not data:
                    break
                if table:
                    data = data.translate(table)
                if len(data) >= remaining:
                    self.uncount_body()  # before the client can see the end of it
                if chunked:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                else:
                    self.wfile.write(data)
                self.sent += len(data)
                remaining -= len(data)
                if rate:
                    ahead = self.sent / rate - (time.monotonic() - began)
                    if ahead > 0:
                        time.sleep(ahead)
        if chunked and complete:
            self.wfile.write(b"0\r\n\r\n")

    # -- metadata ------------------------------------------------------------------------------

    def metadata(self):
        args = self.server.args
        flavor = [] if args.no_flavor_header else [("Metadata-Flavor", "Google")]
        slow = self.params.get("slow")
        if slow:
            time.sleep(float(slow))
        prefix = "/computeMetadata/v1/"
        if not self.url_path.startswith(prefix) and self.url_path != prefix.rstrip("/"):
            return self.send_small(404, "not found\n", extra=flavor)
        if self.headers.get("Metadata-Flavor") != "Google":
            return self.send_small(403, "Missing Metadata-Flavor:Google header.\n", extra=flavor)
        relative = self.url_path[len(prefix):]
        match = re.fullmatch(r"instance/guest-attributes/([^/]+)/([^/]+)", relative)
        if self.command == "PUT":
            body = self.read_body().decode("utf-8", "replace")
            self.entry["body"] = body
            if not match:
                return self.send_small(404, "not found\n", extra=flavor)
            if args.no_guest_attributes or (args.guest_attributes_by_metadata and not self.guest_attributes_enabled()):
                return self.send_small(403, "Guest attributes endpoint access is disabled.\n", extra=flavor)
            with self.server.state.lock:
                self.server.state.guest_attributes.setdefault(match.group(1), {})[match.group(2)] = body
            return self.send_small(200, "", extra=flavor)
        if self.command not in ("GET", "HEAD"):
            return self.send_small(405, "method not allowed\n", extra=flavor)
        try:
            with open(args.metadata, encoding="utf-8") if args.metadata else open(os.devnull) as stream:
                tree = json.loads(stream.read() or "{}")
        except (OSError, ValueError) as error:
            return self.send_small(500, "bad --metadata file: %s\n" % error, extra=flavor)
        with self.server.state.lock:
            guest = json.loads(json.dumps(self.server.state.guest_attributes))
        tree.setdefault("instance", {})["guest-attributes"] = guest
        node = tree
        for part in [part for part in relative.split("/") if part]:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return self.send_small(404, "not found\n", content_type="text/html", extra=flavor)
        as_json = self.params.get("recursive") == "true" or self.params.get("alt") == "json"
        if as_json:
            return self.send_small(200, json.dumps(node), content_type="application/json", extra=flavor)
        if isinstance(node, dict):
            names = [key + "/" if isinstance(value, (dict, list)) else key for key, value in node.items()]
            return self.send_small(200, "".join(name + "\n" for name in names), content_type="application/text", extra=flavor)
        if isinstance(node, list):
            return self.send_small(200, "".join("%d/\n" % i for i in range(len(node))), content_type="application/text", extra=flavor)
        text = node if isinstance(node, str) else json.dumps(node)
        return self.send_small(200, text, content_type="application/text", extra=flavor)


    def guest_attributes_enabled(self):
        try:
            with open(self.server.args.metadata, encoding="utf-8") as stream:
                attributes = json.load(stream).get("instance", {}).get("attributes", {})
        except (OSError, ValueError, TypeError, AttributeError):
            return False
        return str(attributes.get("enable-guest-attributes", "")).upper() == "TRUE"


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            return  # clients that hang up or refuse the certificate are part of the tests
        super().handle_error(request, client_address)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=".")
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--metadata")
    parser.add_argument("--faults")
    parser.add_argument("--no-flavor-header", action="store_true")
    parser.add_argument("--no-guest-attributes", action="store_true",
                        help="answer guest-attribute PUTs 403, as for a VM without enable-guest-attributes=TRUE")
    parser.add_argument("--guest-attributes-by-metadata", action="store_true",
                        help="answer guest-attribute PUTs 403 unless the metadata sets enable-guest-attributes=TRUE")
    parser.add_argument("--tree", action="store_true", help="serve every path as a file under --root")
    parser.add_argument("--slow", action="append", default=[], metavar="GLOB=SECONDS",
                        help="send the body of a file whose URL path matches GLOB in SECONDS")
    args = parser.parse_args()

    server = Server(("127.0.0.1", args.port), Handler)
    server.args = args
    server.state = State(args)
    server.ssl_context = None
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        server.ssl_context = context

    temporary = args.port_file + ".tmp"
    with open(temporary, "w", encoding="utf-8") as stream:
        stream.write("%d\n" % server.server_address[1])
    os.replace(temporary, args.port_file)

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    parent = os.getppid()

    def watch_parent():
        while os.getppid() == parent:
            time.sleep(0.5)
        stop()

    threading.Thread(target=watch_parent, daemon=True).start()
    server.serve_forever(poll_interval=0.1)
    server.server_close()


if __name__ == "__main__":
    main()
