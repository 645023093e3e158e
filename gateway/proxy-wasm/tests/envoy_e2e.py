#!/usr/bin/env python3
"""The tokenguard filter in a real Envoy, end to end, on loopback.

Written from docs/gateway.md and docs/simulator.md: it takes the Envoy YAML from
docs/gateway.md, runs Envoy 1.40 with the filter in front of an upstream that echoes the
request headers it receives, uses `tokenguard-sim idp serve` (the mock identity provider)
as the JWKS source and token issuer, and checks each verdict's exact status,
WWW-Authenticate header and counter. Standard library only; the project is used through
its CLI and HTTP interfaces.

Environment: ENVOY (the envoy binary), FILTER_WASM (the module), TOKENGUARD_SIM (the CLI),
REPO (the repository root).
"""

import http.client
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ENVOY = os.environ["ENVOY"]
FILTER = os.environ["FILTER_WASM"]
SIM = os.environ["TOKENGUARD_SIM"]
REPO = os.environ["REPO"]

checks = 0


def check(cond, what):
    global checks
    if not cond:
        raise AssertionError(what)
    checks += 1


def wait_until(fn, what, timeout=20.0, every=0.1):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        last = fn()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def http_req(port, method, path, headers=None, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    out = (r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    c.close()
    return out


def sim(*args, stdin=None):
    p = subprocess.run([SIM, *args], capture_output=True, text=True, input=stdin)
    if p.returncode != 0:
        raise AssertionError(f"tokenguard-sim {' '.join(args)}: {p.stderr}")
    return p.stdout.strip()


class Echo(http.server.BaseHTTPRequestHandler):
    """The upstream: answers 200 with the request headers it received, as JSON."""

    def do_GET(self):
        body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class JwksFile(http.server.BaseHTTPRequestHandler):
    """A JWKS endpoint serving whatever `JwksFile.doc` holds, max-age 3."""

    doc = b""

    def do_GET(self):
        body = JwksFile.doc
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("cache-control", "public, max-age=3")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def serve(handler):
    s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=s.serve_forever, daemon=True).start()
    return s


def envoy_yaml():
    doc = open(os.path.join(REPO, "docs/gateway.md")).read()
    block = doc.split("<!-- envoy-yaml:begin -->")[1].split("<!-- envoy-yaml:end -->")[0]
    return block.split("```yaml\n")[1].rsplit("```", 1)[0]


class Envoy:
    def __init__(self, work, name, values):
        text = envoy_yaml()
        for k, v in values.items():
            text = text.replace("${" + k + "}", str(v))
        check("${" not in text, "every placeholder of the doc's YAML is filled")
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir)
        cfg = os.path.join(self.dir, "envoy.yaml")
        open(cfg, "w").write(text)
        admin_file = os.path.join(self.dir, "admin.txt")
        self.log = open(os.path.join(self.dir, "envoy.log"), "w")
        self.proc = subprocess.Popen(
            [ENVOY, "-c", cfg, "--concurrency", "2", "--disable-hot-restart",
             "--admin-address-path", admin_file, "--log-level", "warn"],
            stdout=self.log, stderr=subprocess.STDOUT)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"envoy exited: {open(self.log.name).read()[-3000:]}")
            if not os.path.exists(admin_file):
                return None
            addr = open(admin_file).read().strip()
            if not addr:
                return None
            port = int(addr.rsplit(":", 1)[1])
            try:
                status, _, body = http_req(port, "GET", "/ready")
            except OSError:
                return None
            return port if status == 200 and body.strip() == b"LIVE" else None

        self.admin = wait_until(ready, "envoy ready")
        _, _, body = http_req(self.admin, "GET", "/listeners?format=json")
        statuses = json.loads(body)["listener_statuses"]
        self.port = statuses[0]["local_address"]["socket_address"]["port_value"]

    def get(self, path, token=None, headers=None):
        h = dict(headers or {})
        if token is not None:
            h["authorization"] = f"Bearer {token}"
        return http_req(self.port, "GET", path, h)

    def stat(self, name):
        _, _, body = http_req(self.admin, "GET", f"/stats?filter=^wasmcustom\\.tokenguard\\.{name}$")
        for line in body.decode().splitlines():
            k, _, v = line.partition(": ")
            if k == f"wasmcustom.tokenguard.{name}":
                return int(v)
        return 0

    def cluster_requests(self, cluster):
        _, _, body = http_req(self.admin, "GET", f"/stats?filter=^cluster\\.{cluster}\\.upstream_rq_total$")
        for line in body.decode().splitlines():
            k, _, v = line.partition(": ")
            if k == f"cluster.{cluster}.upstream_rq_total":
                return int(v)
        return 0

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def expect(env, path, token, status, code=None, counter=None, headers=None):
    """One request, its exact status and WWW-Authenticate; returns the body."""
    before = env.stat(counter) if counter else None
    st, h, body = env.get(path, token, headers)
    check(st == status, f"{path}: status {st}, expected {status}: {body!r}")
    www = h.get("www-authenticate")
    if status == 401 and code is None:
        check(www == "Bearer", f"no token: WWW-Authenticate {www!r}")
    elif status == 401:
        want = f'Bearer error="invalid_token", error_description="{code}"'
        check(www == want, f"WWW-Authenticate {www!r}, expected {want!r}")
    elif status == 503:
        check(body.decode().strip() == f"unavailable: {code}", f"503 body {body!r}")
    if counter:
        check(env.stat(counter) == before + 1, f"counter {counter} +1")
    return body


def main():
    work = tempfile.mkdtemp(prefix="tg-envoy-")
    upstream = serve(Echo)
    jwks_file = serve(JwksFile)

    # Keys for a ZITADEL service user (ES256) and an Auth0 application (RS256).
    svc = os.path.join(work, "svc.jwk")
    app = os.path.join(work, "app.jwk")
    sim("jwk", "--generate", "EC", "--crv", "P-256", "--kid", "svc-key", "--include-private", "--output", svc)
    sim("jwk", "--generate", "RSA", "--size", "2048", "--kid", "app-key", "--include-private", "--output", app)
    svc_pub = os.path.join(work, "svc.pub.jwk")
    app_pub = os.path.join(work, "app.pub.jwk")
    open(svc_pub, "w").write(sim("jwk", "--json", open(svc).read()))
    open(app_pub, "w").write(sim("jwk", "--json", open(app).read()))

    idp_out = open(os.path.join(work, "idp.out"), "w+")
    idp = subprocess.Popen(
        [SIM, "idp", "serve", "--listen", "127.0.0.1:0",
         "--client", f"service_user:svc-1:{svc_pub}",
         "--client", f"auth0_app:app-1:{app_pub}",
         "--api", "https://api.example", "--api-ttl", "60"],
        stdout=idp_out, stderr=subprocess.DEVNULL)
    envoys = []
    try:
        def idp_addr():
            idp_out.seek(0)
            for line in idp_out.read().splitlines():
                if line.startswith("listening on "):
                    return line.split(" ", 2)[2]
            return None

        addr = wait_until(idp_addr, "the mock IdP")
        issuer = f"http://{addr}"
        idp_port = int(addr.rsplit(":", 1)[1])

        def admin(path, **form):
            st, _, body = http_req(idp_port, "POST", path, {"content-type": "application/x-www-form-urlencoded"},
                                   urllib.parse.urlencode(form))
            check(st == 200, f"IdP {path}: {st} {body!r}")
            return json.loads(body)

        def idp_now():
            return admin("/admin/clock")["now"]

        def token_post(form):
            st, _, body = http_req(idp_port, "POST", "/oauth/v2/token",
                                   {"content-type": "application/x-www-form-urlencoded"},
                                   urllib.parse.urlencode(form))
            check(st == 200, f"token endpoint: {st} {body!r}")
            return json.loads(body)["access_token"]

        def zitadel_token(scope):
            assertion = sim("sign", "--key", svc, "--preset", "zitadel-user", "--issuer", "svc-1",
                            "--audience", issuer, "--now", str(idp_now()))
            return token_post({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                               "assertion": assertion, "scope": scope})

        def auth0_token():
            assertion = sim("sign", "--key", app, "--preset", "auth0", "--issuer", "app-1",
                            "--audience", f"{issuer}/oauth/v2/token", "--now", str(idp_now()))
            return token_post({"grant_type": "client_credentials", "client_id": "app-1",
                               "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                               "client_assertion": assertion, "audience": "https://api.example"})

        project = "openid urn:zitadel:iam:org:project:id:api-project:aud"

        # 1. The JWKS endpoint is down when Envoy starts: 503 no_key_set, then recovery.
        admin("/admin/outage", on="true")
        env = Envoy(work, "idp", {"FILTER_WASM": FILTER, "ISSUER": issuer, "JWKS_PORT": idp_port,
                                  "JWKS_PATH": "/oauth/v2/keys", "UPSTREAM_PORT": upstream.server_port})
        envoys.append(env)
        expect(env, "/api", None, 503, "no_key_set", counter="unavailable.no_key_set")
        wait_until(lambda: env.stat("jwks.fetch_failures") >= 1, "a failed fetch counted")
        admin("/admin/outage", on="false")
        wait_until(lambda: env.get("/api")[0] == 401, "the key set loaded after the outage")
        check(env.stat("jwks.fetches") >= 2, "fetches counted")

        # 2. No token, a skipped path.
        expect(env, "/api", None, 401, None, counter="rejected.missing_token")
        body = expect(env, "/healthz", None, 200, counter="skipped")
        check("x-jwt-sub" not in json.loads(body), "a skipped path forwards no claim")

        # 3. An ES256 access token (JWT-bearer grant): accepted, claims forwarded, a forged
        #    claim header replaced.
        es = zitadel_token(project)
        body = expect(env, "/api", es, 200, counter="accepted", headers={"x-jwt-sub": "admin"})
        seen = json.loads(body)
        check(seen.get("x-jwt-sub") == "svc-1", f"x-jwt-sub forwarded: {seen}")
        check("authorization" in seen, "the token goes on to the upstream")

        #    Presented again: from the verified-token cache (one VM per worker: poll until the
        #    worker that verified it answers).
        wait_until(lambda: (env.get("/api", es)[0] == 200 and env.stat("token_cache.hits") >= 1),
                   "a verified-token cache hit")

        # 4. An RS256 Auth0-shaped API token.
        rs = auth0_token()
        body = expect(env, "/api", rs, 200, counter="accepted")
        check(json.loads(body).get("x-jwt-sub") == "app-1@clients", "Auth0 sub forwarded")

        #    One fetch per key-set lifetime for all of Envoy's VMs (the main thread's and
        #    one per worker: 3 here), not one per VM: over 7 s with a 3 s lifetime, 2 or 3
        #    requests reach the JWKS cluster, where per-VM fetching would make 6 to 9.
        before = env.cluster_requests("jwks")
        time.sleep(7)
        fetched = env.cluster_requests("jwks") - before
        check(1 <= fetched <= 3, f"one fetch per lifetime for all VMs: {fetched} JWKS requests in 7 s")

        # 5. Refusals with the engine's codes.
        admin("/admin/clock", offset="-3600")
        expired = auth0_token()  # 60 s lifetime, an hour ago
        admin("/admin/clock", offset="0")
        expect(env, "/api", expired, 401, "expired", counter="rejected.expired")
        expect(env, "/api", zitadel_token("openid"), 401, "wrong_audience", counter="rejected.wrong_audience")
        h, p, s = es.split(".")
        expect(env, "/api", f"eyJhbGciOiJub25lIn0.{p}.", 401, "malformed", counter="rejected.malformed")
        i = len(s) - 10
        bad = s[:i] + ("A" if s[i] != "A" else "B") + s[i + 1:]
        expect(env, "/api", f"{h}.{p}.{bad}", 401, "bad_signature", counter="rejected.bad_signature")
        expect(env, "/api", "not-a-token", 401, "malformed")

        # 6. Key rotation: a token under the new key names an unknown kid; the filter
        #    refetches (rate-limited) and then accepts it.
        fetches = env.stat("jwks.fetches")
        new_kid = admin("/admin/rotate")["kid"]
        fresh = zitadel_token(project)
        check(json.loads(urlsafe_b64(fresh.split(".")[0]))["kid"] == new_kid, "minted under the new key")
        wait_until(lambda: env.get("/api", fresh)[0] == 200, "the rotated key accepted")
        check(env.stat("jwks.fetches") > fetches, "the rotation was fetched")

        # 7. A JWKS outage: within the stale window the keys still verify; past it, 503.
        admin("/admin/outage", on="true")
        failures = env.stat("jwks.fetch_failures")
        wait_until(lambda: env.stat("jwks.fetch_failures") > failures, "a failed refresh in the outage")
        expect(env, "/api", fresh, 200)  # lifetime 3 s, stale window 6 s
        wait_until(lambda: env.get("/api", fresh)[0] == 503, "503 past the stale window", timeout=30)
        expect(env, "/api", fresh, 503, "key_set_expired", counter="unavailable.key_set_expired")
        admin("/admin/outage", on="false")
        wait_until(lambda: env.get("/api", fresh)[0] == 200, "recovery after the outage", timeout=30)
        env.stop()
        envoys.remove(env)

        # 8. A JWKS that would empty the key set, or is malformed: refused whole, the old keys
        #    keep verifying.
        _, _, keys = http_req(idp_port, "GET", "/oauth/v2/keys")
        JwksFile.doc = keys
        env = Envoy(work, "file", {"FILTER_WASM": FILTER, "ISSUER": issuer, "JWKS_PORT": jwks_file.server_port,
                                   "JWKS_PATH": "/jwks", "UPSTREAM_PORT": upstream.server_port})
        envoys.append(env)
        wait_until(lambda: env.get("/api", fresh)[0] == 200, "the file's key set loaded")
        for doc in (b'{"keys":[]}', b'{"keys":[{"kty":"XYZ","kid":"k"}]}', b"<html>not json"):
            failures = env.stat("jwks.fetch_failures")
            JwksFile.doc = doc
            wait_until(lambda: env.stat("jwks.fetch_failures") > failures, f"the refused document {doc!r}")
            expect(env, "/api", fresh, 200)
        JwksFile.doc = keys
        env.stop()
        envoys.remove(env)
    finally:
        for e in envoys:
            e.stop()
        idp.terminate()
        idp.wait()
        upstream.shutdown()
        jwks_file.shutdown()
    print(f"envoy_e2e: {checks} checks passed")


def urlsafe_b64(s):
    import base64
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"envoy_e2e: FAILED: {e}", file=sys.stderr)
        sys.exit(1)
