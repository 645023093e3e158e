#!/usr/bin/env python3
"""The tokenguard Envoy filter, as a stranger uses it.

Written from docs/gateway.md, docs/simulator.md, the README and tests/outsider/README.md
alone (plus `tokenguard-sim ... --help` for the flags the docs leave out); no source of the
filter, the simulator or its tests was read. Python 3 standard library only, loopback only.

    ENVOY=.../envoy FILTER_WASM=.../tokenguard_proxy_wasm.wasm \
    TOKENGUARD_SIM=target/debug/tokenguard-sim python3 tests/outsider/gateway_stranger.py

Own Envoy configuration (not the doc's block), four listeners: `cookie_api` takes the token
from the cookie `tg_session` (forwarded claims, skip_paths, tick_ms 100, refresh times of a
second or two); `header_api` shares its `vm_id` (so its key set) but takes the token from the
header `x-api-token`, with its own audience, leeway 30 and forwarded claim; `bearer_api` has
only the required members (every default) and its own `vm_id` and JWKS path; `once_api`
shares that `vm_id`, with replay protection on and no token cache. The JWKS
cluster points at a small relay of ours in front of `tokenguard-sim idp serve`: it passes the
IdP's JWK Set on (adding two keys of our own: an RSA key whose tokens this script signs by
hand with pow(), and an Ed25519 key), can serve an empty, a malformed or a too slow document
or its own `max-age`, and logs every fetch. Tokens: the IdP's ES256 access tokens
(JWT-bearer grant), its Auth0-shaped RS256 API tokens (client_credentials +
private_key_jwt), EdDSA from `tokenguard-sim sign`, hand-made RS256 tokens for the rest.

Where the docs were silent or off (observed with Envoy 1.40 and the filter of 2026-12-04):
- The 503 bodies end with a line feed (`unavailable: no_key_set\n`); the doc shows none.
  Both spellings pass here.
- The first request naming a new `kid` is answered 401 key_not_found; the refetch it
  triggers comes when `unknown_kid_interval` has passed since the last fetch of any kind
  (here ~1 s later), and only then does the kid verify. The doc says "triggers a refetch and
  then verifies" without saying the triggering request fails.
- `jwks.fetches` counts every request to the JWKS cluster, failed or refused ones too, for
  every vm_id; the doc gives the name only. Checked as observed.
- The token cache and replay protection are per worker VM (as the doc says), so with two
  workers their checks here are bounds (4..5 cache hits of 6 uses; 1..2 first uses of a jti).
- `idp serve --client KIND:...`: the KIND values (`service_user`, `auth0_app`, `api_app`)
  are only in `--help`, not in docs/simulator.md.

Last line: `gateway_stranger: N checks passed`; exit 1 at the first failure.
"""

import base64
import hashlib
import http.client
import http.server
import json
import os
import shutil
import signal
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ENVOY = os.environ.get("ENVOY")
FILTER_WASM = os.environ.get("FILTER_WASM")
SIM = os.environ.get("TOKENGUARD_SIM")

CHECKS = 0
STARTED = time.monotonic()
PROCS = []          # every process we start, stopped in finally
SERVERS = []        # every server thread we start
TMP = None
ENVOY_LOG = None


class Failure(Exception):
    pass


def fail(what, expected, got):
    raise Failure(f"{what}\n  expected: {expected!r}\n  observed: {got!r}")


def check(cond, what, expected=None, got=None):
    global CHECKS
    if not cond:
        fail(what, expected, got)
    CHECKS += 1
    if os.environ.get("VERBOSE"):
        print(f"  ok [{time.monotonic() - STARTED:5.1f}s] {what}")


def eq(got, expected, what):
    check(got == expected, what, expected, got)


# ----------------------------------------------------------------------------- helpers

def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_dec(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64u_int(s):
    return int.from_bytes(b64u_dec(s), "big")


def payload_of(token):
    return json.loads(b64u_dec(token.split(".")[1]))


def sim(*args, stdin=None):
    r = subprocess.run([SIM, *args], input=stdin, capture_output=True, text=True, timeout=20)
    if r.returncode != 0:
        raise Failure(f"tokenguard-sim {' '.join(args)} exited {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def http_req(port, method, path, headers=None, body=None, timeout=5):
    """One request on a fresh loopback connection: (status, {lower-name: [values]}, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if isinstance(headers, list):   # (name, value) pairs: repeated names are sent repeated
            conn.putrequest(method, path)
            for k, v in headers:
                conn.putheader(k, v)
            conn.endheaders()
        else:
            conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        hdrs = {}
        for k, v in resp.getheaders():
            hdrs.setdefault(k.lower(), []).append(v)
        return resp.status, hdrs, data
    finally:
        conn.close()


def form_post(port, path, fields):
    body = urllib.parse.urlencode(fields)
    return http_req(port, "POST", path, {"Content-Type": "application/x-www-form-urlencoded"}, body)


def body503(body):
    """The doc gives the 503 bodies as `unavailable: no_key_set`; the filter ends them with a
    line feed (observed). Either spelling passes; anything else fails."""
    return body[:-1] if body.endswith(b"\n") else body


def wait_until(pred, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise Failure(f"timed out after {timeout}s waiting for: {what} (last: {last!r})")


# ----------------------------------------------------------------------------- RS256 by hand

SHA256_DIGESTINFO = bytes.fromhex("3031300d060960864801650304020105000420")


class RsaSigner:
    """RS256 (RSASSA-PKCS1-v1_5) from a private JWK made by `tokenguard-sim jwk --generate RSA`."""

    def __init__(self, jwk):
        self.n = b64u_int(jwk["n"])
        self.d = b64u_int(jwk["d"])
        self.k = (self.n.bit_length() + 7) // 8
        self.kid = jwk["kid"]

    def sign(self, data):
        t = SHA256_DIGESTINFO + hashlib.sha256(data).digest()
        em = b"\x00\x01" + b"\xff" * (self.k - len(t) - 3) + b"\x00" + t
        return pow(int.from_bytes(em, "big"), self.d, self.n).to_bytes(self.k, "big")

    def token(self, payload_json, kid=None, alg="RS256"):
        """payload_json: the exact payload text (so escapes and number spellings are ours)."""
        header = json.dumps({"alg": alg, "typ": "JWT", "kid": kid or self.kid}, separators=(",", ":"))
        signing_input = (b64u(header) + "." + b64u(payload_json)).encode()
        return signing_input.decode() + "." + b64u(self.sign(signing_input))


# ----------------------------------------------------------------------------- our servers

class Quiet(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, body, headers=()):
        body = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class ThreadedServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(handler_cls):
    srv = ThreadedServer(("127.0.0.1", 0), handler_cls)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    SERVERS.append(srv)
    return srv


class Upstream(Quiet):
    """Our API: echoes the path and every request header (duplicates kept) as JSON."""
    seen = []

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        rec = {"path": self.path, "headers": [[k.lower(), v] for k, v in self.headers.items()]}
        Upstream.seen.append(rec)
        self.reply(200, json.dumps(rec), [("Content-Type", "application/json")])

    do_GET = do_POST = handle_any


class Relay(Quiet):
    """The JWKS the filter fetches: the IdP's JWK Set plus our own keys, or a chosen failure."""
    idp_port = None
    extra_keys = []
    mode = "relay"          # relay | empty | malformed | slow
    max_age = None          # None: the IdP's Cache-Control; else our own max-age
    log = []                # (monotonic time, mode, status, host, path)
    lock = threading.Lock()

    def do_GET(self):
        mode, max_age = Relay.mode, Relay.max_age
        status = 200
        headers = [("Content-Type", "application/json")]
        if self.path == "/c/keys":   # the third listener's own key set: our keys, no max-age
            mode = "own"
            body = json.dumps({"keys": Relay.extra_keys})
        elif mode == "empty":
            body = '{"keys":[]}'
            headers.append(("Cache-Control", "max-age=600"))
        elif mode == "malformed":
            body = '{"keys":[{"kty":"EC",'
            headers.append(("Cache-Control", "max-age=600"))
        elif mode == "slow":
            with Relay.lock:   # logged on arrival: the filter gives up before the answer
                Relay.log.append((time.monotonic(), mode, 0, self.headers.get("Host"), self.path))
            time.sleep(2.5)
            body = '{"keys":[]}'
            status = 503
        else:
            conn = http.client.HTTPConnection("127.0.0.1", Relay.idp_port, timeout=5)
            try:
                conn.request("GET", "/oauth/v2/keys")
                r = conn.getresponse()
                raw = r.read()
                status = r.status
                cc = r.getheader("Cache-Control")
            finally:
                conn.close()
            if status == 200:
                doc = json.loads(raw)
                doc["keys"].extend(Relay.extra_keys)
                body = json.dumps(doc)
                cc = f"public, max-age={max_age}" if max_age is not None else cc
                if cc:
                    headers.append(("Cache-Control", cc))
            else:
                body = raw
        if mode != "slow":
            with Relay.lock:
                Relay.log.append((time.monotonic(), mode, status, self.headers.get("Host"), self.path))
        try:
            self.reply(status, body, headers)
        except (BrokenPipeError, ConnectionResetError):
            pass


def relay_count(status=None, since=0.0, path="/stranger/keys"):
    with Relay.lock:
        return sum(1 for (t, _m, s, _h, p) in Relay.log
                   if t >= since and p == path and (status is None or s == status))


# ----------------------------------------------------------------------------- Envoy

def filter_conf(iss, **override):
    conf = {
        "issuers": [iss, iss + "/"],
        "audiences": ["device-api", "https://api.stranger"],
        "algorithms": ["ES256", "RS256"],
        "jwks": {"cluster": "keys_relay", "path": "/stranger/keys",
                 "authority": "keys.stranger.test", "timeout_ms": 1500},
        "refresh": {"default_max_age": 600, "min_interval": 1, "max_max_age": 900,
                    "retry_after": 1, "unknown_kid_interval": 2, "stale_for": 3},
        "leeway": 0,
        "required_claims": ["sub", "iat"],
        "forward_claims": [
            {"claim": "sub", "header": "x-stranger-sub"},
            {"claim": "aud", "header": "x-stranger-aud"},
            {"claim": "exp", "header": "x-stranger-exp"},
            {"claim": "scope", "header": "x-stranger-scope"},
            {"claim": "permissions", "header": "x-stranger-perms"},
            {"claim": "flag", "header": "x-stranger-flag"},
            {"claim": "price", "header": "x-stranger-price"},
            {"claim": "obj", "header": "x-stranger-obj"},
            {"claim": "note", "header": "x-stranger-note"},
        ],
        "token": {"cookie": "tg_session"},
        "skip_paths": ["/public", "/open/"],
        "tick_ms": 100,
    }
    conf.update(override)
    return conf


def wasm_filter(conf, vm_id):
    return {
        "name": "envoy.filters.http.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": "tokenguard",
                "root_id": "tokenguard",
                "failure_policy": "FAIL_RELOAD",
                "vm_config": {"vm_id": vm_id, "runtime": "envoy.wasm.runtime.v8",
                              "code": {"local": {"filename": FILTER_WASM}}},
                "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                                  "value": json.dumps(conf)},
            },
        },
    }


def listener(name, conf, vm_id):
    return {
        "name": name,
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
        "filter_chains": [{"filters": [{
            "name": "envoy.filters.network.http_connection_manager",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network."
                         "http_connection_manager.v3.HttpConnectionManager",
                "stat_prefix": name,
                "route_config": {"virtual_hosts": [{"name": name, "domains": ["*"],
                                                    "routes": [{"match": {"prefix": "/"},
                                                                "route": {"cluster": "api"}}]}]},
                "http_filters": [wasm_filter(conf, vm_id), {
                    "name": "envoy.filters.http.router",
                    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters."
                                              "http.router.v3.Router"}}],
            }}]}],
    }


def cluster(name, port):
    return {"name": name, "type": "STATIC", "connect_timeout": "1s",
            "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [
                {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1",
                                                             "port_value": port}}}}]}]}}


def envoy_yaml(path, cookie_conf, more, relay_port, api_port):
    """JSON is YAML: the configuration is written as a JSON document into a .yaml file.
    more: further listeners as (name, filter configuration, vm_id)."""
    cfg = {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        "static_resources": {
            "listeners": [listener("cookie_api", cookie_conf, "stranger-vm")]
                         + [listener(*m) for m in (more or [])],
            "clusters": [cluster("keys_relay", relay_port), cluster("api", api_port)],
        },
    }
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    return path


def envoy_validate(yaml_path):
    r = subprocess.run([ENVOY, "--mode", "validate", "-c", yaml_path, "--disable-hot-restart",
                        "-l", "error"], capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout + r.stderr


class Envoy:
    def __init__(self, yaml_path, tag):
        self.admin_path = os.path.join(TMP, f"admin-{tag}.txt")
        self.log_path = os.path.join(TMP, f"envoy-{tag}.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [ENVOY, "-c", yaml_path, "--concurrency", "2", "--disable-hot-restart",
             "--admin-address-path", self.admin_path,
             "-l", "warning"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        PROCS.append(self.proc)
        self.admin = None

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def wait_ready(self, timeout=20):
        def admin_up():
            if self.proc.poll() is not None:
                raise Failure(f"envoy exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                with open(self.admin_path) as f:
                    addr = f.read().strip()
            except FileNotFoundError:
                return None
            if not addr:
                return None
            self.admin = int(addr.rsplit(":", 1)[1])
            try:
                s, _, body = http_req(self.admin, "GET", "/ready", timeout=1)
            except OSError:
                return None
            return s == 200 and body.strip() == b"LIVE"
        wait_until(admin_up, timeout, "envoy /ready LIVE")
        _, _, body = http_req(self.admin, "GET", "/listeners?format=json")
        ports = {}
        for st in json.loads(body)["listener_statuses"]:
            ports[st["name"]] = st["local_address"]["socket_address"]["port_value"]
        return ports

    def stats(self):
        _, _, body = http_req(self.admin, "GET", "/stats?filter=tokenguard")
        out = {}
        for line in body.decode().splitlines():
            if ": " in line:
                k, v = line.split(": ", 1)
                try:
                    out[k.strip()] = int(v)
                except ValueError:
                    pass
        return out

    def counter(self, name):
        return self.stats().get("wasmcustom.tokenguard." + name, 0)

    def prometheus(self):
        _, _, body = http_req(self.admin, "GET", "/stats/prometheus")
        return body.decode()

    def tail(self, n=40):
        try:
            with open(self.log_path) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()


# ----------------------------------------------------------------------------- the test

def main():
    global TMP, ENVOY_LOG
    for name, val in (("ENVOY", ENVOY), ("FILTER_WASM", FILTER_WASM), ("TOKENGUARD_SIM", SIM)):
        if not val or not os.path.exists(val):
            print(f"gateway_stranger: set {name} to an existing path (got {val!r})", file=sys.stderr)
            return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # so that finally cleans up
    TMP = tempfile.mkdtemp(prefix="gateway-stranger-")
    envoy = None
    try:
        envoy = run()
    except Failure as e:
        print(f"gateway_stranger: FAILED after {CHECKS} passing checks "
              f"({time.monotonic() - STARTED:.1f}s):\n{e}", file=sys.stderr)
        if ENVOY_LOG:
            print("--- envoy log (tail) ---\n" + ENVOY_LOG.tail(), file=sys.stderr)
        return 1
    finally:
        cleanup()
    print(f"gateway_stranger: {CHECKS} checks passed ({time.monotonic() - STARTED:.1f}s)")
    return 0


def cleanup():
    if ENVOY_LOG is not None:
        ENVOY_LOG.stop()
    for p in PROCS:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
    for s in SERVERS:
        s.shutdown()
        s.server_close()
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


def start_idp(svc_pub):
    out = open(os.path.join(TMP, "idp.out"), "w+")
    err = open(os.path.join(TMP, "idp.err"), "w+")
    p = subprocess.Popen([SIM, "idp", "serve", "--listen", "127.0.0.1:0", "--max-age", "600",
                          "--client", f"service_user:svc-1:{svc_pub}",
                          "--client", f"auth0_app:a0-client:{svc_pub}",
                          "--api", "https://api.stranger"],
                         stdout=out, stderr=err, start_new_session=True)
    PROCS.append(p)

    def first_line():
        out.seek(0)
        line = out.readline()
        return line if line.endswith("\n") else None
    line = wait_until(first_line, 10, "idp serve's `listening on ADDR`")
    eq(line.startswith("listening on 127.0.0.1:"), True, "idp serve: first stdout line")
    return int(line.strip().rsplit(":", 1)[1])


def run():
    global ENVOY_LOG
    # ---- keys
    svc_priv = os.path.join(TMP, "svc.json")
    svc_pub = os.path.join(TMP, "svc.pub.json")
    sim("jwk", "--generate", "EC", "--crv", "P-256", "--include-private", "--alg", "ES256",
        "--kid", "svc-key", "--output", svc_priv)
    sim("jwk", "--json", "@" + svc_priv, "--output", svc_pub)
    rsa_priv = json.loads(sim("jwk", "--generate", "RSA", "--include-private", "--alg", "RS256",
                              "--kid", "stranger-rsa"))
    rsa_pub = json.loads(sim("jwk", "--json", "-", stdin=json.dumps(rsa_priv)))
    eq("d" in rsa_pub, False, "jwk --json of a private JWK gives the public JWK")
    ed_priv_path = os.path.join(TMP, "ed.json")
    sim("jwk", "--generate", "OKP", "--crv", "Ed25519", "--include-private", "--alg", "EdDSA",
        "--kid", "stranger-ed", "--output", ed_priv_path)
    ed_pub = json.loads(sim("jwk", "--json", "@" + ed_priv_path))
    rsa = RsaSigner(rsa_priv)

    # ---- the IdP, our relay and our API
    idp = start_idp(svc_pub)
    iss = f"http://127.0.0.1:{idp}"
    Relay.idp_port = idp
    Relay.extra_keys = [rsa_pub, ed_pub]
    relay_srv = serve(Relay)
    api_srv = serve(Upstream)
    relay_port = relay_srv.server_address[1]
    api_port = api_srv.server_address[1]

    # ---- configuration refusals (`envoy --mode validate`), then a real start refused
    good = envoy_yaml(os.path.join(TMP, "good.yaml"), filter_conf(iss), None, relay_port, api_port)
    rc, out = envoy_validate(good)
    eq(rc, 0, f"envoy --mode validate accepts our configuration (output: {out[-400:]})")
    path = envoy_yaml(os.path.join(TMP, "bad.yaml"), filter_conf(iss, audience=["typo"]), None,
                      relay_port, api_port)
    rc, out = envoy_validate(path)
    check(rc != 0 and "`audience`" in out, "envoy --mode validate refuses an unknown member and names it",
          "non-zero exit, `audience` in the output", (rc, out[-600:]))
    m = [l for l in out.splitlines() if "unknown field `audience`" in l]
    if m and os.environ.get("VERBOSE"):
        print("  (validate says: " + m[0].split("configuration: ", 1)[-1] + ")")
    path = envoy_yaml(os.path.join(TMP, "edge.yaml"), filter_conf(iss, leeway=600), None,
                      relay_port, api_port)
    rc, out = envoy_validate(path)
    eq(rc, 0, f"envoy --mode validate accepts leeway 600 ({out[-300:]})")
    refusals = [
        ("HS256 in algorithms (a gateway has no shared secret)",
         filter_conf(iss, algorithms=["ES256", "HS256"])),
        ("an unknown member inside jwks",
         filter_conf(iss, jwks={"cluster": "keys_relay", "path": "/stranger/keys", "port": 1})),
        ("an unknown member inside refresh",
         filter_conf(iss, refresh={"retry_after": 1, "max_age": 5})),
        ("an unknown member in a forward_claims entry",
         filter_conf(iss, forward_claims=[{"claim": "sub", "header": "x-s", "as": "json"}])),
        ("leeway over 600", filter_conf(iss, leeway=601)),
        ("no issuers", {k: v for k, v in filter_conf(iss).items() if k != "issuers"}),
    ]
    for what, conf in refusals:
        path = envoy_yaml(os.path.join(TMP, "bad.yaml"), conf, None, relay_port, api_port)
        rc, out = envoy_validate(path)
        check(rc != 0, f"envoy --mode validate refuses {what}", "non-zero exit", (rc, out[-300:]))
    # Envoy itself refuses to start with an unknown member.
    bad = envoy_yaml(os.path.join(TMP, "bad-start.yaml"), filter_conf(iss, tokens="bearer"), None,
                     relay_port, api_port)
    e = Envoy(bad, "refused")
    rc = e.wait_exit(15)
    e.stop()
    check(rc is not None and rc != 0, "envoy refuses to start with an unknown configuration member",
          "exits non-zero", rc)
    check(relay_count() == 0, "a refused configuration never fetched the JWK Set", 0, relay_count())

    # ---- tokens from the IdP
    def zitadel_token():
        assertion = sim("sign", "--key", svc_priv, "--preset", "zitadel-user", "--issuer", "svc-1",
                        "--audience", iss).strip()
        s, _, body = form_post(idp, "/oauth/v2/token", {
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": assertion, "scope": "openid"})
        eq(s, 200, f"JWT-bearer grant ({body[:200]!r})")
        return json.loads(body)["access_token"]

    def auth0_token():
        assertion = sim("sign", "--key", svc_priv, "--preset", "auth0", "--issuer", "a0-client",
                        "--audience", iss + "/oauth/v2/token").strip()
        s, _, body = form_post(idp, "/oauth/v2/token", {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion, "audience": "https://api.stranger",
            "scope": "read:things write:things"})
        eq(s, 200, f"client_credentials grant ({body[:200]!r})")
        return json.loads(body)["access_token"]

    # The IdP is down before Envoy starts: no key set can load.
    s, _, _ = form_post(idp, "/admin/outage", {"on": "true"})
    eq(s, 200, "IdP /admin/outage on=true")
    zt = zitadel_token()
    zp = payload_of(zt)
    eq((zp["iss"], zp["aud"], zp["sub"]), (iss, "device-api", "svc-1"), "ZITADEL access token claims")
    a0 = auth0_token()
    ap = payload_of(a0)
    eq(ap["iss"], iss + "/", "Auth0 token: iss with the trailing slash")

    # ---- Envoy with our two listeners sharing one vm_id
    # B: same vm_id (one key set with A), token in a header, its own audience and leeway.
    header_conf = filter_conf(iss, token={"header": "x-api-token"}, audiences=["https://api.stranger"],
                              forward_claims=[{"claim": "azp", "header": "x-b-azp"}],
                              skip_paths=[], leeway=30)
    # C: only the required members (every default), its own vm_id and JWKS path.
    minimal = {"issuers": [iss], "audiences": ["device-api"],
               "jwks": {"cluster": "keys_relay", "path": "/c/keys"}}
    # D: C's vm_id and key set, with replay protection on and no token cache.
    once = dict(minimal, replay={"enabled": True}, token_cache={"max_entries": 0})
    more = [("header_api", header_conf, "stranger-vm"), ("bearer_api", minimal, "stranger-c"),
            ("once_api", once, "stranger-c")]
    yaml_path = envoy_yaml(os.path.join(TMP, "envoy.yaml"), filter_conf(iss), more,
                           relay_port, api_port)
    rc, out = envoy_validate(yaml_path)
    eq(rc, 0, f"envoy --mode validate accepts the three-listener configuration ({out[-300:]})")
    ENVOY_LOG = envoy = Envoy(yaml_path, "main")
    ports = envoy.wait_ready()
    A, B, C, D = ports["cookie_api"], ports["header_api"], ports["bearer_api"], ports["once_api"]

    def get(port, path="/api/things", headers=None):
        return http_req(port, "GET", path, headers)

    def cookie(tok, extra=""):
        return {"Cookie": f"{extra}tg_session={tok}"}

    def expect_401(port, headers, code, what, path="/api/things"):
        before = len(Upstream.seen)
        s, h, _ = get(port, path, headers)
        want = ("Bearer" if code is None
                else f'Bearer error="invalid_token", error_description="{code}"')
        eq((s, h.get("www-authenticate")), (401, [want]), what)
        eq(len(Upstream.seen), before, f"{what}: the request did not reach the API")

    def expect_pass(port, headers, what, path="/api/things"):
        before = len(Upstream.seen)
        s, h, body = get(port, path, headers)
        eq(s, 200, what + f" (body {body[:200]!r})")
        eq(len(Upstream.seen), before + 1, f"{what}: reached the API once")
        rec = json.loads(body)
        eq(rec["path"], path, f"{what}: path")
        hdrs = {}
        for k, v in rec["headers"]:
            hdrs.setdefault(k, []).append(v)
        return hdrs

    # 503 while no key set has ever loaded (the IdP is in an outage: the relay passes its 503).
    wait_until(lambda: envoy.counter("jwks.fetch_failures") >= 1, 5, "a failed JWKS fetch counted")
    c0 = envoy.stats()
    s, h, body = get(A, headers=cookie(zt))
    eq((s, body503(body)), (503, b"unavailable: no_key_set"), "no key set loaded yet: 503 with the documented body")
    s, h, body = get(B, headers={"x-api-token": a0})
    eq((s, body503(body)), (503, b"unavailable: no_key_set"), "no key set, header listener: 503")
    s, h, body = get(A)
    eq((s, body503(body)), (503, b"unavailable: no_key_set"),
       "no key set and no token: 503 (the key set is looked at before the token)")
    hdrs = expect_pass(A, {"Cookie": "unrelated=1"}, "a skip_paths prefix passes while no key set loaded",
                       path="/public/status")
    expect_pass(A, {}, "a second skip_paths prefix passes", path="/open/x?y=1")
    c1 = envoy.stats()
    eq(c1.get("wasmcustom.tokenguard.unavailable.no_key_set", 0)
       - c0.get("wasmcustom.tokenguard.unavailable.no_key_set", 0), 3,
       "counter wasmcustom.tokenguard.unavailable.no_key_set counts the three 503s")
    eq(c1.get("wasmcustom.tokenguard.skipped", 0) - c0.get("wasmcustom.tokenguard.skipped", 0), 2,
       "counter wasmcustom.tokenguard.skipped counts the two skipped paths")
    s, _, body = get(A, "/publicity", cookie(zt))   # a path prefix, not a path segment: still skipped
    eq((s, json.loads(body)["path"] if s == 200 else body), (200, "/publicity"),
       "skip_paths are path prefixes (/public matches /publicity)")
    fails_in_outage = envoy.counter("jwks.fetch_failures")
    check(fails_in_outage >= 1 and relay_count(200) == 0, "failed fetches during the outage are counted",
          ">= 1 failure, no 200 from the relay", (fails_in_outage, relay_count(200)))

    # Recovery: the IdP comes back; at most retry_after (1 s) later the key set loads.
    t_up = time.monotonic()
    form_post(idp, "/admin/outage", {"on": "false"})
    wait_until(lambda: get(A, headers=cookie(zt))[0] == 200, 5, "200 once the JWKS is back")
    time.sleep(0.5)
    eq(relay_count(200, since=t_up), 1, "one JWKS fetch for all of Envoy's VMs and both listeners")
    with Relay.lock:
        hosts = {(host, path) for (_t, _m, _s, host, path) in Relay.log}
    eq(hosts, {("keys.stranger.test", "/stranger/keys"), ("keys_relay", "/c/keys")},
       "JWKS requests use jwks.path and jwks.authority (default: the cluster name)")
    eq(relay_count(path="/c/keys"), 1, "the minimal listener (own vm_id) fetched its own set once")

    # ---- accepted tokens and the forwarded claims (cookie listener)
    c0 = envoy.stats()
    hdrs = expect_pass(A, {"Cookie": f"tg_session={zt}",
                           "X-Stranger-Sub": "admin", "x-stranger-perms": '["root"]',
                           "x-stranger-note": "forged", "x-other": "kept"},
                       "ZITADEL ES256 access token in the cookie")
    eq(hdrs.get("x-stranger-sub"), ["svc-1"], "sub forwarded, the client's forged copy replaced")
    eq(hdrs.get("x-stranger-aud"), ["device-api"], "a string aud forwarded decoded")
    eq(hdrs.get("x-stranger-exp"), [str(zp["exp"])], "a number claim forwarded as written")
    eq(hdrs.get("x-stranger-scope"), [zp["scope"]], "scope forwarded")
    eq(hdrs.get("x-stranger-perms"), None, "a forwarded header whose claim the token lacks is removed")
    eq(hdrs.get("x-stranger-note"), None, "the client's x-stranger-note removed")
    eq(hdrs.get("x-other"), ["kept"], "other client headers pass untouched")
    hdrs = expect_pass(A, [("Cookie", f"tg_session={zt}"), ("x-stranger-sub", "admin"),
                           ("x-stranger-sub", "root"), ("X-STRANGER-SCOPE", "everything")],
                       "two forged copies of a forwarded header")
    eq((hdrs.get("x-stranger-sub"), hdrs.get("x-stranger-scope")), (["svc-1"], [zp["scope"]]),
       "every forged copy is removed, one value from the token remains")

    hdrs = expect_pass(A, cookie(a0, "theme=dark; lang=en; "),
                       "Auth0 RS256 API token in the cookie among other cookies")
    eq(hdrs.get("x-stranger-sub"), ["a0-client@clients"], "Auth0 sub forwarded")
    eq(hdrs.get("x-stranger-aud"), ["https://api.stranger"], "Auth0 aud forwarded")
    eq(hdrs.get("x-stranger-scope"), ["read:things write:things"], "Auth0 scope forwarded")
    perms = hdrs.get("x-stranger-perms")
    eq(json.loads(perms[0]) if perms else None, ["read:things", "write:things"],
       "an array claim forwarded as JSON text")
    raw_payload = b64u_dec(a0.split(".")[1]).decode()
    eq(perms[0] in raw_payload, True, "the array's JSON text is the token's own spelling")

    # Hand-made tokens: exact payload bytes.
    now = int(time.time())
    payload = ('{"iss":"%s","sub":"hand\\/made","aud":["other","device-api"],"iat":%d,"exp":%d,'
               '"flag":true,"price":12.50,"obj":{"a":[1,2],"b":"c"},"note":"line1\\nline2"}'
               % (iss, now - 5, now + 300))
    hdrs = expect_pass(A, {"Cookie": f"tg_session={rsa.token(payload)}", "x-stranger-note": "forged",
                           "x-stranger-flag": "false"},
                       "hand-made RS256 token with two audiences")
    eq(hdrs.get("x-stranger-sub"), ["hand/made"], "a string with an escape forwarded decoded")
    eq(json.loads(hdrs.get("x-stranger-aud", ["null"])[0]), ["other", "device-api"],
       "an aud array forwarded as JSON text")
    eq(hdrs.get("x-stranger-aud"), ['["other","device-api"]'], "the aud array's text as written")
    eq(hdrs.get("x-stranger-flag"), ["true"], "a boolean forwarded as written, the forged one replaced")
    eq(hdrs.get("x-stranger-price"), ["12.50"], "a number forwarded as written (12.50)")
    eq(hdrs.get("x-stranger-obj"), ['{"a":[1,2],"b":"c"}'], "an object forwarded as JSON text")
    eq(hdrs.get("x-stranger-note"), None,
       "a value with a control character is not forwarded (and the forged copy is gone)")
    c1 = envoy.stats()
    eq(c1.get("wasmcustom.tokenguard.accepted", 0) - c0.get("wasmcustom.tokenguard.accepted", 0), 4,
       "counter wasmcustom.tokenguard.accepted counts the four accepted requests")

    # ---- rejections (cookie listener), each with its exact WWW-Authenticate and counter
    c0 = envoy.stats()

    def claims(**kw):
        base = {"iss": iss, "sub": "s", "aud": "device-api", "iat": now - 5, "exp": now + 300}
        base.update(kw)
        return json.dumps({k: v for k, v in base.items() if v is not None}, separators=(",", ":"))

    parts = zt.split(".")
    flipped = parts[2][:10] + ("A" if parts[2][10] != "A" else "B") + parts[2][11:]
    none_tok = b64u('{"alg":"none","typ":"JWT"}') + "." + parts[1] + "."
    ed_tok = sim("sign", "--key", ed_priv_path, "--issuer", iss, "--audience", "device-api",
                 "--subject", "s").strip()
    eq(json.loads(b64u_dec(ed_tok.split(".")[0]))["alg"], "EdDSA", "sign with an Ed25519 JWK mints EdDSA")
    cases = [
        ({}, None, "no cookie at all: 401 Bearer without an error code", "missing_token"),
        ({"Cookie": "theme=dark"}, None, "another cookie only", "missing_token"),
        ({"Authorization": f"Bearer {zt}"}, None,
         "a Bearer header where the config says cookie: no token", "missing_token"),
        (cookie("not-a-jwt"), "malformed", "a cookie that is no JWT", "malformed"),
        (cookie(none_tok), "malformed", "alg none", "malformed"),
        (cookie(".".join(parts[:2] + [flipped])), "bad_signature", "one signature character changed",
         "bad_signature"),
        (cookie(rsa.token(claims(exp=now - 10))), "expired", "expired", "expired"),
        (cookie(rsa.token(claims(nbf=now + 120))), "not_yet_valid", "nbf in the future", "not_yet_valid"),
        (cookie(rsa.token(claims(iat=now + 120, exp=now + 600))), "issued_in_future", "iat in the future",
         "issued_in_future"),
        (cookie(rsa.token(claims(iss="https://evil.example"))), "wrong_issuer", "another issuer",
         "wrong_issuer"),
        (cookie(rsa.token(claims(aud=["x", "y"]))), "wrong_audience", "another audience", "wrong_audience"),
        (cookie(rsa.token(claims(sub=None))), "missing_claim", "required_claims: no sub", "missing_claim"),
        (cookie(rsa.token(claims(iat=None))), "missing_claim", "required_claims: no iat", "missing_claim"),
        (cookie(rsa.token(claims(exp=None))), "missing_claim", "no exp (always required)", "missing_claim"),
        (cookie(ed_tok), "alg_not_allowed", "EdDSA (its key is in the set) outside algorithms",
         "alg_not_allowed"),
    ]
    expected_counts = {}
    for headers, code, what, counter in cases:
        expect_401(A, headers, code, what)
        expected_counts[counter] = expected_counts.get(counter, 0) + 1
    time.sleep(0.05)
    c1 = envoy.stats()
    for counter, n in sorted(expected_counts.items()):
        name = "wasmcustom.tokenguard.rejected." + counter
        eq(c1.get(name, 0) - c0.get(name, 0), n, f"counter {name}")
    eq(c1.get("wasmcustom.tokenguard.accepted", 0), c0.get("wasmcustom.tokenguard.accepted", 0),
       "no rejection counted as accepted")

    # ---- the header listener: its own token source, audiences and forwarded claims
    hdrs = expect_pass(B, {"x-api-token": a0, "x-b-azp": "forged", "x-stranger-sub": "client-value"},
                       "header listener: Auth0 token in x-api-token")
    eq(hdrs.get("x-b-azp"), ["a0-client"], "header listener forwards azp, the forged copy replaced")
    eq(hdrs.get("x-stranger-sub"), ["client-value"],
       "header listener leaves the other listener's forwarded header names alone")
    expect_401(B, {"x-api-token": zt}, "wrong_audience",
               "header listener: its audiences lack device-api")
    expect_401(B, cookie(a0), None, "header listener: a cookie is not its token source")
    expect_401(B, {}, None, "header listener: /public is not skipped there", path="/public/status")

    # leeway 30 on B only
    def b_claims(**kw):
        base = {"iss": iss, "sub": "s", "aud": "https://api.stranger", "iat": now - 60, "exp": now + 300}
        base.update(kw)
        return json.dumps(base, separators=(",", ":"))
    late = rsa.token(b_claims(exp=now - 10))
    expect_pass(B, {"x-api-token": late}, "leeway 30: expired 10 s ago still passes")
    expect_401(A, cookie(late), "expired", "leeway 0 on the other listener: expired")
    expect_401(B, {"x-api-token": rsa.token(b_claims(exp=now - 45))}, "expired",
               "leeway 30: expired 45 s ago is refused")
    early = rsa.token(b_claims(iat=now + 20))
    expect_pass(B, {"x-api-token": early}, "leeway 30: iat 20 s ahead passes")
    expect_401(B, {"x-api-token": rsa.token(b_claims(iat=now + 45))}, "issued_in_future",
               "leeway 30: iat 45 s ahead is refused")
    expect_pass(B, {"x-api-token": rsa.token(b_claims(nbf=now + 20))}, "leeway 30: nbf 20 s ahead passes")

    # C: every default. Authorization: Bearer, no required claims, every asymmetric algorithm,
    # no forwarded claims, no skipped paths.
    no_sub = rsa.token(json.dumps({"iss": iss, "aud": "device-api", "exp": now + 300}))
    hdrs = expect_pass(C, {"Authorization": f"Bearer {no_sub}", "x-stranger-sub": "mine"},
                       "defaults: a Bearer token without sub or iat passes")
    eq(hdrs.get("x-stranger-sub"), ["mine"], "defaults: no forwarded claims, client headers untouched")
    ed_c = sim("sign", "--key", ed_priv_path, "--issuer", iss, "--audience", "device-api").strip()
    expect_pass(C, {"Authorization": f"Bearer {ed_c}"}, "defaults: EdDSA is allowed")
    expect_401(C, cookie(no_sub), None, "defaults: the token is not taken from a cookie")
    expect_401(C, {"x-api-token": no_sub}, None, "defaults: nor from another header")
    expect_401(C, {}, None, "defaults: /public is not skipped", path="/public/x")
    expect_401(C, {"Authorization": f"Bearer {rsa.token(claims(iss=iss + '/'))}"}, "wrong_issuer",
               "C accepts only its one issuer")

    # ---- the verified-token cache (per VM: two workers, so at most two misses per token)
    c0 = envoy.stats()
    cached = rsa.token(claims(sub="cached"))
    for i in range(6):
        hdrs = expect_pass(A, {"Cookie": f"tg_session={cached}", "x-stranger-sub": "forged"},
                           f"the same token, request {i + 1} of 6")
        eq(hdrs.get("x-stranger-sub"), ["cached"], "a cached token forwards its claims, forged copy removed")
    c1 = envoy.stats()
    hits = c1.get("wasmcustom.tokenguard.token_cache.hits", 0) - c0.get("wasmcustom.tokenguard.token_cache.hits", 0)
    check(4 <= hits <= 5, "counter token_cache.hits: 6 uses of one token on two worker VMs", "4..5", hits)
    eq(c1.get("wasmcustom.tokenguard.accepted", 0) - c0.get("wasmcustom.tokenguard.accepted", 0), 6,
       "cache hits are counted as accepted")

    # ---- replay protection on D (per VM: two workers, so one or two first uses)
    jti_tok = rsa.token(json.dumps({"iss": iss, "aud": "device-api", "exp": now + 300, "jti": "once-1"}))
    codes = []
    for i in range(6):
        s, h, _ = get(D, headers={"Authorization": f"Bearer {jti_tok}"})
        codes.append((s, h.get("www-authenticate")))
    ok = codes.count((200, None))
    rep_ = codes.count((401, ['Bearer error="invalid_token", error_description="replayed"']))
    check(1 <= ok <= 2 and ok + rep_ == 6, "replay: one jti used 6 times on two worker VMs",
          "1..2 accepted, the rest 401 replayed", codes)
    expect_401(D, {"Authorization": f"Bearer {no_sub}"}, "missing_claim", "replay makes jti required")
    expect_401(D, {"Authorization": "Bearer " + rsa.token(json.dumps(
        {"iss": iss, "aud": "device-api", "jti": "once-2"}))}, "missing_claim", "replay: no exp")
    expect_pass(C, {"Authorization": f"Bearer {jti_tok}"}, "the same token on C (no replay) passes")
    expect_pass(C, {"Authorization": f"Bearer {jti_tok}"}, "and again")

    # ---- Prometheus names: without the wasmcustom. prefix
    acc = envoy.counter("accepted")
    prom = envoy.prometheus()
    lines = [l for l in prom.splitlines() if not l.startswith("#") and "tokenguard" in l]
    acc_lines = [l for l in lines if l.split("{")[0].split(" ")[0] == "tokenguard_accepted"]
    check(len(acc_lines) == 1 and acc_lines[0].rsplit(" ", 1)[1] == str(acc),
          "/stats/prometheus has tokenguard_accepted with the /stats value",
          f"tokenguard_accepted {acc}", lines[:12])
    check(not any("wasmcustom" in l for l in lines), "no wasmcustom prefix in /stats/prometheus",
          "none", [l for l in lines if "wasmcustom" in l])

    # ---- key rotation: the new kid triggers one refetch, then verifies
    fetches0 = relay_count()
    form_post(idp, "/admin/rotate", {})
    zt2 = zitadel_token()
    kid2 = json.loads(b64u_dec(zt2.split(".")[0]))["kid"]
    check(kid2 != "idp-key-1", "the rotated IdP signs with a new kid", "not idp-key-1", kid2)
    s, h, _ = get(A, headers=cookie(zt2))
    first = (s, h.get("www-authenticate"))
    check(first in ((200, None), (401, ['Bearer error="invalid_token", error_description="key_not_found"'])),
          "first request with the new kid: accepted or key_not_found", "200 or 401 key_not_found", first)
    t_first = time.monotonic()
    wait_until(lambda: get(A, headers=cookie(zt2))[0] == 200, 4, "the new kid verifies after its refetch")
    if os.environ.get("VERBOSE"):
        print(f"  (first answer for the new kid: {first}; 200 after {time.monotonic() - t_first:.2f}s)")
    time.sleep(0.3)
    eq(relay_count() - fetches0, 1, "the unknown kid caused exactly one JWKS fetch")

    # A flood of unknown kids: key_not_found, and at most one refetch per unknown_kid_interval (2 s).
    t_flood = time.monotonic()
    for i in range(8):
        expect_401(A, cookie(rsa.token(claims(), kid=f"nobody-{i}")), "key_not_found", f"unknown kid #{i}")
    time.sleep(0.5)
    n = relay_count(since=t_flood)
    check(n <= 1, "8 unknown kids within 2 s: at most one JWKS fetch", "<= 1", n)

    # ---- refused documents: the old keys stay, the failure is counted
    # (a token cached now, while no new key set loads, must still end at its exp)
    short_exp = int(time.time()) + 4
    short = rsa.token(claims(sub="short", exp=short_exp))
    for i in range(4):
        expect_pass(A, cookie(short), f"a token with 4 s left, use {i + 1} (cached after the first)")
    def refused(mode, what, wait=5):
        Relay.mode = mode
        f0 = envoy.counter("jwks.fetch_failures")
        t = time.monotonic()
        time.sleep(2.05)   # unknown_kid_interval
        get(A, headers=cookie(rsa.token(claims(), kid="trigger-" + mode)))
        wait_until(lambda: envoy.counter("jwks.fetch_failures") > f0, wait, f"{what} counted")
        check(relay_count(since=t) >= 1, f"{what}: the relay served it", ">= 1", relay_count(since=t))
        Relay.mode = "relay"
        expect_pass(A, cookie(zt2), f"after {what}, the old keys still verify")
        expect_pass(A, cookie(rsa.token(claims())), f"after {what}, our own key still verifies")
    refused("empty", "a JWK Set with no keys ({\"keys\":[]})")
    refused("malformed", "a malformed JWK Set")
    refused("slow", "a JWKS answer slower than jwks.timeout_ms", wait=6)
    time.sleep(max(0.0, short_exp + 1.1 - time.time()))
    expect_401(A, cookie(short), "expired", "a cached token is refused once its exp has passed")

    # ---- stale window, then key_set_expired, then recovery
    Relay.max_age = 0   # raised to min_interval (1 s): about one fetch a second, not one a tick
    time.sleep(2.05)
    t_fetch = time.monotonic()
    get(A, headers=cookie(rsa.token(claims(), kid="trigger-stale")))
    wait_until(lambda: relay_count(200, since=t_fetch) >= 1, 3, "a fetch with max-age=0")
    t0 = time.monotonic()
    time.sleep(3.0)
    n = relay_count(since=t0)
    check(2 <= n <= 4, "max-age=0 gives a lifetime of min_interval (1 s): 2..4 fetches in 3 s",
          "2..4", n)
    # the fetch's time, as the relay saw it
    with Relay.lock:
        t_fetch = max(t for (t, _m, st, _h, _p) in Relay.log if st == 200)
    form_post(idp, "/admin/outage", {"on": "true"})
    time.sleep(max(0.0, t_fetch + 2.2 - time.monotonic()))
    expect_pass(A, cookie(zt2), "past its lifetime (1 s), within stale_for (3 s): still verifies")
    f0 = envoy.counter("jwks.fetch_failures")
    time.sleep(max(0.0, t_fetch + 5.0 - time.monotonic()))
    check(envoy.counter("jwks.fetch_failures") > f0, "fetches fail during the outage",
          f"> {f0}", envoy.counter("jwks.fetch_failures"))
    e0 = envoy.counter("unavailable.key_set_expired")
    s, _, body = get(A, headers=cookie(zt2))
    eq((s, body503(body)), (503, b"unavailable: key_set_expired"), "past the stale window: 503 key_set_expired")
    s, _, body = get(B, headers={"x-api-token": a0})
    eq((s, body503(body)), (503, b"unavailable: key_set_expired"), "the header listener shares the expired key set")
    hdrs = expect_pass(A, {}, "skip_paths still pass with an expired key set", path="/public/x")
    eq(envoy.counter("unavailable.key_set_expired") - e0, 2, "counter unavailable.key_set_expired")
    expect_pass(C, {"Authorization": f"Bearer {no_sub}"},
                "another vm_id keeps its own key set while this one has expired")
    Relay.max_age = None
    form_post(idp, "/admin/outage", {"on": "false"})
    wait_until(lambda: get(A, headers=cookie(zt2))[0] == 200, 5, "recovery after the outage")
    expect_pass(B, {"x-api-token": a0}, "header listener recovered too")
    eq(relay_count(path="/c/keys"), 1, "the other vm_id's key set was fetched once in the whole run")

    # The doc names jwks.fetches and jwks.fetch_failures without saying what a fetch is;
    # observed: every request to the JWKS cluster (both vm_ids), and every refused or failed one.
    time.sleep(0.3)
    st = envoy.stats()
    with Relay.lock:
        total = len(Relay.log)
        bad = sum(1 for (_t, m, code, _h, _p) in Relay.log if code != 200 or m in ("empty", "malformed"))
    eq(st.get("wasmcustom.tokenguard.jwks.fetches"), total,
       "counter jwks.fetches = the requests the JWKS server saw (all VMs, both vm_ids)")
    eq(st.get("wasmcustom.tokenguard.jwks.fetch_failures"), bad,
       "counter jwks.fetch_failures = the 503s, the timeout and the refused documents")
    if os.environ.get("VERBOSE"):
        with Relay.lock:
            print("  relay log:", [(round(t - STARTED, 2), m, st, p) for (t, m, st, _h, p) in Relay.log])
        print("  stats:", {k: v for k, v in envoy.stats().items() if "jwks" in k})
    envoy.stop()
    ENVOY_LOG = None
    PROCS.remove(envoy.proc)
    return envoy


if __name__ == "__main__":
    sys.exit(main())
