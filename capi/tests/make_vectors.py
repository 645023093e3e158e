#!/usr/bin/env python3
"""Flattens the test data the C tests use into one tab-separated file, so the C programs
need no JSON parser: python3 capi/tests/make_vectors.py ../shared/vectors OUT.tsv

Lines (fields separated by tabs; a backslash, tab, newline or carriage return inside a field
is written as \\\\, \\t, \\n or \\r):
  P  now leeway iss aud max_token_len max_depth         the negative corpus' policy
  N  id expected token key...                           a negative-corpus case: its exact
                                                        outcome ("accept" or the engine code)
  W  tcId expected jws key                              a Wycheproof JWS case: "valid",
                                                        "invalid", or an exact code
  K  name jwk                                           a key the API tests use (rsa-pem:
                                                        RFC 7520's RSA key as PKCS#1 PEM)
  T  name token                                         an HS256 token (key hs-1) the API
                                                        tests use, minted here with hmac
  F  alg jwk token                                      the firmware benchmark's fixtures
                                                        (firmware/src/fixtures.rs), for the
                                                        C library's benchmark on QEMU

The negative corpus' exact outcomes are read from tests/tests/negative_vectors.rs (the
table the Rust suite asserts), so both suites hold the engine to the same verdicts.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import sys


def b64u(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def escape(s: str) -> str:
    """A field with its backslashes, tabs, newlines and carriage returns written as \\\\,
    \\t, \\n and \\r (the C reader undoes it)."""
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def compact(v) -> str:
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


# Wycheproof entries whose label is wrong, or that tokenguard decides differently on purpose
# (the same table as tests/tests/wycheproof_jws.rs, which says why for each).
WYCHEPROOF_OVERRIDES = {
    367: "ok",  # marked invalid, same bytes as the valid tcId 357
    370: "ok",
    372: "malformed",  # contains '?', not base64url
    373: "malformed",
    346: "alg_not_allowed",  # key alg PS256, token alg PS384: the binding refuses
    350: "alg_not_allowed",
}


def expected_table(repo: str) -> dict:
    src = open(os.path.join(repo, "tests/tests/negative_vectors.rs"), encoding="utf-8").read()
    start = src.index("const EXPECTED")
    body = src[start : src.index("];", start)]
    return dict(re.findall(r'\("([^"]+)",\s*"([^"]+)"\)', body))


HS_KEY = bytes(range(32))


def hs256(header: dict, claims, raw_payload: str = None) -> str:
    h = b64u(compact(header).encode())
    p = b64u((raw_payload if raw_payload is not None else compact(claims)).encode())
    mac = hmac.new(HS_KEY, f"{h}.{p}".encode(), hashlib.sha256).digest()
    return f"{h}.{p}.{b64u(mac)}"


def api_tokens():
    hdr = {"alg": "HS256", "typ": "JWT", "kid": "hs-1"}
    base = {
        "iss": "https://issuer.example",
        "aud": "device-1",
        "sub": "u1",
        "iat": 1700000000,
        "nbf": 1700000000,
        "exp": 1700000600,
        "jti": "j-1",
        "scope": "read write",
        "count": 42,
        "neg": -7,
        "admin": True,
        "esc": 'a"b\\\n\u00e9',
        "big": 9223372036854775808,
        "frac": 1.5,
        "obj": {"a": 1},
    }
    t = {"ok": hs256(hdr, base)}
    t["aud_array"] = hs256(hdr, {**base, "aud": ["x", "device-1"]})
    t["wrong_sub"] = hs256(hdr, {**base, "sub": "u2"})
    t["typ_at"] = hs256({**hdr, "typ": "at+jwt"}, base)
    t["no_jti"] = hs256(hdr, {k: v for k, v in base.items() if k != "jti"})
    t["jti_2"] = hs256(hdr, {**base, "jti": "j-2"})
    t["jti_long"] = hs256(hdr, {**base, "jti": "x" * 65})
    t["no_exp"] = hs256(hdr, {k: v for k, v in base.items() if k != "exp"})
    t["no_iat"] = hs256(hdr, {k: v for k, v in base.items() if k != "iat"})
    t["no_nbf"] = hs256(hdr, {k: v for k, v in base.items() if k != "nbf"})
    t["no_kid"] = hs256({"alg": "HS256", "typ": "JWT"}, base)
    t["unknown_kid"] = hs256({**hdr, "kid": "hs-9"}, base)
    t["long_life"] = hs256(hdr, {**base, "exp": 1700000000 + 86400})
    # A private claim twice: the signature is valid; reading that claim is refused.
    dup = compact(base)[:-1] + ',"scope":"admin"}'
    t["dup_scope"] = hs256(hdr, None, raw_payload=dup)
    for i in range(33):
        t[f"fill_{i}"] = hs256(hdr, {**base, "jti": f"fill-{i}"})
    return t


def der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def der_int(v: int) -> bytes:
    b = v.to_bytes(v.bit_length() // 8 + 1, "big")  # a leading 0 keeps it positive
    return b"\x02" + der_len(len(b)) + b


def rsa_pem(jwk: dict) -> str:
    """An RSA private JWK as PKCS#1 PEM (RFC 8017 A.1.2), for tg_signer_init_pem."""
    num = lambda m: int.from_bytes(base64.urlsafe_b64decode(jwk[m] + "=" * (-len(jwk[m]) % 4)), "big")
    body = b"".join(der_int(x) for x in [0] + [num(m) for m in ["n", "e", "d", "p", "q", "dp", "dq", "qi"]])
    der = b"\x30" + der_len(len(body)) + body
    b64 = base64.b64encode(der).decode()
    rows = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(rows) + "\n-----END RSA PRIVATE KEY-----\n"


def main():
    vectors, out = sys.argv[1], sys.argv[2]
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    lines = []

    corpus = json.load(open(os.path.join(vectors, "jwt-negative-vectors.json"), encoding="utf-8"))
    p = corpus["meta"]["policy"]
    lines.append(["P", p["now"], p["skew_s"], p["expected_iss"], p["expected_aud"],
                  p["max_token_len"], p["max_json_depth"]])
    expected = expected_table(repo)
    keys = corpus["meta"]["keys"]
    assert len(expected) == len(corpus["cases"]), "every case has its outcome"
    for c in corpus["cases"]:
        ks = [compact(keys[k]) for k in re.split(r"[+ ]", c["key"]) if k in keys]
        lines.append(["N", c["id"], expected[c["id"]], c["token"], *ks])

    wp = json.load(open(os.path.join(vectors, "wycheproof/json_web_signature_test.json"),
                        encoding="utf-8"))
    for g in wp["testGroups"]:
        key = g.get("public") or g.get("private")
        for t in g["tests"]:
            jws = t["jws"] if isinstance(t["jws"], str) else compact(t["jws"])
            want = WYCHEPROOF_OVERRIDES.get(t["tcId"], t["result"])
            lines.append(["W", t["tcId"], want, jws, compact(key)])

    for name, jwk in keys.items():
        lines.append(["K", name, compact(jwk)])
    for name in ["okp-ed25519-private", "okp-ed25519-public", "RFC7520-RSA-private",
                 "RFC7520-RSA-public", "RFC7520-oct-sig", "RFC7520-EC-public"]:
        jwk = json.load(open(os.path.join(vectors, "rfc7520", name + ".json"), encoding="utf-8"))
        lines.append(["K", name, compact(jwk)])

    fixtures = open(os.path.join(repo, "firmware/src/fixtures.rs"), encoding="utf-8").read()
    lit = r'"((?:[^"\\]|\\.)*)"'
    table = fixtures[fixtures.index("pub const FIXTURES") :]
    table = table[: table.index("];")]
    for alg, jwk, tok in re.findall(rf"\({lit}, {lit}, {lit}\)", table):
        unq = lambda v: v.replace('\\"', '"').replace("\\\\", "\\")
        lines.append(["F", unq(alg), unq(jwk), unq(tok)])

    rsa = json.load(open(os.path.join(vectors, "rfc7520", "RFC7520-RSA-private.json"), encoding="utf-8"))
    lines.append(["K", "rsa-pem", rsa_pem(rsa)])

    for name, tok in api_tokens().items():
        lines.append(["T", name, tok])

    with open(out, "w", encoding="utf-8") as f:
        for l in lines:
            f.write("\t".join(escape(str(x)) for x in l) + "\n")
    print(f"{out}: {len(lines)} lines")


if __name__ == "__main__":
    main()
