"""What envoy_bench.py and envoy_differential.py share: a loopback JWKS server, HTTP GET, the
pieces of an Envoy configuration (listeners answering `/` themselves, the tokenguard filter,
a static cluster) and an Envoy process started with a free admin port and waited for."""

import http.client
import http.server
import json
import os
import subprocess
import threading
import time


def serve_jwks(doc):
    """A loopback server answering every GET with `doc` (`Cache-Control: max-age=3600`)."""

    class Jwks(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("cache-control", "public, max-age=3600")
            self.send_header("content-length", str(len(doc)))
            self.end_headers()
            self.wfile.write(doc)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def get(port, path, headers=None):
    """(status, lower-cased headers, body) of a GET on loopback."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    out = (r.status, {k.lower(): v for k, v in r.getheaders()}, body)
    c.close()
    return out


def listener(name, filters):
    """A loopback listener (port 0) whose route answers 200 itself, behind `filters`."""
    return {
        "name": name,
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
        "filter_chains": [{"filters": [{
            "name": "envoy.filters.network.http_connection_manager",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                "stat_prefix": name,
                "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [
                    {"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": "ok\n"}}}]}]},
                "http_filters": filters + [{"name": "envoy.filters.http.router", "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}],
            }}]}],
    }


def tokenguard_filter(wasm, vm_id, config):
    """The tokenguard filter (module `wasm`) with the JSON `config`, in VMs `vm_id`."""
    return [{"name": "envoy.filters.http.wasm", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
        "config": {"name": vm_id, "root_id": "tokenguard", "failure_policy": "FAIL_RELOAD",
                   "vm_config": {"vm_id": vm_id, "runtime": "envoy.wasm.runtime.v8",
                                 "code": {"local": {"filename": wasm}}},
                   "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                                     "value": json.dumps(config)}}}}]


def static_cluster(name, port):
    return {"name": name, "type": "STATIC", "connect_timeout": "1s", "load_assignment": {
        "cluster_name": name, "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {
            "socket_address": {"address": "127.0.0.1", "port_value": port}}}}]}]}}


class Envoy:
    """Envoy with `listeners` and `clusters` (admin on a free loopback port), started and
    waited for (`/ready` answers LIVE); `ports` maps listener names to their ports."""

    def __init__(self, envoy, work, listeners, clusters, concurrency=1):
        cfg = {"admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
               "static_resources": {"listeners": listeners, "clusters": clusters}}
        path = os.path.join(work, "envoy.json")
        open(path, "w").write(json.dumps(cfg))
        admin_file = os.path.join(work, "admin.txt")
        self.log = open(os.path.join(work, "envoy.log"), "w")
        self.proc = subprocess.Popen(
            [envoy, "-c", path, "--concurrency", str(concurrency), "--disable-hot-restart",
             "--admin-address-path", admin_file, "--log-level", "error"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while True:
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise SystemExit(f"envoy did not start: {open(self.log.name).read()[-2000:]}")
            try:
                addr = open(admin_file).read().strip()
                if addr:
                    status, _, body = get(int(addr.rsplit(":", 1)[1]), "/ready")
                    if status == 200 and body == b"LIVE\n":
                        break
            except OSError:
                pass
            time.sleep(0.1)
        self.admin = int(addr.rsplit(":", 1)[1])
        statuses = json.loads(get(self.admin, "/listeners?format=json")[2])["listener_statuses"]
        self.ports = {s["name"]: s["local_address"]["socket_address"]["port_value"] for s in statuses}

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
