#!/usr/bin/env python3
"""Outsider contract checks for the tokenguard-sim command line.

Written from the README (the `tokenguard-sim verify` section and the simulator table),
docs/simulator.md, docs/decisions.md and the binary's --help alone (no Rust source was read).
It runs the binary on local files only (no network) and checks:

  1. verify: exit 0 with the claims JSON, exit 1 with `error: <code>: ...` for each
     rejection, exit 2 for usage and I/O errors; the second stderr line (expected versus
     actual) for issuer, audience and typ, only when the signature verified;
  2. verify --batch FILE / --batch -: one JSON line per input line, in order (with any --jobs),
     claims compact;
  3. the policy flags (--no-iss, --no-aud, --allow-missing-exp, --max-age, --max-lifetime,
     --require-kid, --alg, --typ, --leeway), each accepting and refusing;
  4. the script contracts: a closed stdout ends a command quietly with status 141, `-` is
     standard input (one per command), key files written by `jwk --output` are 0600;
  5. sign: PEM, Ed25519 and ZITADEL keys; tokens checked with PyJWT; --audience, --claim;
  6. jwk: RFC 7638 thumbprints, public/private conversions, generated key sizes.

Usage:
  PYTHONPATH=target/peers/python \\
  python3 tests/outsider/cli_contract.py --bin target/debug/tokenguard-sim [--verbose]

Exit status 0 only when every check passed.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import warnings
from collections import namedtuple
from pathlib import Path

# PyJWT and cryptography live in target/peers/python (peers/install.sh); PYTHONPATH works too.
_PEERS = Path(__file__).resolve().parents[2] / "target" / "peers" / "python"
if _PEERS.is_dir() and str(_PEERS) not in sys.path:
    sys.path.append(str(_PEERS))

import jwt  # noqa: E402  (PyJWT)
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography import x509  # noqa: E402

warnings.simplefilter("ignore")  # PyJWT's key-length warnings for the deliberate HS384 case

DATA = Path(__file__).resolve().parents[2] / "tests" / "data"

ISS = "https://issuer.cli-contract.test"
AUD = "cli-contract-api"
NOW = 1_767_225_600          # 2026-01-01T00:00:00Z, passed as --now to every verify
SIGPIPE_STATUS = 128 + signal.SIGPIPE

CODES = ["malformed", "too_large", "unsupported_alg", "alg_not_allowed", "key_not_found",
         "key_rejected", "bad_signature", "expired", "not_yet_valid", "issued_in_future",
         "wrong_issuer", "wrong_audience", "wrong_subject", "wrong_type", "missing_claim",
         "invalid_claim", "crit_unsupported", "replayed"]

# RFC 7638 §3.1: the example key and its thumbprint
RFC7638_JWK = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
         "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_F"
         "DW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
         "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


# ---------------------------------------------------------------------------------------------
# Helpers: base64url, tokens, JSON shape
# ---------------------------------------------------------------------------------------------


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def compact(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def hs_token(claims=None, key=None, alg="HS256", kid="hs-1", typ="JWT", header=None,
             payload=None):
    """An HMAC token built by hand (exact header and payload bytes). None drops a member."""
    if header is None:
        header = {"alg": alg, "typ": typ, "kid": kid}
        header = {k: v for k, v in header.items() if v is not None}
    head = b64u(header if isinstance(header, bytes) else compact(header))
    body = b64u(payload if payload is not None else compact(claims))
    signing_input = f"{head}.{body}".encode()
    mac = hmac.new(key, signing_input, HASHES[alg]).digest()
    return f"{head}.{body}.{b64u(mac)}"


def no_whitespace_outside_strings(text: str) -> bool:
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in " \t\r\n":
            return False
    return True


def claims_of(token: str) -> dict:
    return json.loads(unb64u(token.split(".")[1]))


def header_of(token: str) -> dict:
    return json.loads(unb64u(token.split(".")[0]))


def short(value, limit=300):
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


# ---------------------------------------------------------------------------------------------
# Running the binary
# ---------------------------------------------------------------------------------------------


class Result(namedtuple("Result", "rc out err")):
    """rc is what a shell reports: 128 + N for a process ended by signal N."""

    @property
    def text(self):
        return self.out.decode("utf-8", "replace")

    @property
    def err_lines(self):
        return self.err.decode("utf-8", "replace").splitlines()

    def __str__(self):
        return (f"exit {self.rc}, stdout {short(self.out.decode('utf-8', 'replace'))!r}, "
                f"stderr {short(self.err.decode('utf-8', 'replace'))!r}")


def shell_status(returncode):
    return 128 - returncode if returncode < 0 else returncode


class Suite:
    def __init__(self, args, tmp):
        self.bin = str(Path(args.bin).resolve())
        self.verbose = args.verbose
        self.tmp = tmp
        self.checks = 0
        self.failures = []
        self.observed = {}

    # -- results --------------------------------------------------------------------------
    def check(self, name, ok, expected="", got=""):
        self.checks += 1
        if not ok:
            self.failures.append(name)
            print(f"FAIL {name}\n     expected: {expected}\n     received: {got}", flush=True)
        elif self.verbose:
            print(f"ok   {name}", flush=True)
        return ok

    # -- processes ------------------------------------------------------------------------
    def run(self, *args, stdin=None, timeout=120, umask=0o022, cwd=None):
        proc = subprocess.run([self.bin, *map(str, args)],
                              input=stdin if stdin is not None else b"",
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout, umask=umask, cwd=cwd or self.tmp)
        return Result(shell_status(proc.returncode), proc.stdout, proc.stderr)

    def run_closed_stdout(self, *args, read_lines=0, timeout=120):
        """Run with stdout a pipe whose read end is closed (after `read_lines` lines)."""
        err_path = Path(self.tmp, "closed-stdout.err")
        with open(err_path, "wb") as err:
            if read_lines == 0:
                r, w = os.pipe()
                os.close(r)  # no reader from the start, like `cmd | true`
                proc = subprocess.Popen([self.bin, *map(str, args)], stdin=subprocess.DEVNULL,
                                        stdout=w, stderr=err, cwd=self.tmp)
                os.close(w)
                lines = []
            else:
                proc = subprocess.Popen([self.bin, *map(str, args)], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=err, cwd=self.tmp)
                lines = [proc.stdout.readline() for _ in range(read_lines)]
                proc.stdout.close()  # like `head -N`
            proc.wait(timeout=timeout)
        return Result(shell_status(proc.returncode), b"".join(lines), err_path.read_bytes())

    # -- expectations ---------------------------------------------------------------------
    def expect_rc(self, name, res, rc):
        return self.check(name, res.rc == rc, f"exit {rc}", str(res))

    def expect_accept(self, name, res, claims=None):
        """Exit 0, the claims JSON on stdout (equal to `claims` when given)."""
        try:
            got = json.loads(res.out)
        except ValueError:
            got = None
        ok = res.rc == 0 and isinstance(got, dict) and (claims is None or got == claims)
        want = "exit 0, the claims JSON on stdout" + (f": {short(json.dumps(claims))}"
                                                      if claims is not None else "")
        return self.check(name, ok, want, str(res))

    def error_line(self, res):
        """The `error: <code>: <message>` line of stderr (the first one that starts so)."""
        for i, line in enumerate(res.err_lines):
            if line.startswith("error: "):
                return i, line
        return None, None

    def expect_reject(self, name, res, code, lines=None, codes=None):
        """Exit 1, stdout empty, stderr `error: <code>: <message>`; `lines`: exact stderr
        line count (the error line first). `codes`: any of these (where the docs leave the
        code open)."""
        idx, line = self.error_line(res)
        allowed = codes or [code]
        m = re.match(r"^error: ([a-z_]+): (.+)$", line or "")
        ok = (res.rc == 1 and res.out == b"" and m is not None and m.group(1) in allowed
              and (lines is None or (idx == 0 and len(res.err_lines) == lines)))
        if codes:
            want = "exit 1, stdout empty, stderr `error: <one of the documented codes>: ...`"
        else:
            want = f"exit 1, stdout empty, stderr `error: {code}: <message>`"
        if lines is not None:
            want += f" as the first of exactly {lines} stderr line(s)"
        if m:
            self.observed[name] = m.group(1)
        return self.check(name, ok, want, str(res))

    def expect_usage(self, name, res):
        ok = res.rc == 2 and res.err.strip() != b""
        return self.check(name, ok, "exit 2 (usage or I/O error) with a message on stderr",
                          str(res))


# ---------------------------------------------------------------------------------------------
# Keys and fixtures
# ---------------------------------------------------------------------------------------------


class Fixtures:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.hs_key = os.urandom(32)
        self.other_hs_key = os.urandom(32)
        self.short_key = os.urandom(16)
        self.es_priv = ec.generate_private_key(ec.SECP256R1())
        nums = self.es_priv.public_key().public_numbers()
        self.hs_jwk = {"kty": "oct", "kid": "hs-1", "alg": "HS256", "k": b64u(self.hs_key)}
        self.es_jwk = {"kty": "EC", "crv": "P-256", "kid": "es-1", "alg": "ES256",
                       "use": "sig", "x": b64u(nums.x.to_bytes(32, "big")),
                       "y": b64u(nums.y.to_bytes(32, "big"))}
        self.jwks = self.write("jwks.json", compact({"keys": [self.hs_jwk, self.es_jwk]}))
        # one usable key and one 16-byte HS256 key (refused at import, RFC 7518 §3.2)
        short_jwk = {"kty": "oct", "kid": "short", "alg": "HS256", "k": b64u(self.short_key)}
        self.jwks_with_short = self.write("jwks-short.json",
                                          compact({"keys": [self.hs_jwk, short_jwk]}))

    def write(self, name, data) -> Path:
        path = self.tmp / name
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        return path

    def claims(self, **changes):
        base = {"iss": ISS, "aud": AUD, "sub": "u1", "iat": NOW - 10, "nbf": NOW - 10,
                "exp": NOW + 600, "jti": "j-1"}
        base.update(changes)
        return {k: v for k, v in base.items() if v is not None}

    def hs(self, claims=None, **kw):
        kw.setdefault("key", self.hs_key)
        return hs_token(self.claims() if claims is None else claims, **kw)

    def es(self, claims=None, kid="es-1"):
        headers = {"kid": kid} if kid else {}
        return jwt.encode(self.claims() if claims is None else claims, self.es_priv,
                          algorithm="ES256", headers=headers)


def verify(suite, fx, token=None, *extra, jwks=None, iss=ISS, aud=AUD, now=NOW, stdin=None):
    args = ["verify", "--jwks", jwks or fx.jwks]
    if iss is not None:
        args += ["--iss", iss]
    if aud is not None:
        args += ["--aud", aud]
    if now is not None:
        args += ["--now", now]
    args += list(extra)
    if token is not None:
        args.append(token)
    return suite.run(*args, stdin=stdin)


# ---------------------------------------------------------------------------------------------
# 1. verify: exit statuses, codes, the second stderr line
# ---------------------------------------------------------------------------------------------


def verify_basics(suite, fx):
    claims = fx.claims()
    suite.expect_accept("verify: valid HS256 token (oct JWK) -> exit 0 with its claims",
                        verify(suite, fx, fx.hs(claims)), claims)
    suite.expect_accept("verify: valid ES256 token (EC JWK, mixed set) -> exit 0 with its claims",
                        verify(suite, fx, fx.es(claims)), claims)
    suite.expect_accept("verify: a single JWK (not a set) as --jwks",
                        verify(suite, fx, fx.hs(claims),
                               jwks=fx.write("single.json", compact(fx.hs_jwk))), claims)
    arr = fx.claims(aud=["other", AUD])
    suite.expect_accept("verify: aud array holding the expected audience",
                        verify(suite, fx, fx.hs(arr)), arr)

    # rejections, each a clean case (exactly one stderr line)
    forged = hs_token(claims, key=fx.other_hs_key)
    suite.expect_reject("verify: HMAC under another key -> bad_signature",
                        verify(suite, fx, forged), "bad_signature", lines=1)
    es_tok = fx.es(claims)
    head, body, sig = es_tok.split(".")
    edited = f"{head}.{b64u(compact(fx.claims(sub='admin')))}.{sig}"
    suite.expect_reject("verify: ES256 token with an edited payload -> bad_signature",
                        verify(suite, fx, edited), "bad_signature", lines=1)
    suite.expect_reject("verify: exp 100 s ago -> expired",
                        verify(suite, fx, fx.hs(fx.claims(iat=NOW - 700, nbf=NOW - 700,
                                                          exp=NOW - 100))),
                        "expired", lines=1)
    # decisions.md: expired when now >= exp + leeway (CLI leeway 0)
    suite.expect_reject("verify: exp == now with leeway 0 -> expired",
                        verify(suite, fx, fx.hs(fx.claims(exp=NOW))), "expired", lines=1)
    edge = fx.claims(exp=NOW + 1)
    suite.expect_accept("verify: exp == now + 1 with leeway 0 -> accepted",
                        verify(suite, fx, fx.hs(edge)), edge)
    suite.expect_reject("verify: nbf in the future -> not_yet_valid",
                        verify(suite, fx, fx.hs(fx.claims(nbf=NOW + 30))), "not_yet_valid",
                        lines=1)
    suite.expect_reject("verify: iat in the future -> issued_in_future",
                        verify(suite, fx, fx.hs(fx.claims(iat=NOW + 30, nbf=None))),
                        "issued_in_future", lines=1)
    suite.expect_reject("verify: token without exp -> missing_claim",
                        verify(suite, fx, fx.hs(fx.claims(exp=None))), "missing_claim",
                        lines=1)
    for tok, what in [("abc", "one segment"), ("a.b", "two segments"),
                      ("a.b.c.d", "four segments"), ("", "empty string")]:
        suite.expect_reject(f"verify: {what} -> malformed",
                            verify(suite, fx, tok), "malformed")
    suite.expect_reject("verify: token with kid no key has -> key_not_found",
                        verify(suite, fx, fx.hs(kid="nope")), "key_not_found", lines=1)
    # decisions.md: a key bound to one algorithm never verifies another (alg_not_allowed)
    suite.expect_reject("verify: HS384 token, key bound to HS256 -> alg_not_allowed",
                        verify(suite, fx, fx.hs(alg="HS384")), "alg_not_allowed", lines=1)
    suite.expect_reject("verify: --alg ES256, HS256 token -> alg_not_allowed",
                        verify(suite, fx, fx.hs(), "--alg", "ES256"), "alg_not_allowed",
                        lines=1)
    suite.expect_accept("verify: --alg ES256 --alg HS256, HS256 token -> accepted",
                        verify(suite, fx, fx.hs(claims), "--alg", "ES256", "--alg", "HS256"),
                        claims)
    crit = hs_token(claims, key=fx.hs_key,
                    header={"alg": "HS256", "kid": "hs-1", "crit": ["exp"]})
    suite.expect_reject("verify: header crit -> crit_unsupported",
                        verify(suite, fx, crit), "crit_unsupported", lines=1)
    suite.expect_reject("verify: token longer than --max-len -> too_large",
                        verify(suite, fx, fx.hs(), "--max-len", "64"), "too_large", lines=1)
    # decisions.md rules, through the CLI
    suite.expect_reject("verify: exp as a string -> invalid_claim (decisions.md)",
                        verify(suite, fx, fx.hs(fx.claims(exp=str(NOW + 600)))),
                        "invalid_claim", lines=1)
    suite.expect_reject("verify: iss as an array -> invalid_claim (decisions.md)",
                        verify(suite, fx, fx.hs(fx.claims(iss=[ISS]))), "invalid_claim",
                        lines=1)
    aud_null = compact(fx.claims()).replace(f'"aud":"{AUD}"'.encode(), b'"aud":null')
    suite.expect_reject("verify: \"aud\": null -> invalid_claim (decisions.md)",
                        verify(suite, fx, hs_token(key=fx.hs_key, payload=aud_null)),
                        "invalid_claim", lines=1)
    frac = compact(fx.claims()).replace(f'"exp":{NOW + 600}'.encode(),
                                        f'"exp":{NOW}.5'.encode())
    suite.expect_reject("verify: exp = now + 0.5 is floored to now -> expired (decisions.md)",
                        verify(suite, fx, hs_token(key=fx.hs_key, payload=frac)), "expired",
                        lines=1)
    cty = hs_token(claims, key=fx.hs_key,
                   header={"alg": "HS256", "kid": "hs-1", "cty": "JWT"})
    suite.expect_reject("verify: cty JWT (nested token) -> malformed (decisions.md)",
                        verify(suite, fx, cty), "malformed", lines=1)
    none_tok = f"{b64u(compact({'alg': 'none'}))}.{b64u(compact(claims))}."
    suite.expect_reject("verify: alg none -> refused (exit 1)",
                        verify(suite, fx, none_tok), None, codes=CODES)

    # the second stderr line: expected versus actual, only after the signature verified
    actual_iss = "https://actual-issuer.example"
    res = verify(suite, fx, fx.hs(fx.claims(iss=actual_iss)))
    if suite.expect_reject("verify: wrong issuer -> wrong_issuer, two stderr lines", res,
                           "wrong_issuer", lines=2):
        second = res.err_lines[1]
        suite.check("verify: wrong_issuer's second line gives expected and actual issuer",
                    ISS in second and actual_iss in second,
                    f"a line holding {ISS!r} and {actual_iss!r}", repr(second))
    actual_aud = "actual-audience-x"
    res = verify(suite, fx, fx.hs(fx.claims(aud=actual_aud)))
    if suite.expect_reject("verify: wrong audience -> wrong_audience, two stderr lines", res,
                           "wrong_audience", lines=2):
        second = res.err_lines[1]
        suite.check("verify: wrong_audience's second line gives expected and actual audience",
                    AUD in second and actual_aud in second,
                    f"a line holding {AUD!r} and {actual_aud!r}", repr(second))
    res = verify(suite, fx, fx.hs(typ="secevent+jwt"), "--typ", "at+jwt")
    if suite.expect_reject("verify: --typ at+jwt, typ secevent+jwt -> wrong_type, two lines",
                           res, "wrong_type", lines=2):
        second = res.err_lines[1].lower()
        suite.check("verify: wrong_type's second line gives expected and actual typ",
                    "at+jwt" in second and "secevent+jwt" in second,
                    "a line holding 'at+jwt' and 'secevent+jwt'", repr(res.err_lines[1]))
    # the same wrong issuer / audience in a forged token: bad_signature, nothing from it
    forged_iss = "https://forged-issuer.example"
    res = verify(suite, fx, hs_token(fx.claims(iss=forged_iss, aud="forged-aud-y"),
                                     key=fx.other_hs_key))
    suite.expect_reject("verify: forged token with a wrong issuer -> bad_signature, one line",
                        res, "bad_signature", lines=1)
    suite.check("verify: nothing of a forged token's claims on stderr",
                b"forged-issuer" not in res.err and b"forged-aud-y" not in res.err,
                "neither 'forged-issuer' nor 'forged-aud-y' on stderr", str(res))
    res = verify(suite, fx, hs_token(fx.claims(), key=fx.other_hs_key, typ="secevent+jwt"),
                 "--typ", "at+jwt")
    suite.check("verify: forged token with a wrong typ -> exit 1, one stderr line",
                res.rc == 1 and len(res.err_lines) == 1 and b"secevent" not in res.err,
                "exit 1, one stderr line, no 'secevent'", str(res))

    # hints (README: a `Bearer ` prefix, a file name given as the token)
    res = verify(suite, fx, "Bearer " + fx.hs())
    suite.expect_reject("verify: `Bearer ` prefix -> malformed, with a hint line", res,
                        "malformed")
    suite.check("verify: `Bearer ` prefix gets a hint (a second stderr line)",
                len(res.err_lines) >= 2, ">= 2 stderr lines", str(res))
    tok_file = fx.write("token.txt", fx.hs() + "\n")
    res = verify(suite, fx, tok_file.name)
    suite.expect_reject("verify: a file name as the token -> malformed, with a hint line", res,
                        "malformed")
    suite.check("verify: a file name as the token gets a hint (a second stderr line)",
                len(res.err_lines) >= 2, ">= 2 stderr lines", str(res))

    # leeway
    late = fx.claims(iat=NOW - 700, nbf=NOW - 700, exp=NOW - 10)
    suite.expect_accept("verify: exp 10 s ago, --leeway 30 -> accepted",
                        verify(suite, fx, fx.hs(late), "--leeway", "30"), late)
    suite.expect_reject("verify: exp 10 s ago, --leeway 10 -> expired",
                        verify(suite, fx, fx.hs(late), "--leeway", "10"), "expired", lines=1)
    # typ as a media type (decisions.md)
    suite.expect_accept("verify: --typ JWT matches typ application/jwt",
                        verify(suite, fx, fx.hs(claims, typ="application/jwt"), "--typ",
                               "JWT"), claims)
    suite.expect_reject("verify: --typ text/plain against typ application/text/plain -> "
                        "wrong_type",
                        verify(suite, fx, fx.hs(typ="application/text/plain"), "--typ",
                               "text/plain"), "wrong_type")
    suite.expect_accept("verify: typ unchecked by default",
                        verify(suite, fx, fx.hs(claims, typ="secevent+jwt")), claims)
    # unusable keys are skipped with a warning
    res = verify(suite, fx, fx.hs(claims), jwks=fx.jwks_with_short)
    suite.expect_accept("verify: a set with a 16-byte HS256 key still verifies with the other",
                        res, claims)
    suite.check("verify: the skipped 16-byte key gets a warning on stderr",
                res.err.strip() != b"", "a warning on stderr", str(res))
    suite.expect_reject("verify: token naming the skipped key -> key_not_found",
                        verify(suite, fx, fx.hs(kid="short", key=fx.short_key),
                               jwks=fx.jwks_with_short), "key_not_found")

    # token and key set on standard input
    suite.expect_accept("verify -: the token on standard input (newline-terminated)",
                        verify(suite, fx, "-", stdin=(fx.hs(claims) + "\n").encode()), claims)
    suite.expect_accept("verify --jwks -: the key set on standard input",
                        verify(suite, fx, fx.hs(claims), jwks="-",
                               stdin=fx.jwks.read_bytes()), claims)

    # usage and I/O errors: exit 2
    tok = fx.hs()
    suite.expect_usage("verify: no --jwks -> exit 2",
                       suite.run("verify", "--iss", ISS, "--aud", AUD, "--now", NOW, tok))
    suite.expect_usage("verify: neither --iss nor --no-iss -> exit 2",
                       verify(suite, fx, tok, iss=None))
    suite.expect_usage("verify: neither --aud nor --no-aud -> exit 2",
                       verify(suite, fx, tok, aud=None))
    suite.expect_usage("verify: --iss and --no-iss together -> exit 2",
                       verify(suite, fx, tok, "--no-iss"))
    suite.expect_usage("verify: --aud and --no-aud together -> exit 2",
                       verify(suite, fx, tok, "--no-aud"))
    suite.expect_usage("verify: no token and no --batch -> exit 2", verify(suite, fx, None))
    suite.expect_usage("verify: a token and --batch together -> exit 2",
                       verify(suite, fx, tok, "--batch", str(fx.write("b1.txt", tok + "\n"))))
    suite.expect_usage("verify: --jwks file that does not exist -> exit 2",
                       verify(suite, fx, tok, jwks=str(fx.tmp / "missing.json")))
    suite.expect_usage("verify: unknown flag -> exit 2",
                       verify(suite, fx, tok, "--no-such-flag"))
    suite.expect_usage("verify: --now not a number -> exit 2",
                       verify(suite, fx, tok, now="yesterday"))


# ---------------------------------------------------------------------------------------------
# 2. verify --batch
# ---------------------------------------------------------------------------------------------


def parse_batch_line(line: str):
    """('ok', claims) / ('error', code) / None for a line of the documented shape."""
    m = re.fullmatch(r'\{"ok":false,"error":"([a-z_]+)"\}', line)
    if m:
        return ("error", m.group(1))
    m = re.fullmatch(r'\{"ok":true,"claims":(\{.*\})\}', line)
    if m and no_whitespace_outside_strings(m.group(1)):
        try:
            return ("ok", json.loads(m.group(1)))
        except ValueError:
            return None
    return None


def check_batch(suite, name, res, expected):
    """`expected`: one entry per input line, ('ok', claims) or ('error', code)."""
    suite.expect_rc(f"{name}: exit 0", res, 0)
    text = res.out.decode("utf-8", "replace")
    lines = text.split("\n")
    ends_nl = text.endswith("\n") or text == ""
    if ends_nl:
        lines = lines[:-1] if text else []
    suite.check(f"{name}: exactly {len(expected)} output lines, newline-terminated",
                len(lines) == len(expected) and ends_nl,
                f"{len(expected)} lines", f"{len(lines)} lines: {short(text, 600)!r}")
    for i, want in enumerate(expected):
        got_line = lines[i] if i < len(lines) else None
        got = parse_batch_line(got_line) if got_line is not None else None
        if want[0] == "ok":
            shape = '{"ok":true,"claims":<the claims, compact>}'
        else:
            shape = f'{{"ok":false,"error":"{want[1]}"}}'
        suite.check(f"{name}: line {i + 1} is {shape}", got == want, shape, repr(got_line))


def batch(suite, fx):
    c_valid = fx.claims(jti="b-1")
    c_pretty = fx.claims(jti="b-2", note="two words\nand a newline", nested={"a": [1, 2]})
    c_es = fx.claims(jti="b-3")
    pretty_payload = json.dumps(c_pretty, indent=2).encode()   # newlines and spaces
    assert b"\n" in pretty_payload
    t_valid = fx.hs(c_valid)
    t_pretty = hs_token(key=fx.hs_key, payload=pretty_payload)
    t_es = fx.es(c_es)
    t_expired = fx.hs(fx.claims(exp=NOW - 1))
    t_wrong_aud = fx.hs(fx.claims(aud="someone-else"))
    t_forged = hs_token(fx.claims(), key=fx.other_hs_key)
    lines = [t_valid, t_pretty, "", "garbage", t_expired, t_es, t_wrong_aud, t_forged,
             t_valid + " "]
    expected = [("ok", c_valid), ("ok", c_pretty), ("error", "malformed"),
                ("error", "malformed"), ("error", "expired"), ("ok", c_es),
                ("error", "wrong_audience"), ("error", "bad_signature"),
                ("error", "malformed")]

    crlf = fx.write("batch-crlf.txt", "".join(line + "\r\n" for line in lines))
    check_batch(suite, "batch (CRLF, pretty payload, blank line)",
                verify(suite, fx, None, "--batch", crlf), expected)
    lf = fx.write("batch-lf.txt", "\n".join(lines))  # no terminator after the last line
    check_batch(suite, "batch (LF, last line unterminated)",
                verify(suite, fx, None, "--batch", lf), expected)
    check_batch(suite, "batch - (tokens on standard input)",
                verify(suite, fx, None, "--batch", "-", stdin=crlf.read_bytes()), expected)
    check_batch(suite, "batch with --jwks - and a batch file",
                verify(suite, fx, None, "--batch", lf, jwks="-", stdin=fx.jwks.read_bytes()),
                expected)
    check_batch(suite, "batch of three blank lines",
                verify(suite, fx, None, "--batch", fx.write("blank.txt", "\n\r\n\n")),
                [("error", "malformed")] * 3)
    check_batch(suite, "batch of an empty file", verify(suite, fx, None, "--batch",
                                                        fx.write("empty.txt", "")), [])
    suite.expect_usage("batch: a file that does not exist -> exit 2",
                       verify(suite, fx, None, "--batch", str(fx.tmp / "no-such-batch.txt")))
    # many lines keep their order
    many = [fx.hs(fx.claims(jti=f"m-{i}")) if i % 3 else "x" for i in range(200)]
    want = [("ok", fx.claims(jti=f"m-{i}")) if i % 3 else ("error", "malformed")
            for i in range(200)]
    res = verify(suite, fx, None, "--batch", fx.write("many.txt", "\n".join(many) + "\n"))
    got = [parse_batch_line(x) for x in res.out.decode().splitlines()]
    suite.check("batch of 200 lines: 200 answers in input order", res.rc == 0 and got == want,
                "exit 0, 200 lines matching the input order",
                f"exit {res.rc}, {len(got)} lines")
    # README: `--jobs N` threads (default one per core), answers in input order whatever N.
    for jobs in ("1", "2", "7"):
        res = verify(suite, fx, None, "--jobs", jobs, "--batch", fx.tmp / "many.txt")
        got = [parse_batch_line(x) for x in res.out.decode().splitlines()]
        suite.check(f"batch of 200 lines with --jobs {jobs}: input order",
                    res.rc == 0 and got == want,
                    "exit 0, 200 lines matching the input order",
                    f"exit {res.rc}, {len(got)} lines")
    suite.expect_usage("batch: --jobs 0 -> exit 2",
                       verify(suite, fx, None, "--jobs", "0", "--batch", fx.tmp / "many.txt"))
    suite.expect_usage("--jobs without --batch -> exit 2",
                       verify(suite, fx, t_valid, "--jobs", "2"))


# ---------------------------------------------------------------------------------------------
# 3. policy flags
# ---------------------------------------------------------------------------------------------


def policy_flags(suite, fx):
    res = suite.run("verify", "--help")
    helptext = res.text
    for flag in ("--no-iss", "--no-aud", "--allow-missing-exp"):
        line = next((ln for ln in helptext.splitlines() if ln.strip().startswith(flag)), "")
        suite.check(f"verify --help says {flag} weakens a check", "weaken" in line.lower(),
                    f"a help line for {flag} saying it weakens a check", repr(line))

    other_iss = fx.claims(iss="https://somebody-else.example")
    suite.expect_accept("--no-iss: any issuer accepted",
                        verify(suite, fx, fx.hs(other_iss), "--no-iss", iss=None), other_iss)
    suite.expect_reject("--no-iss: a forged token is still bad_signature",
                        verify(suite, fx, hs_token(other_iss, key=fx.other_hs_key),
                               "--no-iss", iss=None), "bad_signature")
    suite.expect_reject("--no-iss: the audience is still checked (wrong_audience)",
                        verify(suite, fx, fx.hs(fx.claims(aud="x")), "--no-iss", iss=None),
                        "wrong_audience")
    suite.expect_reject("without --no-iss: the same token -> wrong_issuer",
                        verify(suite, fx, fx.hs(other_iss)), "wrong_issuer")

    other_aud = fx.claims(aud="somebody-else")
    suite.expect_accept("--no-aud: any audience accepted",
                        verify(suite, fx, fx.hs(other_aud), "--no-aud", aud=None), other_aud)
    suite.expect_reject("--no-aud: the issuer is still checked (wrong_issuer)",
                        verify(suite, fx, fx.hs(fx.claims(iss="x")), "--no-aud", aud=None),
                        "wrong_issuer")
    suite.expect_reject("without --no-aud: the same token -> wrong_audience",
                        verify(suite, fx, fx.hs(other_aud)), "wrong_audience")

    no_exp = fx.claims(exp=None)
    suite.expect_accept("--allow-missing-exp: a token without exp accepted",
                        verify(suite, fx, fx.hs(no_exp), "--allow-missing-exp"), no_exp)
    suite.expect_reject("--allow-missing-exp: an expired token is still expired",
                        verify(suite, fx, fx.hs(fx.claims(exp=NOW - 1)), "--allow-missing-exp"),
                        "expired")
    suite.expect_reject("without --allow-missing-exp: no exp -> missing_claim",
                        verify(suite, fx, fx.hs(no_exp)), "missing_claim")

    aged = fx.claims(iat=NOW - 100, nbf=NOW - 100)
    suite.expect_accept("--max-age 300: iat 100 s old accepted",
                        verify(suite, fx, fx.hs(aged), "--max-age", "300"), aged)
    # decisions.md: too-old tokens (max_age) are `expired`
    suite.expect_reject("--max-age 50: iat 100 s old -> expired",
                        verify(suite, fx, fx.hs(aged), "--max-age", "50"), "expired", lines=1)
    suite.expect_reject("--max-age: iat becomes required -> missing_claim",
                        verify(suite, fx, fx.hs(fx.claims(iat=None)), "--max-age", "300"),
                        "missing_claim")

    life = fx.claims()  # exp - iat = 610
    suite.expect_accept("--max-lifetime 700: a 610 s lifetime accepted",
                        verify(suite, fx, fx.hs(life), "--max-lifetime", "700"), life)
    suite.expect_reject("--max-lifetime 600: a 610 s lifetime refused (exit 1; the code is "
                        "not documented)",
                        verify(suite, fx, fx.hs(life), "--max-lifetime", "600"), None,
                        codes=CODES)
    suite.expect_accept("--max-lifetime 2592000 (Auth0's cap): a 30-day token accepted",
                        verify(suite, fx, fx.hs(fx.claims(exp=NOW - 10 + 2592000)),
                               "--max-lifetime", "2592000"),
                        fx.claims(exp=NOW - 10 + 2592000))
    suite.expect_reject("--max-lifetime: iat becomes required -> missing_claim",
                        verify(suite, fx, fx.hs(fx.claims(iat=None)), "--max-lifetime", "700"),
                        "missing_claim")
    suite.expect_reject("--max-lifetime: exp stays required -> missing_claim",
                        verify(suite, fx, fx.hs(fx.claims(exp=None)), "--max-lifetime", "700",
                               "--allow-missing-exp"),
                        "missing_claim")

    claims = fx.claims()
    suite.expect_accept("no kid, default: tried against the keys that fit (HS256)",
                        verify(suite, fx, fx.hs(claims, kid=None)), claims)
    es_nokid = fx.claims(jti="es-nokid")
    suite.expect_accept("no kid, default: tried against the keys that fit (ES256)",
                        verify(suite, fx, fx.es(es_nokid, kid=None)), es_nokid)
    suite.expect_accept("--require-kid: a token with kid accepted",
                        verify(suite, fx, fx.hs(claims), "--require-kid"), claims)
    res = verify(suite, fx, fx.hs(claims, kid=None), "--require-kid")
    suite.expect_reject("--require-kid: a token without kid refused (exit 1; the code is not "
                        "documented)", res, None, codes=CODES)
    suite.check("--require-kid: the refusal gets a hint (a second stderr line)",
                len(res.err_lines) >= 2, ">= 2 stderr lines", str(res))


# ---------------------------------------------------------------------------------------------
# 4. script contracts (docs/simulator.md)
# ---------------------------------------------------------------------------------------------


def script_contracts(suite, fx):
    lf = fx.write("pipe-batch.txt", "\n".join([fx.hs()] * 2000) + "\n")
    cases = [
        ("demo", ["demo"]),
        ("jwk --generate RSA --include-private", ["jwk", "--generate", "RSA",
                                                  "--include-private"]),
        ("verify TOKEN", ["verify", "--jwks", fx.jwks, "--iss", ISS, "--aud", AUD, "--now",
                          NOW, fx.hs()]),
        ("verify --batch FILE", ["verify", "--jwks", fx.jwks, "--iss", ISS, "--aud", AUD,
                                 "--now", NOW, "--batch", lf]),
        ("sign", ["sign", "--key", DATA / "p256.pkcs8.pem", "--issuer", "me", "--audience",
                  "a"]),
        ("jwk --thumbprint", ["jwk", "--json", json.dumps(RFC7638_JWK), "--thumbprint"]),
    ]
    for label, args in cases:
        res = suite.run_closed_stdout(*args)
        suite.check(f"closed stdout: `{label}` ends with status 141 and nothing on stderr",
                    res.rc == SIGPIPE_STATUS and res.err == b"",
                    "status 141 (128 + SIGPIPE), empty stderr", str(res))
    res = suite.run_closed_stdout("demo", read_lines=1)
    suite.check("closed stdout: `demo | head -1` prints one line, status 141, empty stderr",
                res.rc == SIGPIPE_STATUS and res.err == b"" and res.out.endswith(b"\n"),
                "one line read, status 141, empty stderr", str(res))

    # `-` is standard input
    pem = (DATA / "p256.pkcs8.pem").read_bytes()
    pub = serialization.load_pem_public_key((DATA / "p256.spki.pem").read_bytes())
    res = suite.run("sign", "--key", "-", "--issuer", "me", "--audience", "aud-1", stdin=pem)
    tok = res.text.strip()
    try:
        got = jwt.decode(tok, pub, algorithms=["ES256"], audience="aud-1", issuer="me")
        ok = res.rc == 0
    except Exception as e:  # noqa: BLE001
        got, ok = repr(e), False
    suite.check("sign --key -: PEM key on standard input, token verifies with PyJWT", ok,
                "exit 0 and an ES256 token PyJWT accepts", f"{res}; PyJWT: {short(got)}")

    nums = pub.public_numbers()
    want_xy = (b64u(nums.x.to_bytes(32, "big")), b64u(nums.y.to_bytes(32, "big")))
    for flag, data in [("--private-key", pem), ("--public-key",
                                                 (DATA / "p256.spki.pem").read_bytes()),
                       ("--cert", (DATA / "p256.cert.pem").read_bytes())]:
        res = suite.run("jwk", flag, "-", stdin=data)
        try:
            j = json.loads(res.out)
            ok = (res.rc == 0 and j.get("kty") == "EC" and j.get("crv") == "P-256"
                  and (j.get("x"), j.get("y")) == want_xy and "d" not in j)
        except ValueError:
            ok = False
        suite.check(f"jwk {flag} -: P-256 key on standard input -> its public JWK", ok,
                    "exit 0, EC P-256 JWK with x/y of p256.spki.pem, no d", str(res))
    res = suite.run("jwk", "--json", "-", "--thumbprint", stdin=json.dumps(RFC7638_JWK).encode())
    suite.check("jwk --json - --thumbprint: the RFC 7638 key on standard input",
                res.rc == 0 and res.text.strip() == RFC7638_THUMBPRINT,
                f"exit 0, {RFC7638_THUMBPRINT}", str(res))
    # only one `-` per command
    tok = fx.hs()
    suite.expect_usage("two `-` in one command (verify --jwks - -) -> exit 2",
                       verify(suite, fx, "-", jwks="-", stdin=fx.jwks.read_bytes()))
    suite.expect_usage("two `-` in one command (verify --jwks - --batch -) -> exit 2",
                       verify(suite, fx, None, "--batch", "-", jwks="-",
                              stdin=fx.jwks.read_bytes()))

    # jwk --output file modes
    outdir = fx.tmp / "out"
    outdir.mkdir()

    def mode(path):
        return stat.S_IMODE(os.stat(path).st_mode)

    def leftovers(keep):
        return sorted(p.name for p in outdir.iterdir() if p.name not in keep)

    cases = [
        ("jwk --generate EC --include-private", ["jwk", "--generate", "EC",
                                                 "--include-private"], "ec.json", "d"),
        ("jwk --generate oct --alg HS256 --include-private",
         ["jwk", "--generate", "oct", "--alg", "HS256", "--include-private"], "oct.json", "k"),
        ("jwk --private-key PEM --include-private",
         ["jwk", "--private-key", DATA / "p256.pkcs8.pem", "--include-private"], "p256.json",
         "d"),
        ("jwk --json @oct-secret --include-private",
         ["jwk", "--json", "@" + str(fx.tmp / "oct-secret.json"), "--include-private"],
         "oct-copy.json", "k"),
    ]
    fx.write("oct-secret.json", compact(fx.hs_jwk))
    for label, args, name, member in cases:
        target = outdir / name
        res = suite.run(*args, "--output", target, umask=0o022)
        try:
            body = json.loads(target.read_bytes())
            has = member in body
        except (OSError, ValueError):
            has = False
        suite.check(f"`{label} --output F` (umask 022) -> F mode 0600 holding `{member}`",
                    res.rc == 0 and target.exists() and mode(target) == 0o600 and has,
                    f"exit 0, mode 0600, `{member}` in the JWK",
                    f"{res}; mode {oct(mode(target)) if target.exists() else 'no file'}")
    # replacing a more open file
    target = outdir / "replace.json"
    target.write_text("old")
    os.chmod(target, 0o644)
    res = suite.run("jwk", "--generate", "oct", "--alg", "HS256", "--include-private",
                    "--output", target)
    suite.check("jwk --output F over an existing 0644 file with a secret -> 0600, replaced",
                res.rc == 0 and mode(target) == 0o600 and target.read_text() != "old",
                "exit 0, mode 0600, new content", f"{res}; mode {oct(mode(target))}")
    # public only: not forced to 0600
    target = outdir / "public.json"
    res = suite.run("jwk", "--private-key", DATA / "p256.pkcs8.pem", "--output", target,
                    umask=0o022)
    ok = res.rc == 0 and target.exists() and "d" not in json.loads(target.read_bytes() or b"{}")
    suite.check("jwk --private-key PEM --output F (public JWK, umask 022) -> mode 0644",
                ok and mode(target) == 0o644, "exit 0, public JWK, mode 0644 (not 0600)",
                f"{res}; mode {oct(mode(target)) if target.exists() else 'no file'}")
    keep = {"ec.json", "oct.json", "p256.json", "oct-copy.json", "replace.json", "public.json"}
    suite.check("jwk --output leaves no temporary file beside the output", not leftovers(keep),
                "only the output files", repr(leftovers(keep)))


# ---------------------------------------------------------------------------------------------
# 5. sign
# ---------------------------------------------------------------------------------------------


def pyjwt_check(suite, name, res, key, alg, audience, issuer, header=None):
    """The token on stdout verifies with PyJWT; returns (header, claims) or None."""
    tok = res.text.strip()
    try:
        claims = jwt.decode(tok, key, algorithms=[alg], audience=audience, issuer=issuer)
        hdr = jwt.get_unverified_header(tok)
        ok = res.rc == 0 and hdr.get("alg") == alg and all(hdr.get(k) == v for k, v in
                                                           (header or {}).items())
        got = f"{res}; header {hdr}"
    except Exception as e:  # noqa: BLE001
        ok, got, claims, hdr = False, f"{res}; PyJWT: {e!r}", None, None
    want = f"exit 0, a {alg} token PyJWT verifies (aud {audience!r}, iss {issuer!r})"
    if header:
        want += f", header members {header}"
    suite.check(name, ok, want, got)
    return (hdr, claims) if ok else None


def sign(suite, fx):
    snow = int(time.time())
    p256_pub = serialization.load_pem_public_key((DATA / "p256.spki.pem").read_bytes())
    rsa_pub = serialization.load_pem_public_key((DATA / "rsa2048.spki.pem").read_bytes())
    ed_pub = serialization.load_pem_public_key((DATA / "ed25519.spki.pem").read_bytes())

    res = suite.run("sign", "--key", DATA / "p256.pkcs8.pem", "--issuer", "me", "--audience",
                    "aud-1", "--now", snow)
    got = pyjwt_check(suite, "sign P-256 PKCS#8 PEM -> ES256 token, PyJWT verifies", res,
                      p256_pub, "ES256", "aud-1", "me", header={"typ": "JWT"})
    if got:
        _, c = got
        suite.check("sign plain preset: iss = sub = --issuer, aud = the one --audience (string)",
                    c.get("iss") == "me" and c.get("sub") == "me" and c.get("aud") == "aud-1",
                    "iss 'me', sub 'me', aud 'aud-1'", repr(c))
        suite.check("sign: iat backdated 5 s by default", c.get("iat") == snow - 5,
                    f"iat {snow - 5}", repr(c.get("iat")))
    res = suite.run("sign", "--key", DATA / "p256.sec1.pem", "--issuer", "me", "--audience",
                    "aud-1")
    pyjwt_check(suite, "sign P-256 SEC1 PEM -> ES256 token, PyJWT verifies", res, p256_pub,
                "ES256", "aud-1", "me")
    res = suite.run("sign", "--key", DATA / "rsa2048.pkcs8.pem", "--issuer", "me", "--audience",
                    "aud-1")
    pyjwt_check(suite, "sign RSA PKCS#8 PEM -> RS256 by default, PyJWT verifies", res, rsa_pub,
                "RS256", "aud-1", "me")
    res = suite.run("sign", "--key", DATA / "rsa2048.pkcs1.pem", "--alg", "PS256", "--issuer",
                    "me", "--audience", "aud-1")
    pyjwt_check(suite, "sign RSA PKCS#1 PEM --alg PS256 -> PyJWT verifies", res, rsa_pub,
                "PS256", "aud-1", "me")
    res = suite.run("sign", "--key", DATA / "ed25519.pkcs8.pem", "--issuer", "me", "--audience",
                    "aud-1")
    pyjwt_check(suite, "sign Ed25519 PEM -> EdDSA by default (decisions.md), PyJWT verifies",
                res, ed_pub, "EdDSA", "aud-1", "me")

    # --alg Ed25519: the fully-specified name, verified by tokenguard-sim itself
    res = suite.run("jwk", "--public-key", DATA / "ed25519.spki.pem", "--kid", "ed", "--set",
                    "--output", fx.tmp / "ed-set.json")
    res2 = suite.run("sign", "--key", DATA / "ed25519.pkcs8.pem", "--alg", "Ed25519", "--kid",
                     "ed", "--issuer", ISS, "--audience", AUD, "--now", NOW)
    tok = res2.text.strip()
    hdr = header_of(tok) if res2.rc == 0 else {}
    suite.check("sign --alg Ed25519 -> header alg Ed25519, kid ed",
                hdr.get("alg") == "Ed25519" and hdr.get("kid") == "ed",
                "alg 'Ed25519', kid 'ed'", f"{res2}; header {hdr}")
    suite.expect_accept("sign --alg Ed25519 token verifies with `verify` against the jwk --set "
                        "(no alg) output",
                        verify(suite, fx, tok, jwks=fx.tmp / "ed-set.json"))

    # round trip through jwk --set and verify
    suite.run("jwk", "--private-key", DATA / "p256.pkcs8.pem", "--kid", "p256", "--alg", "ES256",
              "--set", "--output", fx.tmp / "p256-set.json")
    res = suite.run("sign", "--key", DATA / "p256.pkcs8.pem", "--kid", "p256", "--issuer", ISS,
                    "--subject", "device-7", "--jti", "jti-77", "--audience", AUD, "--now", NOW,
                    "--typ", "at+jwt")
    tok = res.text.strip()
    res2 = verify(suite, fx, tok, "--typ", "at+jwt", "--require-kid",
                  jwks=fx.tmp / "p256-set.json")
    suite.expect_accept("sign --kid/--subject/--jti/--typ token verifies with `verify`", res2)
    try:
        c = json.loads(res2.out)
    except ValueError:
        c = {}
    suite.check("sign --subject/--jti: sub and jti set, iss from --issuer",
                c.get("sub") == "device-7" and c.get("jti") == "jti-77" and c.get("iss") == ISS,
                "sub 'device-7', jti 'jti-77'", repr(c))

    # repeated --audience -> aud array
    res = suite.run("sign", "--key", DATA / "p256.pkcs8.pem", "--issuer", "me", "--audience",
                    "https://api.example", "--audience", "https://me.example/userinfo")
    got = pyjwt_check(suite, "sign with two --audience -> PyJWT verifies", res, p256_pub,
                      "ES256", "https://api.example", "me")
    if got:
        suite.check("sign with two --audience -> aud is an array, in order",
                    got[1].get("aud") == ["https://api.example", "https://me.example/userinfo"],
                    "['https://api.example', 'https://me.example/userinfo']",
                    repr(got[1].get("aud")))

    # --claim: JSON when it is a JSON value, else a plain string
    claim_cases = [
        ('permissions=["a","b"]', "permissions", ["a", "b"]),
        ("n=42", "n", 42),
        ("scope=read write", "scope", "read write"),
        ('s="42"', "s", "42"),
        ("flag=true", "flag", True),
        ("nothing=null", "nothing", None),
        ('obj={"k":1}', "obj", {"k": 1}),
        ("word=hello", "word", "hello"),
        ("ratio=1.5", "ratio", 1.5),
    ]
    args = ["sign", "--key", DATA / "p256.pkcs8.pem", "--issuer", "me", "--audience", "aud-1"]
    for spec, _, _ in claim_cases:
        args += ["--claim", spec]
    res = suite.run(*args)
    got = pyjwt_check(suite, "sign with --claim values -> PyJWT verifies", res, p256_pub,
                      "ES256", "aud-1", "me")
    claims = got[1] if got else {}
    for spec, name, want in claim_cases:
        value = claims.get(name, "<absent>")
        suite.check(f"sign --claim '{spec}' -> {json.dumps(want)} ({type(want).__name__})",
                    value == want and type(value) is type(want), f"{want!r}", repr(value))

    # key2jwt flags: -key -audience -issuer -output; iat not backdated
    out = fx.tmp / "key2jwt.jwt"
    res = suite.run("sign", "-key", DATA / "rsa2048.pkcs8.pem", "-audience", "aud-k",
                    "-issuer", "iss-k", "-output", out, "--now", snow)
    written = out.read_bytes() if out.exists() else b""
    fake = Result(res.rc, written, res.err)
    got = pyjwt_check(suite, "sign with key2jwt flags (-key/-audience/-issuer/-output) -> file "
                      "holds a token PyJWT verifies", fake, rsa_pub, "RS256", "aud-k", "iss-k")
    if got:
        suite.check("sign with key2jwt flags: iat not backdated", got[1].get("iat") == snow,
                    f"iat {snow}", repr(got[1].get("iat")))
    suite.check("sign -output: nothing on stdout", res.out.strip() == b"", "empty stdout",
                str(res))

    # ZITADEL service-account key file
    zfile = json.loads((DATA / "zitadel-serviceaccount.json").read_text())
    zpub = serialization.load_pem_private_key(zfile["key"].encode(), None).public_key()
    res = suite.run("sign", "--key", DATA / "zitadel-serviceaccount.json", "--audience",
                    "https://zitadel.example", "--now", snow)
    got = pyjwt_check(suite, "sign ZITADEL service-account key file -> RS256 with its keyId, "
                      "PyJWT verifies", res, zpub, "RS256", "https://zitadel.example",
                      zfile["userId"], header={"kid": zfile["keyId"]})
    if got:
        c = got[1]
        suite.check("sign zitadel-user preset: iss = sub = userId, lifetime <= 1 h",
                    c.get("sub") == zfile["userId"] and c.get("exp", 0) - c.get("iat", 0) <= 3600
                    and c.get("exp", 0) > snow,
                    f"sub {zfile['userId']}, exp - iat <= 3600, exp > now", repr(c))
    res = suite.run("sign", "--key", DATA / "zitadel-serviceaccount.json", "--audience",
                    "https://zitadel.example", "--lifetime", "3601")
    suite.check("sign zitadel-user preset --lifetime 3601 (over ZITADEL's hour) -> refused, "
                "no token", res.rc != 0 and res.out.strip() == b"",
                "non-zero exit, empty stdout", str(res))

    # Auth0 private_key_jwt: iss = sub = client id, aud = token endpoint, jti, <= 5 min
    endpoint = "https://tenant.example/oauth/token"
    res = suite.run("sign", "--key", DATA / "rsa2048.pkcs8.pem", "--preset", "auth0",
                    "--issuer", "client-1", "--audience", endpoint, "--now", snow)
    got = pyjwt_check(suite, "sign --preset auth0 -> RS256, PyJWT verifies", res, rsa_pub,
                      "RS256", endpoint, "client-1")
    if got:
        c = got[1]
        suite.check("sign --preset auth0: sub = iss, a jti, lifetime <= 300 s",
                    c.get("sub") == "client-1" and isinstance(c.get("jti"), str)
                    and c.get("jti") != "" and 0 < c.get("exp", 0) - c.get("iat", 0) <= 300,
                    "sub 'client-1', a non-empty jti, 0 < exp - iat <= 300", repr(c))
    res = suite.run("sign", "--key", DATA / "rsa2048.pkcs8.pem", "--preset", "auth0",
                    "--issuer", "client-1", "--audience", endpoint, "--lifetime", "301")
    suite.check("sign --preset auth0 --lifetime 301 -> refused, no token",
                res.rc != 0 and res.out.strip() == b"", "non-zero exit, empty stdout",
                str(res))


# ---------------------------------------------------------------------------------------------
# 6. jwk
# ---------------------------------------------------------------------------------------------


def jwk(suite, fx):
    res = suite.run("jwk", "--json", json.dumps(RFC7638_JWK), "--thumbprint")
    suite.check("jwk --json <RFC 7638 §3.1 key> --thumbprint",
                res.rc == 0 and res.text.strip() == RFC7638_THUMBPRINT
                and len(res.text.splitlines()) == 1,
                f"exit 0, one line: {RFC7638_THUMBPRINT}", str(res))
    kf = fx.write("rfc7638.json", json.dumps(RFC7638_JWK, indent=2))
    res = suite.run("jwk", "--json", f"@{kf}", "--thumbprint")
    suite.check("jwk --json @FILE --thumbprint (RFC 7638 key)",
                res.rc == 0 and res.text.strip() == RFC7638_THUMBPRINT,
                f"exit 0, {RFC7638_THUMBPRINT}", str(res))
    no_extra = {k: RFC7638_JWK[k] for k in ("kty", "n", "e")}
    res = suite.run("jwk", "--json", json.dumps(no_extra), "--kid", "thumbprint")
    try:
        kid = json.loads(res.out).get("kid")
    except ValueError:
        kid = None
    suite.check("jwk --kid thumbprint sets kid to the RFC 7638 thumbprint",
                res.rc == 0 and kid == RFC7638_THUMBPRINT, RFC7638_THUMBPRINT, str(res))

    # certificate -> JWK Set
    cert = x509.load_pem_x509_certificate((DATA / "rsa2048.cert.pem").read_bytes())
    nums = cert.public_key().public_numbers()
    n = b64u(nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big"))
    e = b64u(nums.e.to_bytes((nums.e.bit_length() + 7) // 8, "big"))
    res = suite.run("jwk", "--cert", DATA / "rsa2048.cert.pem", "--alg", "RS256", "--kid", "k1",
                    "--set")
    try:
        keys = json.loads(res.out).get("keys")
        k = keys[0] if isinstance(keys, list) and len(keys) == 1 else {}
    except (ValueError, AttributeError):
        k = {}
    suite.check("jwk --cert PEM --alg RS256 --kid k1 --set -> {\"keys\":[one RSA key]}",
                res.rc == 0 and k.get("kty") == "RSA" and k.get("n") == n and k.get("e") == e
                and k.get("alg") == "RS256" and k.get("kid") == "k1" and "d" not in k,
                "one RSA key with the certificate's n/e, alg RS256, kid k1", str(res))

    # private key with and without --include-private; derive the public one from @FILE
    priv = serialization.load_pem_private_key((DATA / "p256.pkcs8.pem").read_bytes(), None)
    d = b64u(priv.private_numbers().private_value.to_bytes(32, "big"))
    res = suite.run("jwk", "--private-key", DATA / "p256.pkcs8.pem", "--include-private")
    try:
        j = json.loads(res.out)
    except ValueError:
        j = {}
    suite.check("jwk --private-key PEM --include-private -> d present and correct",
                res.rc == 0 and j.get("d") == d, "d of p256.pkcs8.pem", str(res))
    pf = fx.write("p256-private.json", res.out)
    res = suite.run("jwk", "--json", f"@{pf}")
    try:
        j2 = json.loads(res.out)
    except ValueError:
        j2 = {}
    suite.check("jwk --json @PRIVATE_FILE -> the public JWK (no d)",
                res.rc == 0 and "d" not in j2 and j2.get("x") == j.get("x")
                and j2.get("y") == j.get("y"), "public JWK, same x/y, no d", str(res))

    # generated oct sizes (simulator.md)
    for alg, nbytes in [("HS256", 32), ("HS384", 48), ("HS512", 64), ("A128KW", 16),
                        ("A192KW", 24), ("A256KW", 32), ("A128GCMKW", 16)]:
        res = suite.run("jwk", "--generate", "oct", "--alg", alg, "--include-private")
        try:
            k = unb64u(json.loads(res.out)["k"])
        except (ValueError, KeyError, TypeError):
            k = b""
        suite.check(f"jwk --generate oct --alg {alg} -> a {nbytes * 8}-bit k",
                    res.rc == 0 and len(k) == nbytes, f"exit 0, k of {nbytes} bytes",
                    f"{res}; k of {len(k)} bytes")
    res = suite.run("jwk", "--generate", "RSA", "--size", "2048", "--include-private")
    try:
        j = json.loads(res.out)
        bits = int.from_bytes(unb64u(j["n"]), "big").bit_length()
        ok = res.rc == 0 and bits == 2048 and all(m in j for m in ("d", "p", "q"))
    except (ValueError, KeyError, TypeError):
        ok, bits = False, None
    suite.check("jwk --generate RSA --size 2048 --include-private -> a 2048-bit private JWK",
                ok, "2048-bit n, d/p/q present", f"{res}; bits {bits}")
    # a key pair only with --include-private
    for kty in ("RSA", "EC", "OKP"):
        res = suite.run("jwk", "--generate", kty)
        suite.check(f"jwk --generate {kty} without --include-private -> refused, no JWK",
                    res.rc != 0 and res.out.strip() == b"", "non-zero exit, empty stdout",
                    str(res))
    # --use/--alg checked against RFC 7518's table
    res = suite.run("jwk", "--private-key", DATA / "p256.pkcs8.pem", "--alg", "RS256")
    suite.check("jwk: --alg RS256 on a P-256 key refused", res.rc != 0 and res.out == b"",
                "non-zero exit, empty stdout", str(res))
    res = suite.run("jwk", "--private-key", DATA / "p256.pkcs8.pem", "--use", "enc", "--alg",
                    "ES256")
    suite.check("jwk: --use enc with --alg ES256 refused", res.rc != 0 and res.out == b"",
                "non-zero exit, empty stdout", str(res))


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------


def section(suite, title, fn, *args):
    if suite.verbose:
        print(f"== {title}", flush=True)
    before = len(suite.failures)
    try:
        fn(suite, *args)
    except Exception as e:  # noqa: BLE001 - a crash in a section is a failed check
        suite.check(f"{title}: section ran to the end", False, "no exception", repr(e))
    return len(suite.failures) == before


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", required=True, help="path to the tokenguard-sim binary")
    parser.add_argument("--verbose", action="store_true", help="print passing checks too")
    args = parser.parse_args()
    if not os.access(args.bin, os.X_OK):
        parser.error(f"not an executable: {args.bin}")

    tmp = Path(tempfile.mkdtemp(prefix="cli-contract-"))
    try:
        suite = Suite(args, tmp)
        fx = Fixtures(tmp)
        section(suite, "verify", verify_basics, fx)
        section(suite, "verify --batch", batch, fx)
        section(suite, "policy flags", policy_flags, fx)
        section(suite, "script contracts", script_contracts, fx)
        section(suite, "sign", sign, fx)
        section(suite, "jwk", jwk, fx)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    if suite.verbose and suite.observed:
        undocumented = {k: v for k, v in suite.observed.items() if "not documented" in k}
        for name, code in undocumented.items():
            print(f"note {name}: observed `{code}`")
    print(f"cli contract: {suite.checks} checks, {len(suite.failures)} failed")
    return 1 if suite.failures else 0


if __name__ == "__main__":
    sys.exit(main())
