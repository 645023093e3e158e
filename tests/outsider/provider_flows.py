#!/usr/bin/env python3
"""Outsider provider flows for tokenguard-sim: what a new user of each provider's docs does.

Written from the README, docs/simulator.md, docs/decisions.md and `tokenguard-sim <command>
--help` alone (no Rust source was read). Every key is made by openssl (or keytool), every
result is checked with independent tools (PyJWT, jwcrypto, cryptography, openssl):

  1. ZITADEL service-user and application key files (PKCS#1 and PKCS#8 keys) -> `sign`
     (presets from the file's type, and key2jwt's single-dash flags) and `jwk --private-key`;
  2. the ZITADEL System API: a system user's PEM key -> `sign --preset zitadel-system`, sent
     as a Bearer token to `idp serve --system-user`'s /system/v1/...;
  3. an API gateway's "Create JWK" sources with `jwk`: URL, pasted JSON, CERTIFICATE (and a
     leaf + CA bundle with --x5c), PUBLIC KEY, PRIVATE KEY, KEYSTORE (openssl current and
     -legacy PKCS#12, keytool PKCS#12, JKS refused), shared secret, GENERATE;
  4. Auth0: an HS256 API with the tenant's signing secret, and RS256 through the mock IdP
     (client_credentials + private_key_jwt with `audience`), verified with PyJWT, jwcrypto
     and `tokenguard-sim verify` over a JWK Set from `tokenguard-sim jwks fetch`.

Network: loopback only (127.0.0.1). Servers it starts are stopped on every exit path.

Usage:
  PYTHONPATH=target/peers/python \\
  python3 tests/outsider/provider_flows.py --bin target/debug/tokenguard-sim [--verbose]

Exit status 0 only when every check passed.
"""

import argparse
import base64
import http.server
import json
import math
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections import namedtuple
from pathlib import Path

# PyJWT, jwcrypto and cryptography live in target/peers/python (peers/install.sh).
_PEERS = Path(__file__).resolve().parents[2] / "target" / "peers" / "python"
if _PEERS.is_dir() and str(_PEERS) not in sys.path:
    sys.path.append(str(_PEERS))

import jwt  # noqa: E402  (PyJWT)
from jwcrypto import jwk as jjwk  # noqa: E402
from jwcrypto import jwt as jjwt  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402

warnings.simplefilter("ignore")

# loopback only: never let a proxy setting send a request elsewhere
for _var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy",
             "ALL_PROXY"):
    os.environ.pop(_var, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

CODES = ["malformed", "too_large", "unsupported_alg", "alg_not_allowed", "key_not_found",
         "key_rejected", "bad_signature", "expired", "not_yet_valid", "issued_in_future",
         "wrong_issuer", "wrong_audience", "wrong_subject", "wrong_type", "missing_claim",
         "invalid_claim", "crit_unsupported", "replayed"]
RSA_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi")
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64u_int(text) -> int:
    try:
        return int.from_bytes(unb64u(text), "big")
    except (TypeError, ValueError, AttributeError):
        return -1


def short(value, limit=400):
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def loads(data):
    try:
        return json.loads(data)
    except (ValueError, TypeError):
        return None


class Result(namedtuple("Result", "rc out err")):
    @property
    def text(self):
        return self.out.decode("utf-8", "replace")

    @property
    def errtext(self):
        return self.err.decode("utf-8", "replace")

    def __str__(self):
        return f"exit {self.rc}, stdout {short(self.text)!r}, stderr {short(self.errtext)!r}"


class SetupError(Exception):
    """A tool the flow needs (openssl, keytool) failed: the section cannot go on."""


class Suite:
    def __init__(self, args, tmp: Path):
        self.bin = str(Path(args.bin).resolve())
        self.verbose = args.verbose
        self.tmp = tmp
        self.checks = 0
        self.failures = []
        self.notes = []
        self.procs = []      # servers to stop
        self.httpds = []     # Python http.servers to shut down

    # -- results ----------------------------------------------------------------------------
    def check(self, name, ok, expected="", got=""):
        self.checks += 1
        if not ok:
            self.failures.append(name)
            print(f"FAIL {name}\n     expected: {expected}\n     received: {short(got, 900)}",
                  flush=True)
        elif self.verbose:
            print(f"ok   {name}", flush=True)
        return bool(ok)

    def note(self, text):
        self.notes.append(text)
        if self.verbose:
            print(f"note {text}", flush=True)

    # -- processes --------------------------------------------------------------------------
    def run(self, *args, stdin=None, env=None, timeout=60):
        full_env = dict(os.environ)
        full_env.update(env or {})
        proc = subprocess.run([self.bin, *map(str, args)], input=stdin or b"",
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env,
                              cwd=self.tmp, timeout=timeout)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def stop_all(self):
        for httpd in self.httpds:
            try:
                httpd.shutdown()
                httpd.server_close()
            except Exception:  # noqa: BLE001
                pass
        self.httpds.clear()
        for srv in self.procs:
            srv.stop()
        self.procs.clear()

    # -- expectations -----------------------------------------------------------------------
    def expect_refusal(self, name, res, *needles):
        """simulator.md: every refusal of `sign` and `jwk` is exit 2, `error: ...` on stderr,
        nothing on stdout. `needles`: text the message must hold (documented wording)."""
        err = res.errtext
        ok = (res.rc == 2 and res.out == b"" and err.startswith("error: ")
              and all(n in err for n in needles))
        want = "exit 2, empty stdout, stderr `error: ...`"
        if needles:
            want += " holding " + ", ".join(repr(n) for n in needles)
        return self.check(name, ok, want, str(res))


def tool(*cmd, stdin=None, env=None, cwd=None, timeout=120, with_stderr=False) -> bytes:
    """Run openssl/keytool; their failure is a setup error (the flow cannot continue)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run([str(c) for c in cmd], input=stdin or b"", stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=full_env, cwd=cwd, timeout=timeout)
    if proc.returncode != 0:
        raise SetupError(f"{' '.join(map(str, cmd))}: exit {proc.returncode}: "
                         f"{proc.stderr.decode('utf-8', 'replace').strip()}")
    return proc.stdout + proc.stderr if with_stderr else proc.stdout


def ossl(*args, **kw) -> bytes:
    return tool("openssl", *args, **kw)


def _hex_block(lines, start):
    """The colon-separated hex lines after lines[start] (openssl -text), as bytes."""
    out = []
    for line in lines[start + 1:]:
        s = line.strip()
        if not re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2})*:?", s):
            break
        out.append(s)
    return bytes.fromhex("".join(out).replace(":", ""))


def openssl_view(pub_pem: bytes) -> dict:
    """A public key as openssl prints it (`openssl pkey -pubin -noout -text`), as JWK
    members: RSA n/e (ints), EC crv/x/y, OKP crv/x (base64url)."""
    text = ossl("pkey", "-pubin", "-noout", "-text", stdin=pub_pem).decode()
    lines = text.splitlines()
    if any(line.startswith("Modulus:") for line in lines):
        i = next(i for i, line in enumerate(lines) if line.startswith("Modulus:"))
        n = int.from_bytes(_hex_block(lines, i), "big")
        e = int(re.search(r"Exponent: (\d+)", text).group(1))
        return {"kty": "RSA", "n": n, "e": e}
    i = next(i for i, line in enumerate(lines) if line.strip() == "pub:")
    raw = _hex_block(lines, i)
    if lines[0].startswith("ED25519"):
        return {"kty": "OKP", "crv": "Ed25519", "x": b64u(raw)}
    m = re.search(r"NIST CURVE: (P-\d+)", text)
    crv = m.group(1) if m else "?"
    size = (len(raw) - 1) // 2
    return {"kty": "EC", "crv": crv, "x": b64u(raw[1:1 + size]), "y": b64u(raw[1 + size:])}


def jwk_matches(j: dict, view: dict) -> bool:
    """The JWK's public members equal openssl's view of the key."""
    if not isinstance(j, dict) or j.get("kty") != view["kty"]:
        return False
    if view["kty"] == "RSA":
        return b64u_int(j.get("n")) == view["n"] and b64u_int(j.get("e")) == view["e"]
    if view["kty"] == "EC":
        return all(j.get(m) == view[m] for m in ("crv", "x", "y"))
    return j.get("crv") == view["crv"] and j.get("x") == view["x"]


def view_str(view: dict) -> str:
    v = dict(view)
    if "n" in v:
        v["n"] = f"{v['n']:x}"[:24] + "..."
    return repr(v)


def jwcrypto_parses(j, private=False):
    """jwcrypto reads the JWK text; has_private as expected; its public export has our
    public members."""
    try:
        key = jjwk.JWK.from_json(json.dumps(j))
    except Exception as e:  # noqa: BLE001
        return False, f"jwcrypto refused it: {e!r}"
    if key.get("kty") == "oct":       # jwcrypto's has_private is about asymmetric keys
        return True, "ok"
    if key.has_private != private:
        return False, f"jwcrypto has_private = {key.has_private}"
    pub = key.export_public(as_dict=True)
    for m, v in pub.items():
        if j.get(m) != v:
            return False, f"member {m}: jwcrypto {v!r}, JWK {j.get(m)!r}"
    return True, "ok"


def http_call(method, url, form=None, headers=None, timeout=10):
    """(status, body bytes, headers); never follows a proxy (loopback only)."""
    assert url.startswith("http://127.0.0.1:"), url
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=timeout) as resp:
            return resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def pyjwt_decode(token, key, alg, aud, iss, **kw):
    """PyJWT's verdict: (header, claims) or (None, error text)."""
    try:
        claims = jwt.decode(token, key=key, algorithms=[alg], audience=aud, issuer=iss,
                            options={"require": ["exp", "iat", "iss", "aud"]}, **kw)
        return jwt.get_unverified_header(token), claims
    except Exception as e:  # noqa: BLE001
        return None, repr(e)


def jwcrypto_decode(token, key, alg, aud, iss):
    """jwcrypto's verdict: claims dict, or the error text."""
    try:
        t = jjwt.JWT(jwt=token, key=key, algs=[alg], expected_type="JWS",
                     check_claims={"iss": iss, "aud": aud, "exp": None, "iat": None})
        return json.loads(t.claims)
    except Exception as e:  # noqa: BLE001
        return repr(e)


def token_line(res: Result):
    """A command that prints a token: exactly one line, three segments."""
    lines = res.text.splitlines()
    if res.rc == 0 and len(lines) == 1 and lines[0].count(".") == 2:
        return lines[0]
    return None


class IdP:
    """`tokenguard-sim idp serve --listen 127.0.0.1:0 ...`; its base URL read from its
    start-up lines (observed on stderr: `mock IdP on http://127.0.0.1:PORT ...`)."""

    def __init__(self, suite, *args):
        self.lines = []
        self.found = threading.Event()
        self.base = None
        self.proc = subprocess.Popen([suite.bin, "idp", "serve", "--listen", "127.0.0.1:0",
                                      *map(str, args)], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     cwd=suite.tmp)
        suite.procs.append(self)
        for stream in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=self._drain, args=(stream,), daemon=True).start()
        if not self.found.wait(10) or self.base is None:
            raise SetupError(f"idp serve printed no http://127.0.0.1:PORT address in 10 s "
                             f"(exit {self.proc.poll()}): {self.lines!r}")

    def _drain(self, stream):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
            if m and self.base is None:
                self.base = f"http://127.0.0.1:{m.group(1)}"
                self.found.set()
        self.found.set()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def serve_static(suite, routes: dict) -> str:
    """A Python http.server on 127.0.0.1 serving {path: (content-type, body)}."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.path in routes:
                ctype, body = routes[self.path]
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_error(404)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    suite.httpds.append(httpd)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}"


def zitadel_id() -> str:
    """An 18-digit id like ZITADEL's."""
    return "2" + "".join(secrets.choice("0123456789") for _ in range(17))


# ---------------------------------------------------------------------------------------------
# 1. ZITADEL service-user and application key files
# ---------------------------------------------------------------------------------------------


def zitadel_key_files(suite):
    d = suite.tmp / "zitadel"
    d.mkdir()
    audience = "https://issuer.example"
    pkcs1 = d / "rsa.pkcs1.pem"
    ossl("genrsa", "-traditional", "-out", pkcs1, "2048")
    pkcs8 = d / "rsa.pkcs8.pem"
    ossl("pkcs8", "-topk8", "-nocrypt", "-in", pkcs1, "-out", pkcs8)
    if not (pkcs1.read_text().startswith("-----BEGIN RSA PRIVATE KEY-----")
            and pkcs8.read_text().startswith("-----BEGIN PRIVATE KEY-----")):
        raise SetupError("openssl did not write PKCS#1 and PKCS#8 PEM")
    pub_pem = ossl("pkey", "-in", pkcs1, "-pubout")
    view = openssl_view(pub_pem)
    jc_pub = jjwk.JWK.from_pem(pub_pem)

    for kind in ("serviceaccount", "application"):
        for form, keyfile in (("PKCS#1", pkcs1), ("PKCS#8", pkcs8)):
            key_id = zitadel_id()
            if kind == "serviceaccount":
                owner = zitadel_id()
                doc = {"type": "serviceaccount", "keyId": key_id, "key": keyfile.read_text(),
                       "userId": owner}
                what = f"ZITADEL service-user key file ({form})"
            else:
                owner = f"{zitadel_id()}@tokenguard-demo"
                doc = {"type": "application", "keyId": key_id, "key": keyfile.read_text(),
                       "appId": zitadel_id(), "clientId": owner}
                what = f"ZITADEL application key file ({form})"
            path = d / f"{kind}-{form[-1]}.json"
            path.write_text(json.dumps(doc))
            want_hdr = {"alg": "RS256", "typ": "JWT", "kid": key_id}

            # sign --key FILE --audience URL (preset from the file's type)
            now = int(time.time())
            res = suite.run("sign", "--key", path, "--audience", audience, "--now", now)
            tok = token_line(res)
            if not suite.check(f"{what}: sign --key FILE --audience {audience} -> one token",
                               tok, "exit 0, one JWT line", str(res)):
                continue
            hdr, claims = pyjwt_decode(tok, pub_pem, "RS256", audience, owner)
            if suite.check(f"{what}: PyJWT verifies it with openssl's public key (RS256, "
                           f"aud, iss)", hdr is not None, "verified", claims):
                suite.check(f"{what}: header alg RS256, typ JWT, kid = keyId",
                            hdr == want_hdr, repr(want_hdr), repr(hdr))
                want = {"iss": owner, "sub": owner, "aud": audience, "iat": now - 5,
                        "exp": now - 5 + 3600}
                got = {k: claims.get(k) for k in want}
                suite.check(f"{what}: iss = sub = {'userId' if 'userId' in doc else 'clientId'}"
                            f", aud, iat = --now - 5 (backdate), exp = iat + 3600 (<= 1 h)",
                            got == want, repr(want), repr(claims))
                suite.check(f"{what}: no nbf (no preset sets nbf)", "nbf" not in claims,
                            "no nbf", repr(claims))
            jc = jwcrypto_decode(tok, jc_pub, "RS256", audience, owner)
            suite.check(f"{what}: jwcrypto verifies it with openssl's public key, same claims",
                        isinstance(jc, dict) and jc == claims, repr(claims), repr(jc))

            # key2jwt's single-dash flags, as in ZITADEL's docs
            out = d / f"{kind}-{form[-1]}.jwt"
            t0 = math.floor(time.time())
            res = suite.run("sign", "-key", path, "-audience", audience, "-output", out)
            t1 = math.ceil(time.time())
            written = out.read_text() if out.exists() else ""
            suite.check(f"{what}: sign -key -audience -output: exit 0, nothing on stdout, the "
                        f"file holds one JWT", res.rc == 0 and res.out == b""
                        and written.strip().count(".") == 2, "exit 0, empty stdout, a JWT",
                        f"{res}; file {written[:80]!r}")
            ktok = written.strip()
            hdr, kc = pyjwt_decode(ktok, pub_pem, "RS256", audience, owner)
            if suite.check(f"{what}: key2jwt-flag token verifies in PyJWT", hdr is not None,
                           "verified", kc):
                suite.check(f"{what}: key2jwt-flag token header alg RS256, kid = keyId",
                            hdr.get("alg") == "RS256" and hdr.get("kid") == key_id,
                            repr(want_hdr), repr(hdr))
                iat = kc.get("iat", -1)
                suite.check(f"{what}: key2jwt flags: iss = sub, iat not backdated (within the "
                            f"run), exp = iat + 3600",
                            kc.get("iss") == owner and kc.get("sub") == owner
                            and t0 <= iat <= t1 and kc.get("exp") == iat + 3600,
                            f"iss = sub = {owner}, {t0} <= iat <= {t1}, exp = iat + 3600",
                            repr(kc))
            jc = jwcrypto_decode(ktok, jc_pub, "RS256", audience, owner)
            suite.check(f"{what}: key2jwt-flag token verifies in jwcrypto",
                        isinstance(jc, dict) and jc == kc, repr(kc), repr(jc))

            # jwk --private-key FILE -> the public JWK, kid = keyId, openssl's n/e
            res = suite.run("jwk", "--private-key", path)
            j = loads(res.out) if res.rc == 0 else None
            ok = (isinstance(j, dict) and j.get("kid") == key_id and jwk_matches(j, view)
                  and not any(m in j for m in RSA_PRIVATE_MEMBERS))
            suite.check(f"{what}: jwk --private-key FILE -> public RSA JWK, kid = keyId, n/e = "
                        f"openssl's modulus/exponent, no private members", ok,
                        f"kid {key_id}, {view_str(view)}", str(res))
            if isinstance(j, dict):
                ok, why = jwcrypto_parses(j)
                suite.check(f"{what}: jwcrypto reads that JWK as a public key", ok, "parsed",
                            why)
                if ok:
                    jc = jwcrypto_decode(tok, jjwk.JWK.from_json(json.dumps(j)), "RS256",
                                         audience, owner)
                    suite.check(f"{what}: the signed token verifies in jwcrypto with that JWK",
                                isinstance(jc, dict), "verified", repr(jc))

    # ZITADEL allows at most one hour: a longer lifetime is refused before signing
    res = suite.run("sign", "--key", d / "serviceaccount-1.json", "--audience", audience,
                    "--lifetime", "3601")
    suite.expect_refusal("ZITADEL key file: sign --lifetime 3601 (over the preset's hour) -> "
                         "refused", res)


# ---------------------------------------------------------------------------------------------
# 2. ZITADEL System API
# ---------------------------------------------------------------------------------------------


def zitadel_system_api(suite):
    d = suite.tmp / "system"
    d.mkdir()
    user = "system-user-1"
    key = d / "system-user-1.pem"
    ossl("genrsa", "-out", key, "2048")                       # as ZITADEL's docs do
    pub = d / "system-user-1.pub"
    ossl("rsa", "-in", key, "-outform", "PEM", "-pubout", "-out", pub)
    pub_pem = pub.read_bytes()
    jc_pub = jjwk.JWK.from_pem(pub_pem)
    thumb = jc_pub.thumbprint()

    # offline: the token for the documented instance URL, checked by PyJWT and jwcrypto
    instance = "https://instance.example"
    now = int(time.time())
    res = suite.run("sign", "--preset", "zitadel-system", "--issuer", user, "--audience",
                    instance, "--key", key, "--now", now)
    tok = token_line(res)
    if suite.check("System API: sign --preset zitadel-system --issuer USER --audience "
                   "INSTANCE --key key.pem -> one token", tok, "exit 0, one JWT", str(res)):
        hdr, claims = pyjwt_decode(tok, pub_pem, "RS256", instance, user)
        if suite.check("System API: PyJWT verifies the token (RS256) with openssl's public key",
                       hdr is not None, "verified", claims):
            suite.check("System API token: header alg RS256, typ JWT",
                        hdr.get("alg") == "RS256" and hdr.get("typ") == "JWT",
                        "alg RS256, typ JWT", repr(hdr))
            want = {"iss": user, "sub": user, "aud": instance, "iat": now - 5,
                    "exp": now - 5 + 3600}
            got = {k: claims.get(k) for k in want}
            suite.check("System API token: iss = sub = USER, aud = instance URL, iat = --now - "
                        "5, exp - iat = 3600 (<= 1 h)", got == want, repr(want), repr(claims))
        jc = jwcrypto_decode(tok, jc_pub, "RS256", instance, user)
        suite.check("System API: jwcrypto verifies the token, same claims",
                    isinstance(jc, dict) and hdr is not None and jc == claims, repr(claims),
                    repr(jc))
    res = suite.run("sign", "--preset", "zitadel-system", "--issuer", user, "--audience",
                    instance, "--key", key, "--lifetime", "3601")
    suite.expect_refusal("System API: sign --preset zitadel-system --lifetime 3601 -> refused",
                         res)

    # the kid the IdP gives a PEM key: its RFC 7638 thumbprint (printed at start)
    res = suite.run("jwk", "--public-key", pub, "--thumbprint")
    suite.check("System API: jwk --public-key PUB.pem --thumbprint = jwcrypto's RFC 7638 "
                "thumbprint", res.rc == 0 and res.text.strip() == thumb, thumb, str(res))

    # online: the mock IdP's System API
    idp = IdP(suite, "--system-user", f"{user}:{pub}")
    base = idp.base
    time.sleep(0.05)
    suite.check("System API: idp serve prints the system user's kid (the PEM's RFC 7638 "
                "thumbprint) at start", any(user in ln and thumb in ln for ln in idp.lines),
                f"a line with {user!r} and {thumb!r}", repr(idp.lines))
    status, body, _ = http_call("GET", base + "/.well-known/openid-configuration")
    disc = loads(body) or {}
    suite.check("mock IdP: discovery's issuer is the base URL (http://127.0.0.1:PORT)",
                status == 200 and disc.get("issuer") == base, f"200, issuer {base}",
                f"{status} {short(body)}")

    def system_call(token, method="GET", path="/system/v1/instances/_search"):
        return http_call(method, base + path, form={} if method == "POST" else None,
                    headers={"Authorization": f"Bearer {token}"})

    def expect_ok(name, status, body):
        j = loads(body) or {}
        return suite.check(name, status == 200 and j.get("ok") is True
                           and j.get("system_user") == user,
                           f'200 {{"ok":true,"system_user":"{user}"}}',
                           f"{status} {short(body)}")

    def expect_401(name, status, body, codes):
        j = loads(body) or {}
        desc = j.get("error_description", "")
        code = desc.split(":", 1)[0] if isinstance(desc, str) else ""
        ok = status == 401 and j.get("error") == "unauthenticated" and code in codes
        if status == 401:
            suite.note(f"{name}: observed code {code!r}")
        want = "401 {\"error\":\"unauthenticated\", \"error_description\":\"" + (
            codes[0] if len(codes) == 1 else "<a tokenguard code>") + ": ...\"}"
        return suite.check(name, ok, want, f"{status} {short(body)}")

    # the instance URL of the mock is its base URL (the issuer)
    res = suite.run("sign", "--preset", "zitadel-system", "--issuer", user, "--audience", base,
                    "--key", key)
    tok = token_line(res)
    if tok:
        status, body = system_call(tok)[:2]
        expect_ok("System API: the token exactly as `sign --preset zitadel-system --key "
                  "key.pem` mints it (no kid; iss = sub = USER, aud = instance URL, 1 h) -> "
                  "GET /system/v1/... accepted (`--system-user`: \"its self-signed JWTs are "
                  "accepted\")", status, body)
    res = suite.run("sign", "--preset", "zitadel-system", "--issuer", user, "--audience", base,
                    "--key", key, "--kid", thumb)
    tok = token_line(res)
    if suite.check("System API: sign ... --kid THUMBPRINT -> one token", tok, "a JWT",
                   str(res)):
        status, body = system_call(tok)[:2]
        expect_ok("System API: token with kid = the key's thumbprint -> GET /system/v1/... "
                  "200 {\"ok\":true,\"system_user\":USER}", status, body)
        status, body = system_call(tok, "POST", "/system/v1/instances/_search")[:2]
        expect_ok("System API: the same token -> POST /system/v1/... 200", status, body)
    res = suite.run("sign", "--preset", "zitadel-system", "--issuer", user, "--audience",
                    instance, "--key", key, "--kid", thumb)
    tok = token_line(res)
    if tok:
        status, body = system_call(tok)[:2]
        expect_401("System API: a token for another audience (https://instance.example) -> "
                   "401 unauthenticated, wrong_audience", status, body, ["wrong_audience"])
    # more of the documented checks: iss = sub = NAME, at most 1 h, the user's own key
    priv_pem = key.read_bytes()
    t = int(time.time())
    long_tok = jwt.encode({"iss": user, "sub": user, "aud": base, "iat": t - 5,
                           "exp": t - 5 + 7200}, priv_pem, algorithm="RS256",
                          headers={"kid": thumb})
    status, body = system_call(long_tok)[:2]
    expect_401("System API: a PyJWT token living 2 h (over the System API's hour) -> 401 "
               "unauthenticated", status, body, CODES)
    other_tok = jwt.encode({"iss": "someone-else", "sub": "someone-else", "aud": base,
                            "iat": t - 5, "exp": t + 600}, priv_pem, algorithm="RS256",
                           headers={"kid": thumb})
    status, body = system_call(other_tok)[:2]
    expect_401("System API: iss = sub = another name -> 401 unauthenticated", status, body,
               CODES)
    other_key = d / "intruder.pem"
    ossl("genrsa", "-out", other_key, "2048")
    forged = jwt.encode({"iss": user, "sub": user, "aud": base, "iat": t - 5, "exp": t + 600},
                        other_key.read_bytes(), algorithm="RS256", headers={"kid": thumb})
    status, body = system_call(forged)[:2]
    expect_401("System API: a token signed by another key (same kid) -> 401 unauthenticated, "
               "bad_signature", status, body, ["bad_signature"])


# ---------------------------------------------------------------------------------------------
# 3. An API gateway's "Create JWK" sources
# ---------------------------------------------------------------------------------------------


def jwk_source(suite, name, res, view, kid=None, private=False, extra=None):
    """The JWK printed by `jwk`: jwcrypto reads it, its key is openssl's, kid as given."""
    j = loads(res.out) if res.rc == 0 else None
    if not suite.check(f"{name}: exit 0 with a JWK", isinstance(j, dict) and "kty" in j,
                       "exit 0, a JSON JWK", str(res)):
        return None
    ok, why = jwcrypto_parses(j, private)
    suite.check(f"{name}: jwcrypto reads it ({'private' if private else 'public'} key)", ok,
                "parsed, has_private " + str(private), why)
    suite.check(f"{name}: the key is the one openssl sees", jwk_matches(j, view),
                view_str(view), short(json.dumps(j)))
    if kid is not None:
        suite.check(f"{name}: kid {kid!r}", j.get("kid") == kid, repr(kid), repr(j.get("kid")))
    if not private and j.get("kty") != "oct":
        leaked = [m for m in RSA_PRIVATE_MEMBERS if m in j]
        suite.check(f"{name}: no private members", not leaked, "none of d/p/q/dp/dq/qi",
                    repr(leaked))
    for m, v in (extra or {}).items():
        suite.check(f"{name}: {m} = {v!r}", j.get(m) == v, repr(v), repr(j.get(m)))
    return j


def check_x5c(suite, name, j, chain_ders):
    """x5c: standard base64 DER certificates in order (RFC 7517 §4.7); x5t#S256 the leaf's
    SHA-256 thumbprint, base64url (§4.9); both checked with the cryptography library."""
    x5c = j.get("x5c") if isinstance(j, dict) else None
    try:
        got = [base64.b64decode(c, validate=True) for c in x5c]
        certs = [x509.load_der_x509_certificate(der) for der in got]
    except Exception as e:  # noqa: BLE001
        suite.check(f"{name}: x5c is a list of base64 DER certificates", False,
                    "base64 DER certificates", f"{x5c!r:.200} ({e!r})")
        return
    suite.check(f"{name}: x5c holds the chain, leaf first ({len(chain_ders)} certificates)",
                got == chain_ders, f"{len(chain_ders)} certificates, leaf then CA",
                f"{len(got)} certificates: {[c.subject.rfc4514_string() for c in certs]}")
    leaf = x509.load_der_x509_certificate(chain_ders[0])
    want = b64u(leaf.fingerprint(hashes.SHA256()))
    suite.check(f"{name}: x5t#S256 is the leaf certificate's SHA-256 thumbprint",
                j.get("x5t#S256") == want, want, repr(j.get("x5t#S256")))
    # the JWK's public key is the leaf certificate's
    spki = leaf.public_key().public_bytes(serialization.Encoding.PEM,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    suite.check(f"{name}: the JWK's key is the leaf certificate's",
                jwk_matches(j, openssl_view(spki)), "leaf key", short(json.dumps(j)))


def gateway_sources(suite):
    d = suite.tmp / "gateway"
    d.mkdir()
    # keys and certificates, all made by openssl
    rsa_key = d / "rsa.pem"
    ossl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", rsa_key)
    rsa_pub = ossl("pkey", "-in", rsa_key, "-pubout")
    rsa_view = openssl_view(rsa_pub)
    ec_key = d / "p256.pem"
    ossl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", ec_key)
    ec_pub = ossl("pkey", "-in", ec_key, "-pubout")
    ec_view = openssl_view(ec_pub)
    p384_sec1 = d / "p384.sec1.pem"
    ossl("ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", p384_sec1)
    p384_view = openssl_view(ossl("pkey", "-in", p384_sec1, "-pubout"))
    ed_key = d / "ed25519.pem"
    ossl("genpkey", "-algorithm", "ed25519", "-out", ed_key)
    ed_pub = d / "ed25519.pub.pem"
    ossl("pkey", "-in", ed_key, "-pubout", "-out", ed_pub)
    ed_view = openssl_view(ed_pub.read_bytes())

    # --- URL: a JWK Set served by a Python http.server on 127.0.0.1
    rsa_jc = jjwk.JWK.from_pem(rsa_pub)
    ec_jc = jjwk.JWK.from_pem(ec_pub)
    set_doc = {"keys": [dict(rsa_jc.export_public(as_dict=True), kid="gw-rsa", alg="RS256",
                             use="sig"),
                        dict(ec_jc.export_public(as_dict=True), kid="gw-ec", alg="ES256",
                             use="sig")]}
    one_doc = dict(ec_jc.export_public(as_dict=True), kid="single")
    web = serve_static(suite, {
        "/.well-known/jwks.json": ("application/json", json.dumps(set_doc).encode()),
        "/key.json": ("application/json", json.dumps(one_doc).encode()),
    })
    res = suite.run("jwk", "--url", web + "/.well-known/jwks.json", "--kid", "gw-rsa")
    jwk_source(suite, "jwk --url JWKS_URL --kid gw-rsa (Python http.server)", res, rsa_view,
               kid="gw-rsa", extra={"alg": "RS256"})
    res = suite.run("jwk", "--url", web + "/.well-known/jwks.json", "--kid", "gw-ec")
    jwk_source(suite, "jwk --url JWKS_URL --kid gw-ec", res, ec_view, kid="gw-ec",
               extra={"alg": "ES256"})
    res = suite.run("jwk", "--url", web + "/key.json")
    jwk_source(suite, "jwk --url URL of a single JWK", res, ec_view, kid="single")
    res = suite.run("jwk", "--url", web + "/.well-known/jwks.json")
    suite.expect_refusal("jwk --url of a 2-key JWK Set without --kid -> refused (--help: "
                         "\"pick one with --kid when it holds several\")", res, "--kid")

    # --- pasted JSON: a private JWK pasted gives its public JWK; a set, picked by --kid
    ec_priv_jwk = jjwk.JWK.from_pem(ec_key.read_bytes()).export_private(as_dict=True)
    res = suite.run("jwk", "--json", json.dumps(ec_priv_jwk))
    jwk_source(suite, "jwk --json '<pasted private EC JWK>' -> its public JWK", res, ec_view)
    res = suite.run("jwk", "--json", json.dumps(set_doc), "--kid", "gw-rsa")
    jwk_source(suite, "jwk --json '<pasted JWK Set>' --kid gw-rsa", res, rsa_view,
               kid="gw-rsa")

    # --- CERTIFICATE: self-signed RSA (PEM and DER), and a leaf + CA bundle with --x5c
    cert = d / "self.pem"
    ossl("req", "-x509", "-key", rsa_key, "-out", cert, "-days", "30", "-subj",
         "/CN=gateway.example")
    cert_der = d / "self.der"
    ossl("x509", "-in", cert, "-outform", "DER", "-out", cert_der)
    cert_view = openssl_view(ossl("x509", "-in", cert, "-pubkey", "-noout"))
    res = suite.run("jwk", "--cert", cert, "--alg", "RS256", "--kid", "k1")
    jwk_source(suite, "jwk --cert CERT.pem --alg RS256 --kid k1", res, cert_view, kid="k1",
               extra={"alg": "RS256"})
    res = suite.run("jwk", "--cert", cert_der, "--kid", "k1", "--set")
    s = loads(res.out) if res.rc == 0 else None
    keys = s.get("keys") if isinstance(s, dict) else None
    suite.check("jwk --cert CERT.der --set -> {\"keys\":[the certificate's key]}",
                isinstance(keys, list) and len(keys) == 1 and jwk_matches(keys[0], cert_view),
                "one key, openssl's", str(res))
    try:
        jjwk.JWKSet.from_json(res.text)
        ok, why = True, ""
    except Exception as e:  # noqa: BLE001
        ok, why = False, repr(e)
    suite.check("jwk --cert --set: jwcrypto reads the JWK Set", ok, "parsed", why)

    ca_key = d / "ca.key"
    ca = d / "ca.pem"
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
         "-days", "30", "-subj", "/CN=Gateway Test CA")
    csr = d / "leaf.csr"
    ossl("req", "-new", "-key", ec_key, "-out", csr, "-subj", "/CN=leaf.gateway.example")
    leaf = d / "leaf.pem"
    ossl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out",
         leaf, "-days", "30", cwd=d)
    bundle = d / "bundle.pem"
    bundle.write_bytes(leaf.read_bytes() + ca.read_bytes())
    chain = [ossl("x509", "-in", leaf, "-outform", "DER"),
             ossl("x509", "-in", ca, "-outform", "DER")]
    res = suite.run("jwk", "--cert", bundle, "--x5c", "--alg", "ES256", "--kid", "leaf")
    j = jwk_source(suite, "jwk --cert BUNDLE.pem (leaf + CA) --x5c", res, ec_view,
                   kid="leaf", extra={"alg": "ES256"})
    if j:
        check_x5c(suite, "jwk --cert BUNDLE.pem --x5c", j, chain)
    suite.check("jwk --cert BUNDLE.pem: says it holds a chain and takes the leaf (stderr)",
                res.rc == 0 and res.err.strip() != b"", "a note on stderr", str(res))

    # --- PUBLIC KEY: SPKI PEM (Ed25519), SPKI DER (RSA), PKCS#1 RSA PUBLIC KEY
    res = suite.run("jwk", "--public-key", ed_pub, "--alg", "EdDSA")
    jwk_source(suite, "jwk --public-key ED25519_SPKI.pem --alg EdDSA", res, ed_view,
               extra={"alg": "EdDSA"})
    spki_der = d / "rsa.pub.der"
    ossl("pkey", "-in", rsa_key, "-pubout", "-outform", "DER", "-out", spki_der)
    res = suite.run("jwk", "--public-key", spki_der, "--kid", "der")
    jwk_source(suite, "jwk --public-key RSA_SPKI.der", res, rsa_view, kid="der")
    pkcs1_pub = d / "rsa.pkcs1.pub.pem"
    ossl("rsa", "-in", rsa_key, "-RSAPublicKey_out", "-out", pkcs1_pub)
    res = suite.run("jwk", "--public-key", pkcs1_pub, "--kid", "thumbprint")
    thumb = jjwk.JWK.from_pem(rsa_pub).thumbprint()
    jwk_source(suite, "jwk --public-key 'RSA PUBLIC KEY' PEM --kid thumbprint", res, rsa_view,
               kid=thumb)

    # --- PRIVATE KEY: PKCS#8 RSA, SEC1 P-384, encrypted PKCS#8; public unless asked
    res = suite.run("jwk", "--private-key", rsa_key, "--alg", "PS256", "--use", "sig")
    jwk_source(suite, "jwk --private-key RSA_PKCS8.pem --alg PS256 --use sig", res, rsa_view,
               extra={"alg": "PS256", "use": "sig"})
    res = suite.run("jwk", "--private-key", p384_sec1)
    jwk_source(suite, "jwk --private-key P384_SEC1.pem", res, p384_view)
    res = suite.run("jwk", "--private-key", p384_sec1, "--include-private")
    j = jwk_source(suite, "jwk --private-key P384_SEC1.pem --include-private", res, p384_view,
                   private=True)
    if j:
        text = ossl("pkey", "-in", p384_sec1, "-noout", "-text").decode().splitlines()
        i = next(i for i, ln in enumerate(text) if ln.strip() == "priv:")
        want_d = _hex_block(text, i).rjust(48, b"\0")
        suite.check("jwk --include-private: d is openssl's private value",
                    j.get("d") == b64u(want_d), b64u(want_d), repr(j.get("d")))
    enc = d / "rsa.enc.pem"
    pw = {"KEY_PASSWORD": "gateway-secret"}
    ossl("pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", rsa_key, "-out", enc, "-passout",
         "env:KEY_PASSWORD", env=pw)
    res = suite.run("jwk", "--private-key", enc, "--password-env", "KEY_PASSWORD", env=pw)
    jwk_source(suite, "jwk --private-key ENCRYPTED_PKCS8.pem --password-env", res, rsa_view)
    res = suite.run("jwk", "--private-key", enc)
    suite.expect_refusal("jwk --private-key ENCRYPTED_PKCS8.pem without a password -> "
                         "refused", res)

    # --- KEYSTORE: PKCS#12 by openssl (current, -legacy) and keytool; refusals
    ks = {"KS_PASSWORD": "changeit"}
    pwfile = d / "ks-password.txt"
    pwfile.write_text("changeit\n")
    p12 = d / "gateway.p12"
    ossl("pkcs12", "-export", "-in", leaf, "-inkey", ec_key, "-certfile", ca, "-name",
         "gw-key", "-out", p12, "-passout", "env:KS_PASSWORD", env=ks)
    info = ossl("pkcs12", "-in", p12, "-info", "-noout", "-passin", "env:KS_PASSWORD",
                env=ks, with_stderr=True).decode()
    p12_key = ossl("pkcs12", "-in", p12, "-nocerts", "-nodes", "-passin", "env:KS_PASSWORD",
                   env=ks)
    p12_view = openssl_view(ossl("pkey", "-pubout", stdin=p12_key))
    if "AES" not in info.upper():
        suite.note(f"openssl pkcs12 -export did not report AES (PBES2): {short(info)}")
    res = suite.run("jwk", "--keystore", p12, "--password-env", "KS_PASSWORD", "--alias",
                    "gw-key", "--x5c", "--set", env=ks)
    s = loads(res.out) if res.rc == 0 else None
    keys = s.get("keys") if isinstance(s, dict) else None
    j = keys[0] if isinstance(keys, list) and len(keys) == 1 else None
    suite.check("jwk --keystore GW.p12 (openssl, PBES2/AES) --alias gw-key --x5c --set -> a "
                "one-key JWK Set", j is not None, "{\"keys\":[one JWK]}", str(res))
    if j:
        jwk_source(suite, "jwk --keystore GW.p12 --x5c --set: the key", Result(0, json.dumps(j)
                   .encode(), b""), p12_view, kid="gw-key")
        check_x5c(suite, "jwk --keystore GW.p12 --x5c", j, chain)
    res = suite.run("jwk", "--keystore", p12, "--password-file", pwfile, "--kid", "my-kid")
    jwk_source(suite, "jwk --keystore GW.p12 --password-file --kid my-kid (one entry, no "
               "--alias needed; --kid over the alias)", res, p12_view, kid="my-kid")
    res = suite.run("jwk", "--keystore", p12, "--password-env", "KS_PASSWORD",
                    "--include-private", env=ks)
    jwk_source(suite, "jwk --keystore GW.p12 --include-private", res, p12_view, kid="gw-key",
               private=True)
    res = suite.run("jwk", "--keystore", p12, "--password-env", "KS_PASSWORD",
                    env={"KS_PASSWORD": "not-the-password"})
    suite.expect_refusal("jwk --keystore GW.p12 with a wrong password -> refused", res)
    res = suite.run("jwk", "--keystore", p12)
    suite.expect_refusal("jwk --keystore GW.p12 without --password-env/--password-file -> "
                         "refused (never a password on the command line)", res)
    # the keystore signs too (simulator.md's example)
    now = int(time.time())
    res = suite.run("sign", "--key", p12, "--password-env", "KS_PASSWORD", "--issuer", "gw",
                    "--audience", "https://api.example", "--now", now, env=ks)
    tok = token_line(res)
    p12_pub = ossl("pkey", "-pubout", stdin=p12_key)
    hdr, c = pyjwt_decode(tok or "", p12_pub, "ES256", "https://api.example", "gw")
    suite.check("sign --key GW.p12 --password-env: an ES256 token PyJWT verifies with the "
                "keystore key (openssl's)", tok and hdr is not None, "verified", f"{res}; {c}")

    legacy = d / "legacy.p12"
    ossl("pkcs12", "-export", "-legacy", "-in", cert, "-inkey", rsa_key, "-name", "legacy-key",
         "-out", legacy, "-passout", "env:KS_PASSWORD", env=ks)
    info = ossl("pkcs12", "-in", legacy, "-legacy", "-info", "-noout", "-passin",
                "env:KS_PASSWORD", env=ks, with_stderr=True).decode()
    if "TRIPLEDES" not in info.upper() and "RC2" not in info.upper():
        suite.note(f"openssl pkcs12 -legacy did not report 3DES/RC2: {short(info)}")
    res = suite.run("jwk", "--keystore", legacy, "--password-env", "KS_PASSWORD", "--x5c",
                    env=ks)
    j = jwk_source(suite, "jwk --keystore LEGACY.p12 (openssl -legacy, 3DES/RC2) --x5c", res,
                   rsa_view, kid="legacy-key")
    if j:
        check_x5c(suite, "jwk --keystore LEGACY.p12 --x5c", j,
                  [cert_der.read_bytes()])

    if shutil.which("keytool"):
        kt = d / "keytool.p12"
        for alias, kargs in (("api-rsa", ["-keyalg", "RSA", "-keysize", "2048"]),
                             ("api-ec", ["-keyalg", "EC", "-groupname", "secp256r1"])):
            tool("keytool", "-genkeypair", "-storetype", "pkcs12", "-keystore", kt,
                 "-storepass", "changeit", "-alias", alias, *kargs, "-dname",
                 f"CN={alias}", "-validity", "30")
        # openssl's view of the entry `api-ec`: its private key, picked by friendlyName
        dump = ossl("pkcs12", "-in", kt, "-nocerts", "-nodes", "-passin", "env:KS_PASSWORD",
                    env=ks).decode()
        blocks = re.findall(r"Bag Attributes(.*?)(-----BEGIN PRIVATE KEY-----.*?"
                            r"-----END PRIVATE KEY-----)", dump, re.S)
        by_alias = {re.search(r"friendlyName: (\S+)", a).group(1): k for a, k in blocks
                    if re.search(r"friendlyName: (\S+)", a)}
        if set(by_alias) != {"api-rsa", "api-ec"}:
            raise SetupError(f"openssl did not list the keytool entries: {sorted(by_alias)}")
        kt_view = openssl_view(ossl("pkey", "-pubout", stdin=by_alias["api-ec"].encode()))
        res = suite.run("jwk", "--keystore", kt, "--password-env", "KS_PASSWORD", env=ks)
        suite.expect_refusal("jwk --keystore KEYTOOL.p12 holding two keys, no --alias -> "
                             "refused, the error lists the aliases", res, "api-rsa", "api-ec")
        res = suite.run("jwk", "--keystore", kt, "--password-env", "KS_PASSWORD", "--alias",
                        "api-ec", env=ks)
        jwk_source(suite, "jwk --keystore KEYTOOL.p12 (keytool -storetype pkcs12) --alias "
                   "api-ec", res, kt_view, kid="api-ec")
        kt_rsa_view = openssl_view(ossl("pkey", "-pubout",
                                        stdin=by_alias["api-rsa"].encode()))
        res = suite.run("jwk", "--keystore", kt, "--password-file", pwfile, "--alias",
                        "api-rsa")
        jwk_source(suite, "jwk --keystore KEYTOOL.p12 --alias api-rsa", res, kt_rsa_view,
                   kid="api-rsa")
        jks = d / "legacy.jks"
        tool("keytool", "-genkeypair", "-storetype", "jks", "-keystore", jks, "-storepass",
             "changeit", "-keypass", "changeit", "-alias", "old", "-keyalg", "RSA",
             "-keysize", "2048", "-dname", "CN=old", "-validity", "30")
        res = suite.run("jwk", "--keystore", jks, "--password-env", "KS_PASSWORD", env=ks)
        suite.expect_refusal("jwk --keystore STORE.jks (Java JKS) -> refused with the keytool "
                             "command that converts it", res, "keytool -importkeystore",
                             "-deststoretype pkcs12")
    else:
        suite.note("keytool not found: the keytool PKCS#12 and JKS checks were skipped")

    # --- shared secret
    secret = "gw-" + secrets.token_urlsafe(40)
    env = {"GW_SECRET": secret}
    res = suite.run("jwk", "--secret-env", "GW_SECRET", "--include-private", "--alg", "HS256",
                    "--kid", "gw-hs", env=env)
    j = loads(res.out) if res.rc == 0 else None
    suite.check("jwk --secret-env VAR --include-private --alg HS256 -> oct JWK, k = the "
                "secret's bytes (raw)", isinstance(j, dict) and j.get("kty") == "oct"
                and j.get("k") == b64u(secret.encode()) and j.get("kid") == "gw-hs"
                and j.get("alg") == "HS256", f"k {b64u(secret.encode())}", str(res))
    if isinstance(j, dict):
        ok, why = jwcrypto_parses(j, private=True)
        try:
            # jwcrypto hands an oct key over base64url-encoded
            op_key = jjwk.JWK.from_json(json.dumps(j)).get_op_key("sign")
            ok = ok and unb64u(op_key) == secret.encode()
        except Exception as e:  # noqa: BLE001
            ok, why = False, repr(e)
        suite.check("jwk --secret-env: jwcrypto reads the oct key, its key bytes are the "
                    "secret", ok, "parsed, same bytes", why)
    res = suite.run("jwk", "--secret-env", "GW_SECRET", env=env)
    suite.expect_refusal("jwk --secret-env without --include-private -> refused (a secret is "
                         "only printed with that flag)", res)
    raw = os.urandom(48)
    res = suite.run("jwk", "--secret-env", "GW_SECRET", "--secret-encoding", "base64",
                    "--include-private", env={"GW_SECRET": base64.b64encode(raw).decode()})
    j = loads(res.out) if res.rc == 0 else None
    suite.check("jwk --secret-env --secret-encoding base64 -> k = the decoded bytes",
                isinstance(j, dict) and j.get("k") == b64u(raw), b64u(raw), str(res))
    sfile = d / "secret.txt"
    sfile.write_text(secret + "\n")
    res = suite.run("jwk", "--secret-file", sfile, "--include-private")
    j = loads(res.out) if res.rc == 0 else None
    suite.check("jwk --secret-file FILE (final line break not part of it)",
                isinstance(j, dict) and j.get("k") == b64u(secret.encode()),
                b64u(secret.encode()), str(res))

    # --- GENERATE: openssl checks the generated keys
    for kty, gargs, check_cmd in (("EC", ["--crv", "P-256"], "ec"),
                                  ("RSA", ["--size", "2048"], "rsa"),
                                  ("OKP", ["--crv", "Ed25519"], None)):
        res = suite.run("jwk", "--generate", kty, *gargs, "--include-private", "--kid",
                        f"gen-{kty}")
        j = loads(res.out) if res.rc == 0 else None
        name = f"jwk --generate {kty} {' '.join(gargs)} --include-private"
        if not suite.check(f"{name}: exit 0 with a private JWK", isinstance(j, dict)
                           and "d" in j, "a private JWK", str(res)):
            continue
        ok, why = jwcrypto_parses(j, private=True)
        suite.check(f"{name}: jwcrypto reads it as a private key", ok, "parsed", why)
        if not ok:
            continue
        pem = jjwk.JWK.from_json(json.dumps(j)).export_to_pem(private_key=True, password=None)
        if check_cmd:
            out = subprocess.run(["openssl", check_cmd, "-check", "-noout"], input=pem,
                                 capture_output=True)
            suite.check(f"{name}: openssl {check_cmd} -check accepts the key",
                        out.returncode == 0 and re.search(rb"key ok|key valid",
                                                          (out.stdout + out.stderr).lower()),
                        "exit 0, 'RSA key ok' / 'EC Key valid'",
                        f"exit {out.returncode} {out.stdout + out.stderr!r:.200}")
        view = openssl_view(ossl("pkey", "-pubout", stdin=pem))
        suite.check(f"{name}: openssl derives the JWK's public members from its private key",
                    jwk_matches(j, view), view_str(view), short(json.dumps(j)))
        if kty == "RSA":
            suite.check(f"{name}: a 2048-bit modulus", view["n"].bit_length() == 2048, 2048,
                        view["n"].bit_length())
    res = suite.run("jwk", "--generate", "oct", "--alg", "HS256", "--include-private")
    j = loads(res.out) if res.rc == 0 else None
    suite.check("jwk --generate oct --alg HS256 --include-private -> a 256-bit k",
                isinstance(j, dict) and len(unb64u(j.get("k", ""))) == 32, "32-byte k",
                str(res))


# ---------------------------------------------------------------------------------------------
# 4. Auth0
# ---------------------------------------------------------------------------------------------


def auth0_hs256(suite):
    d = suite.tmp / "auth0-hs"
    d.mkdir()
    tenant = "https://tokenguard-test.eu.auth0.com/"
    api = "https://api.tokenguard.test"
    userinfo = tenant + "userinfo"
    # an Auth0 signing secret: 64 characters, used as its raw bytes
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    secret = "".join(secrets.choice(alphabet) for _ in range(64))
    env = {"AUTH0_SIGNING_SECRET": secret}
    oct_file = d / "auth0-hs256.json"
    res = suite.run("jwk", "--secret-env", "AUTH0_SIGNING_SECRET", "--include-private",
                    "--alg", "HS256", "--output", oct_file, env=env)
    j = loads(oct_file.read_bytes()) if oct_file.exists() else None
    suite.check("Auth0 HS256: jwk --secret-env --include-private --alg HS256 --output FILE -> "
                "an oct JWK whose k is the secret's raw bytes",
                res.rc == 0 and isinstance(j, dict) and j.get("kty") == "oct"
                and j.get("k") == b64u(secret.encode()), f"k {b64u(secret.encode())}",
                f"{res}; file {j!r:.200}")
    perms = ["read:messages", "write:messages"]
    scope = "openid profile read:messages"
    now = int(time.time())
    res = suite.run("sign", "--key", oct_file, "--alg", "HS256", "--issuer", tenant,
                    "--audience", api, "--audience", userinfo, "--claim",
                    "permissions=" + json.dumps(perms), "--claim", f"scope={scope}", "--now",
                    now)
    tok = token_line(res)
    if not suite.check("Auth0 HS256: sign --key OCT_JWK --alg HS256 ... -> one token", tok,
                       "exit 0, a JWT", str(res)):
        return
    hdr, claims = pyjwt_decode(tok, secret.encode(), "HS256", api, tenant)
    if suite.check("Auth0 HS256: PyJWT verifies it with the raw signing secret (aud = API, "
                   "iss = tenant/)", hdr is not None, "verified", claims):
        suite.check("Auth0 HS256: header alg HS256, typ JWT",
                    hdr.get("alg") == "HS256" and hdr.get("typ") == "JWT", "HS256, JWT",
                    repr(hdr))
        want = {"iss": tenant, "sub": tenant, "aud": [api, userinfo], "iat": now - 5,
                "exp": now - 5 + 3600, "permissions": perms, "scope": scope}
        suite.check("Auth0 HS256: claims: aud [API, userinfo] in order, permissions an array, "
                    "scope a string, iss = sub, iat = now - 5, exp = iat + 3600",
                    claims == want, repr(want), repr(claims))
    hdr2, c2 = pyjwt_decode(tok, secret.encode(), "HS256", userinfo, tenant)
    suite.check("Auth0 HS256: PyJWT also accepts it for the userinfo audience",
                hdr2 is not None, "verified", c2)
    jc = jwcrypto_decode(tok, jjwk.JWK(kty="oct", k=b64u(secret.encode())), "HS256", api,
                         tenant)
    suite.check("Auth0 HS256: jwcrypto verifies it with the raw secret", isinstance(jc, dict),
                "verified", repr(jc))
    wrong = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    hdr3, _ = pyjwt_decode(tok, wrong.encode(), "HS256", api, tenant)
    suite.check("Auth0 HS256: PyJWT refuses it under another secret", hdr3 is None,
                "InvalidSignatureError", "verified")
    res = suite.run("verify", "--jwks", oct_file, "--iss", tenant, "--aud", api, "--alg",
                    "HS256", tok)
    suite.check("Auth0 HS256: tokenguard-sim verify --jwks OCT_JWK accepts it, same claims",
                res.rc == 0 and loads(res.out) == claims, "exit 0, the claims", str(res))


def auth0_rs256(suite):
    d = suite.tmp / "auth0-rs"
    d.mkdir()
    client = "Yq8tP2xWm4NvK7rB9sLd3FhJ6cZa1Ge5"       # an Auth0-like client id
    api = "https://api.tokenguard.test/"
    key = d / "auth0-client.pem"
    ossl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key)
    pub = d / "auth0-client.pub.pem"
    ossl("pkey", "-in", key, "-pubout", "-out", pub)
    thumb = jjwk.JWK.from_pem(pub.read_bytes()).thumbprint()

    idp = IdP(suite, "--api", api, "--client", f"auth0_app:{client}:{pub}")
    base = idp.base
    time.sleep(0.05)
    suite.check("Auth0: idp serve prints the client's kid (the PEM's RFC 7638 thumbprint)",
                any(client in ln and thumb in ln for ln in idp.lines),
                f"a line with {client!r} and {thumb!r}", repr(idp.lines))
    endpoint = base + "/oauth/v2/token"
    status, body, _ = http_call("GET", base + "/.well-known/openid-configuration")
    disc = loads(body) or {}
    suite.check("Auth0: discovery's token_endpoint is the documented /oauth/v2/token",
                disc.get("token_endpoint") == endpoint, endpoint, f"{status} {short(body)}")

    def assertion(audience=endpoint):
        now = int(time.time())
        res = suite.run("sign", "--preset", "auth0", "--key", key, "--issuer", client,
                        "--audience", audience, "--kid", thumb, "--now", now)
        return token_line(res), res, now

    def token_request(assertion_jwt, audience, scope=None):
        form = {"grant_type": "client_credentials", "client_id": client,
                "client_assertion_type": CLIENT_ASSERTION_TYPE,
                "client_assertion": assertion_jwt, "audience": audience}
        if scope:
            form["scope"] = scope
        return http_call("POST", endpoint, form=form)

    a1, res, now = assertion()
    if not suite.check("Auth0: sign --preset auth0 --key client.pem --issuer CLIENT --audience "
                       "TOKEN_ENDPOINT --kid THUMBPRINT -> one token", a1, "a JWT", str(res)):
        return
    hdr, ac = pyjwt_decode(a1, pub.read_bytes(), "RS256", endpoint, client)
    if suite.check("Auth0 client assertion: PyJWT verifies it", hdr is not None, "verified",
                   ac):
        suite.check("Auth0 client assertion: iss = sub = client id, aud = token endpoint, a "
                    "jti, iat = now - 5, exp = iat + 300 (5 min)",
                    ac.get("iss") == client and ac.get("sub") == client
                    and ac.get("aud") == endpoint and isinstance(ac.get("jti"), str)
                    and ac.get("jti") and ac.get("iat") == now - 5
                    and ac.get("exp") == now - 5 + 300 and hdr.get("kid") == thumb,
                    f"iss = sub = {client}, aud {endpoint}, jti, exp - iat = 300, kid {thumb}",
                    f"{hdr} {ac}")

    scope = "read:things write:things"
    t0 = math.floor(time.time())
    status, body, _ = token_request(a1, api, scope)
    t1 = math.ceil(time.time())
    resp = loads(body) or {}
    at = resp.get("access_token")
    if not suite.check("Auth0: client_credentials + private_key_jwt + audience=API -> 200 "
                       "with an access_token", status == 200 and isinstance(at, str),
                       "200 {\"access_token\": ...}", f"{status} {short(body)}"):
        return
    suite.check("Auth0: token response token_type Bearer (RFC 6749 §5.1, case-insensitive)",
                str(resp.get("token_type", "")).lower() == "bearer", "Bearer",
                repr(resp.get("token_type")))

    # PyJWT with the IdP's JWKS (PyJWKClient), Auth0's documented shape
    jwks_url = base + "/.well-known/jwks.json"
    try:
        signing_key = jwt.PyJWKClient(jwks_url).get_signing_key_from_jwt(at)
        hdr, claims = pyjwt_decode(at, signing_key.key, "RS256", api, base + "/")
    except Exception as e:  # noqa: BLE001
        hdr, claims = None, repr(e)
    if suite.check("Auth0 access token: PyJWT (PyJWKClient on /.well-known/jwks.json) verifies "
                   "it, RS256, iss = issuer + '/'", hdr is not None, "verified", claims):
        suite.check("Auth0 access token: header alg RS256, typ JWT, a kid",
                    hdr.get("alg") == "RS256" and hdr.get("typ") == "JWT"
                    and isinstance(hdr.get("kid"), str) and hdr.get("kid"),
                    "alg RS256, typ JWT, kid", repr(hdr))
        want = {"iss": base + "/", "sub": f"{client}@clients", "aud": api, "azp": client,
                "gty": "client-credentials", "scope": scope,
                "permissions": scope.split()}
        got = {k: claims.get(k) for k in want}
        suite.check("Auth0 access token: iss with trailing slash, sub CLIENT@clients, aud API, "
                    "azp, gty client-credentials, scope, permissions = the scopes",
                    got == want, repr(want), repr(claims))
        iat = claims.get("iat", -1)
        suite.check("Auth0 access token: lifetime exp - iat = --api-ttl default 86400, iat "
                    "the IdP's clock at the request",
                    claims.get("exp") == iat + 86400 and t0 - 1 <= iat <= t1,
                    f"exp = iat + 86400, {t0 - 1} <= iat <= {t1}", repr(claims))
        if "expires_in" in resp:
            suite.check("Auth0: token response expires_in = 86400", resp["expires_in"] == 86400,
                        86400, repr(resp["expires_in"]))
    status, body, _ = http_call("GET", jwks_url)
    jwks_doc = loads(body) or {}
    try:
        keyset = jjwk.JWKSet.from_json(body)
        jc = jwcrypto_decode(at, keyset, "RS256", api, base + "/")
    except Exception as e:  # noqa: BLE001
        jc = repr(e)
    suite.check("Auth0 access token: jwcrypto verifies it with the IdP's JWK Set, same claims",
                isinstance(jc, dict) and jc == claims, repr(claims), repr(jc))
    kid = jwt.get_unverified_header(at).get("kid")
    pub_key = [k for k in jwks_doc.get("keys", []) if k.get("kid") == kid]
    suite.check("Auth0: the access token's kid is an RSA key (alg RS256 when it has one) in the "
                "same JWK Set", len(pub_key) == 1 and pub_key[0].get("kty") == "RSA"
                and pub_key[0].get("alg") in ("RS256", None), f"one RSA key {kid!r}",
                short(body))

    # the assertion's jti is used once
    status, body, _ = token_request(a1, api, scope)
    j = loads(body) or {}
    suite.check("Auth0: the same client assertion again -> refused, error_description starts "
                "with `replayed`", status in (400, 401)
                and str(j.get("error_description", "")).startswith("replayed"),
                "400/401, error_description 'replayed: ...'", f"{status} {short(body)}")

    # an audience no --api registered: Auth0's answer
    a2, res, _ = assertion()
    other = "https://unknown-api.example/"
    status, body, _ = token_request(a2 or "", other, scope)
    j = loads(body) or {}
    want = {"error": "access_denied", "error_description": f"Service not found: {other}"}
    suite.check("Auth0: audience not registered with --api -> 403 access_denied, \"Service not "
                "found: AUDIENCE\"", status == 403 and j == want, f"403 {json.dumps(want)}",
                f"{status} {short(body)}")

    # tokenguard-sim itself: jwks fetch then verify
    jwks_file = d / "auth0-jwks.json"
    res = suite.run("jwks", "fetch", jwks_url, "--output", jwks_file)
    fetched = loads(jwks_file.read_bytes()) if jwks_file.exists() else None
    suite.check("Auth0: tokenguard-sim jwks fetch URL --output FILE -> exit 0, the IdP's JWK "
                "Set in FILE", res.rc == 0 and isinstance(fetched, dict)
                and any(k.get("kid") == kid for k in fetched.get("keys", [])),
                f"exit 0, a set holding {kid!r}", f"{res}; file {short(repr(fetched))}")
    res = suite.run("verify", "--jwks", jwks_file, "--iss", base + "/", "--aud", api, "--alg",
                    "RS256", "--typ", "JWT", "--require-kid", "--max-lifetime", "2592000", at)
    suite.check("Auth0: tokenguard-sim verify --jwks FILE --iss ISSUER/ --aud API accepts the "
                "access token, same claims as PyJWT",
                res.rc == 0 and isinstance(claims, dict) and loads(res.out) == claims,
                "exit 0, the claims", str(res))
    res = suite.run("verify", "--jwks", jwks_file, "--iss", base, "--aud", api, at)
    suite.check("Auth0: verify --iss without the trailing slash -> exit 1 wrong_issuer",
                res.rc == 1 and res.errtext.startswith("error: wrong_issuer:"),
                "exit 1, error: wrong_issuer", str(res))
    res = suite.run("verify", "--jwks", jwks_file, "--iss", base + "/", "--aud", other, at)
    suite.check("Auth0: verify --aud another API -> exit 1 wrong_audience",
                res.rc == 1 and res.errtext.startswith("error: wrong_audience:"),
                "exit 1, error: wrong_audience", str(res))


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------


def section(suite, title, fn):
    if suite.verbose:
        print(f"== {title}", flush=True)
    start = time.time()
    try:
        fn(suite)
    except Exception as e:  # noqa: BLE001 - a crash in a section is a failed check
        suite.check(f"{title}: section ran to the end", False, "no exception", repr(e))
    finally:
        suite.stop_all()
    if suite.verbose:
        print(f"   ({time.time() - start:.1f} s)", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", required=True, help="path to the tokenguard-sim binary")
    parser.add_argument("--verbose", action="store_true", help="print passing checks too")
    args = parser.parse_args()
    if not os.access(args.bin, os.X_OK):
        parser.error(f"not an executable: {args.bin}")
    if not shutil.which("openssl"):
        parser.error("the openssl command line is needed")

    # SIGTERM/SIGHUP end the run like Ctrl-C, so the servers are stopped and files removed
    def _stop(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _stop)

    tmp = Path(tempfile.mkdtemp(prefix="provider-flows-"))
    suite = Suite(args, tmp)
    start = time.time()
    try:
        section(suite, "1. ZITADEL key files", zitadel_key_files)
        section(suite, "2. ZITADEL System API", zitadel_system_api)
        section(suite, "3. API gateway JWK sources", gateway_sources)
        section(suite, "4a. Auth0 HS256", auth0_hs256)
        section(suite, "4b. Auth0 RS256 via the mock IdP", auth0_rs256)
    except KeyboardInterrupt as e:
        print(f"provider flows: interrupted ({e or 'Ctrl-C'}) after {suite.checks} checks, "
              f"{len(suite.failures)} failed", flush=True)
        return 130
    finally:
        suite.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    if suite.verbose:
        print(f"({time.time() - start:.1f} s)")
    print(f"provider flows: {suite.checks} checks, {len(suite.failures)} failed")
    return 1 if suite.failures else 0


if __name__ == "__main__":
    sys.exit(main())
