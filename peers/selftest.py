#!/usr/bin/env python3
"""Cross-check the three JWT peers against each other (run via selftest.sh).

Every peer mints tokens for all 12 algorithms; every peer then verifies every
token, with positive cases and negative ones (wrong key, wrong alg, expired,
not yet valid, future iat, wrong iss/aud/sub, missing required claim,
tampered payload, alg=none). Exits non-zero on any unexpected result.

Usage: PYTHONPATH=$DIR/python python3 peers/selftest.py <peers install DIR>
"""
import base64
import json
import os
import subprocess
import sys

from jwcrypto import jwk

HERE = os.path.dirname(os.path.abspath(__file__))
DIR = os.path.abspath(sys.argv[1])
ENV = dict(os.environ, PYTHONPATH=os.path.join(DIR, "python"))

PEERS = {
    "pyjwt": ["python3", os.path.join(HERE, "peer.py"), "pyjwt"],
    "jwcrypto": ["python3", os.path.join(HERE, "peer.py"), "jwcrypto"],
    "jose": ["node", os.path.join(HERE, "peer.mjs"), os.path.join(DIR, "node", "node_modules")],
}

# alg -> (key generation params, another alg the same key can be used with)
ALGS = {
    "RS256": ({"kty": "RSA", "size": 2048}, "RS384"),
    "RS384": ({"kty": "RSA", "size": 2048}, "PS384"),
    "RS512": ({"kty": "RSA", "size": 2048}, "RS256"),
    "PS256": ({"kty": "RSA", "size": 2048}, "RS256"),
    "PS384": ({"kty": "RSA", "size": 2048}, "PS512"),
    "PS512": ({"kty": "RSA", "size": 2048}, "PS256"),
    "ES256": ({"kty": "EC", "crv": "P-256"}, "ES384"),
    "ES384": ({"kty": "EC", "crv": "P-384"}, "ES256"),
    "EdDSA": ({"kty": "OKP", "crv": "Ed25519"}, "ES256"),
    "HS256": ({"kty": "oct", "size": 256}, "HS384"),
    "HS384": ({"kty": "oct", "size": 384}, "HS512"),
    "HS512": ({"kty": "oct", "size": 512}, "HS256"),
}

NOW = 1_700_000_000
ISS, AUD, SUB = "https://issuer.example", "tokenguard-tests", "user-42"
LEEWAY = 30
failures = []


def keypair(params, kid):
    """(private JWK dict, public JWK dict) for one generated key."""
    k = jwk.JWK.generate(kid=kid, **params)
    if params["kty"] == "oct":
        priv = k.export(as_dict=True)
        return priv, dict(priv)
    return k.export_private(as_dict=True), k.export_public(as_dict=True)


def run(peer, mode, request):
    proc = subprocess.run(PEERS[peer] + [mode], input=json.dumps(request),
                          capture_output=True, text=True, env=ENV)
    if proc.returncode != 0:
        sys.exit(f"{peer} {mode} exited {proc.returncode}: {proc.stderr}")
    return json.loads(proc.stdout)


def unsigned(token):
    """The same header/payload re-issued as an alg=none token."""
    _, p, _ = token.split(".")
    h = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    return f"{h}.{p}."


def tamper(token):
    """Re-encode the payload with a changed sub, keeping the signature."""
    h, p, s = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    claims["sub"] = "attacker"
    p2 = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{h}.{p2}.{s}"


def main():
    keys = {alg: keypair(params, f"kid-{alg}") for alg, (params, _) in ALGS.items()}
    other = {alg: keypair(params, f"other-{alg}") for alg, (params, _) in ALGS.items()}

    # Two claim sets per alg: "full" (iat/nbf/exp, string aud) and "nonbf"
    # (iat/exp only, array aud) so that the iat rule can be tested on its own.
    full = {"iss": ISS, "aud": AUD, "sub": SUB, "jti": "j1",
            "iat": NOW - 20, "nbf": NOW - 10, "exp": NOW + 600}
    nonbf = {"iss": ISS, "aud": ["other-aud", AUD], "sub": SUB,
             "iat": NOW - 10, "exp": NOW + 600}
    mint_req = {"keys": [
        {"name": f"{alg}/{variant}", "alg": alg, "jwk": keys[alg][0],
         "header": {"kid": f"kid-{alg}", "typ": "JWT"}, "claims": claims}
        for alg in ALGS for variant, claims in (("full", full), ("nonbf", nonbf))
    ]}

    tokens = {}  # (minter, alg, variant) -> token
    for minter in PEERS:
        for t in run(minter, "mint", mint_req)["tokens"]:
            if t["token"] is None:
                failures.append(f"{minter} failed to mint {t['name']}: {t['error']}")
                continue
            alg, variant = t["name"].split("/")
            tokens[(minter, alg, variant)] = t["token"]

    # Build verify cases: (case, expected ok).
    cases = []
    for (minter, alg, variant), token in tokens.items():
        pub = dict(keys[alg][1], alg=alg) if variant == "nonbf" else keys[alg][1]
        base = {"token": token, "jwk": pub, "alg": alg, "iss": ISS, "aud": AUD,
                "sub": None, "now": NOW, "require": ["exp", "iat"], "leeway": LEEWAY}

        def add(label, ok, **changes):
            cases.append(({**base, **changes, "name": f"{minter}:{alg}:{variant}:{label}"}, ok))

        add("ok", True)
        add("ok-sub", True, sub=SUB)
        add("ok-exp-edge", True, now=NOW + 600 + LEEWAY - 1)
        add("expired-edge", False, now=NOW + 600 + LEEWAY)
        add("expired-noleeway", False, now=NOW + 600, leeway=0)
        add("wrong-key", False, jwk=other[alg][1])
        add("wrong-alg", False, alg=ALGS[alg][1])
        add("wrong-iss", False, iss="https://evil.example")
        add("wrong-aud", False, aud="someone-else")
        add("wrong-sub", False, sub="user-43")
        add("missing-required", False, require=["exp", "scope"])
        add("tampered", False, token=tamper(token))
        add("alg-none", False, token=unsigned(token))
        if variant == "full":
            add("ok-nbf-edge", True, now=NOW - 10 - LEEWAY)
            add("not-yet-valid", False, now=NOW - 10 - LEEWAY - 1)
        else:
            add("missing-jti", False, require=["jti"])
            add("ok-iat-edge", True, now=NOW - 10 - LEEWAY)
            add("iat-in-future", False, now=NOW - 10 - LEEWAY - 1)

    request = {"cases": [c for c, _ in cases]}
    total = 0
    for verifier in PEERS:
        results = run(verifier, "verify", request)["results"]
        if len(results) != len(cases):
            failures.append(f"{verifier}: {len(results)} results for {len(cases)} cases")
            continue
        for (case, want), res in zip(cases, results):
            total += 1
            if res["name"] != case["name"] or res["ok"] is not want:
                failures.append(f"{verifier} verifying {case['name']}: expected ok={want}, "
                                f"got ok={res['ok']} ({res['error']})")

    for f in failures:
        print("FAIL", f)
    print(f"peers selftest: {len(tokens)} tokens minted, {total} verifications")
    print(f"{total - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
