#!/usr/bin/env python3
"""End-to-end test of tokenguard in nginx (lua-nginx-module, LuaJIT FFI).

Renders nginx.conf.template into a temporary prefix, starts nginx (foreground, one process,
loopback only) in front of a header-echoing upstream (http.server in this process), mints
tokens with tokenguard-sim and asserts exact outcomes. Standard library only.

Environment: NGINX (default /usr/sbin/nginx), CAPI_LIB (default
capi/target/release/libtokenguard_capi.so), TOKENGUARD_SIM (default
target/debug/tokenguard-sim). Prints `test_nginx: N checks passed`; exits 1 on the first
failure.
"""

import base64
import http.client
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")
CAPI_LIB = os.environ.get("CAPI_LIB", str(REPO / "capi/target/release/libtokenguard_capi.so"))
SIM = os.environ.get("TOKENGUARD_SIM", str(REPO / "target/debug/tokenguard-sim"))

ISSUER = "https://issuer.test"
AUDIENCE = "gateway-api"
EMPTY_SET = '{"keys":[]}'

CHECKS = 0


class Failure(Exception):
    pass


def check(cond, what, detail=""):
    global CHECKS
    if not cond:
        raise Failure(f"{what}" + (f": {detail}" if detail else ""))
    CHECKS += 1


def expect_eq(actual, expected, what):
    check(actual == expected, what, f"expected {expected!r}, got {actual!r}")


def sim(*args):
    p = subprocess.run([SIM, *args], capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise Failure(f"tokenguard-sim {' '.join(args)}: exit {p.returncode}: {p.stderr.strip()}")
    return p.stdout.strip()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Echo(http.server.BaseHTTPRequestHandler):
    """The upstream: answers 200 with the request line and headers it received, as JSON."""

    seen = []

    def do_GET(self):
        Echo.seen.append(self.path)
        body = json.dumps({"path": self.path, "headers": list(self.headers.items())}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def request(port, path, token=None, headers=()):
    """GET path; headers is a list of (name, value) pairs (repeats allowed)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("GET", path)
        if token is not None:
            conn.putheader("Authorization", f"Bearer {token}")
        for name, value in headers:
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.getheader("WWW-Authenticate"), resp.read().decode()
    finally:
        conn.close()


def render(prefix, port, upstream_port, jwks):
    text = (HERE / "nginx.conf.template").read_text()
    values = {
        "PREFIX": str(prefix), "PORT": str(port), "UPSTREAM_PORT": str(upstream_port),
        "LIB": CAPI_LIB, "JWKS": str(jwks), "LUA_DIR": str(HERE),
        "ISSUER": ISSUER, "AUDIENCE": AUDIENCE,
    }
    for k, v in values.items():
        text = text.replace("${" + k + "}", v)
    if "${" in text:
        raise Failure("template: a placeholder was left: " + text[text.index("${"):][:40])
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    (prefix / "tmp").mkdir(exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(text)
    return conf


class Nginx:
    def __init__(self, prefix, upstream_port, jwks):
        self.prefix = prefix
        self.port = free_port()
        self.conf = render(prefix, self.port, upstream_port, jwks)
        self.proc = None

    def error_log(self):
        p = self.prefix / "logs/error.log"
        return p.read_text() if p.exists() else ""

    def start(self):
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(self.prefix), "-c", str(self.conf)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode()
                raise Failure(f"nginx exited with {self.proc.returncode}: {err.strip()}\n"
                              f"{self.error_log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise Failure("nginx did not start listening within 10 s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()


def bearer_error(code):
    return f'Bearer error="invalid_token", error_description="{code}"'


def run(tmp):
    for path, what in ((NGINX, "NGINX"), (CAPI_LIB, "CAPI_LIB"), (SIM, "TOKENGUARD_SIM")):
        if not Path(path).exists():
            raise Failure(f"{what}: {path} does not exist")

    # Keys: an EC P-256 key (ES256) and an RSA key (RS256), published together; a third key
    # that is not published (unknown kid).
    ec, rsa, other = tmp / "ec.jwk", tmp / "rsa.jwk", tmp / "other.jwk"
    sim("jwk", "--generate", "EC", "--crv", "P-256", "--kid", "k1", "--include-private",
        "--output", str(ec))
    sim("jwk", "--generate", "RSA", "--size", "2048", "--kid", "r1", "--include-private",
        "--output", str(rsa))
    sim("jwk", "--generate", "EC", "--crv", "P-256", "--kid", "k9", "--include-private",
        "--output", str(other))
    public = [json.loads(sim("jwk", "--json", f"@{k}")) for k in (ec, rsa)]
    for k in public:
        check("d" not in k, "public JWK has no private member")
    good_set = json.dumps({"keys": public})
    jwks = tmp / "jwks.json"
    jwks.write_text(good_set)

    def sign(key, *extra, audience=AUDIENCE):
        return sim("sign", "--key", str(key), "--issuer", ISSUER, "--audience", audience,
                   "--lifetime", "600", *extra)

    now = int(time.time())
    es256 = sign(ec, "--subject", "alice")
    rs256 = sign(rsa, "--subject", "bob")
    expired = sign(ec, "--subject", "alice", "--now", str(now - 3600))
    wrong_aud = sign(ec, "--subject", "alice", audience="another-api")
    unknown_kid = sign(other, "--subject", "alice")
    h, p, s = es256.split(".")
    tampered_sig = ("B" if s[0] == "A" else "A") + s[1:]
    tampered = f"{h}.{p}.{tampered_sig}"
    none_header = b64url(json.dumps({"alg": "none", "typ": "JWT", "kid": "k1"}).encode())
    alg_none = f"{none_header}.{p}."             # the usual attack: empty signature
    alg_none_signed = f"{none_header}.{p}.{s}"   # with a signature segment kept

    # The upstream.
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    upstream.daemon_threads = True
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    servers = []
    try:
        up_port = upstream.server_address[1]

        # --- Run 1: a good JWK Set -------------------------------------------------------
        ng = Nginx(tmp / "run1", up_port, jwks)
        servers.append(ng)
        ng.start()
        port = ng.port
        log = ng.error_log()
        check("tokenguard 0.1.0: 2 key(s) from" in log, "init_worker loaded 2 keys", log[-800:])

        # Valid ES256: through, X-Jwt-Sub from `sub`, the client's own X-Jwt-Sub (sent twice)
        # replaced by exactly one.
        status, www, body = request(port, "/api/hello", es256,
                                    [("X-Jwt-Sub", "mallory"), ("X-Jwt-Sub", "eve")])
        expect_eq(status, 200, "ES256 token: status")
        expect_eq(www, None, "ES256 token: no WWW-Authenticate")
        seen = json.loads(body)
        expect_eq(seen["path"], "/api/hello", "ES256 token: upstream path")
        subs = [v for k, v in seen["headers"] if k.lower() == "x-jwt-sub"]
        expect_eq(subs, ["alice"], "ES256 token: upstream's X-Jwt-Sub (client's replaced)")

        # Valid RS256.
        status, www, body = request(port, "/api/rs", rs256, [("X-Jwt-Sub", "mallory")])
        expect_eq(status, 200, "RS256 token: status")
        subs = [v for k, v in json.loads(body)["headers"] if k.lower() == "x-jwt-sub"]
        expect_eq(subs, ["bob"], "RS256 token: upstream's X-Jwt-Sub")

        upstream_calls = len(Echo.seen)

        # No token; another scheme.
        status, www, _ = request(port, "/api/hello", headers=[("X-Jwt-Sub", "mallory")])
        expect_eq((status, www), (401, "Bearer"), "no token")
        status, www, _ = request(port, "/api/hello", headers=[("Authorization", "Basic Zm9vOmJhcg==")])
        expect_eq((status, www), (401, "Bearer"), "Basic credentials")
        status, www, _ = request(port, "/api/hello", es256, [("Authorization", f"Bearer {es256}")])
        # nginx itself refuses a repeated Authorization ("client sent duplicate header
        # line") with a plain 400 while reading the headers, before any phase runs.
        expect_eq((status, www), (400, None), "two Authorization headers")

        # Refused tokens: the engine's code in error_description.
        for name, token, code in (
            ("expired", expired, "expired"),
            ("wrong audience", wrong_aud, "wrong_audience"),
            ("tampered signature", tampered, "bad_signature"),
            ("unknown kid", unknown_kid, "key_not_found"),
            # alg "none": docs/c-api.md only says results 1..18 are the engine's codes;
            # README.md and docs/attacks.md pin them: with its empty signature `malformed`
            # (structurally invalid), with a signature segment `unsupported_alg`.
            ("alg none, empty signature", alg_none, "malformed"),
            ("alg none, signature kept", alg_none_signed, "unsupported_alg"),
            ("garbage", "not-a-jwt", "malformed"),
        ):
            status, www, _ = request(port, "/api/hello", token)
            expect_eq((status, www), (401, bearer_error(code)), f"{name} token")
        expect_eq(len(Echo.seen), upstream_calls, "no refused request reached the upstream")

        # The content-phase location is protected as well.
        status, www, body = request(port, "/fixed")
        expect_eq((status, www), (401, "Bearer"), "/fixed without a token")
        status, www, body = request(port, "/fixed", es256)
        expect_eq((status, body), (200, "fixed: token checked\n"), "/fixed with a token")

        # THE TRAP: `return` in the rewrite phase, before access_by_lua: no check at all.
        status, www, body = request(port, "/trap")
        expect_eq((status, www, body), (200, None, "trap: no token was checked\n"),
                  "/trap without a token (return runs before the access phase)")
        status, www, body = request(port, "/trap", tampered)
        expect_eq((status, body), (200, "trap: no token was checked\n"),
                  "/trap with a tampered token")

        # All or nothing: a refused set leaves the old keys in force.
        jwks.write_text(EMPTY_SET)
        status, _, body = request(port, "/_tokenguard/reload")
        expect_eq(status, 409, "reload of an empty set: status")
        check("jwks_refused" in body and "2 key(s) stay in force" in body,
              "reload of an empty set: refused, old keys stay", body)
        status, _, body = request(port, "/api/after-refusal", es256)
        expect_eq(status, 200, "ES256 token after the refused reload")
        jwks.write_text(good_set)
        status, _, body = request(port, "/_tokenguard/reload")
        expect_eq((status, body), (200, "reloaded 2\n"), "reload of the good set")

        log = ng.error_log()
        bad = [l for l in log.splitlines()
               if any(f"[{lvl}]" in l for lvl in ("warn", "error", "crit", "alert", "emerg"))]
        expect_eq(bad, [], "run 1: no warning or error in error.log")
        check("docs/c-api.md says" not in log, "no result name differs from docs/c-api.md",
              log[-800:])
        ng.stop()

        # --- Run 2: the JWK Set file is refused at start: 503 ---------------------------
        empty = tmp / "empty.json"
        empty.write_text(EMPTY_SET)
        ng2 = Nginx(tmp / "run2", up_port, empty)
        servers.append(ng2)
        ng2.start()
        log = ng2.error_log()
        check("jwks_refused" in log and "0 key(s) stay in force" in log,
              "run 2: refused JWK Set logged", log[-800:])
        calls = len(Echo.seen)
        status, www, _ = request(ng2.port, "/api/hello", es256)
        expect_eq((status, www), (503, None), "run 2: valid token without keys")
        status, www, _ = request(ng2.port, "/api/hello")
        expect_eq((status, www), (503, None), "run 2: no token without keys")
        expect_eq(len(Echo.seen), calls, "run 2: nothing reached the upstream")
        ng2.stop()
    finally:
        for s in servers:
            s.stop()
        upstream.shutdown()
        upstream.server_close()


def main():
    start = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="tokenguard-nginx-"))
    try:
        run(tmp)
    except Failure as e:
        print(f"test_nginx: FAILED after {CHECKS} checks: {e}", file=sys.stderr)
        for log in sorted(tmp.glob("run*/logs/error.log")):
            print(f"--- {log} (last lines)", file=sys.stderr)
            print("\n".join(log.read_text().splitlines()[-15:]), file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"test_nginx: {CHECKS} checks passed ({time.monotonic() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
