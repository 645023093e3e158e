#!/usr/bin/env python3
"""The tokenguard filter against Envoy's built-in jwt_authn, in the same Envoy, on the same
tokens: every token goes to both listeners and the verdicts (accepted or refused) are
compared. Every disagreement must be listed, with its explanation, in docs/gateway.md's
table between the `differential` markers; an unlisted disagreement, or a listed one that no
longer happens, fails the run.

The corpus: the attack classes of docs/attacks.md built afresh with the current time, and
the team's negative JWT vectors (../shared/vectors/jwt-negative-vectors.json) re-signed
under this run's keys (their header and claims texts kept, `alg` and `kid` pointed at the
run's ES256 key, times moved to now).

Environment: ENVOY, FILTER_WASM, PEERS (PYTHONPATH of the Python peers, for the
`cryptography` package), VECTORS (the shared vectors directory), REPO.
"""

import base64
import json
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.environ["PEERS"])
from cryptography.hazmat.primitives import hashes, hmac, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature  # noqa: E402
from envoy_harness import Envoy, get, listener, serve_jwks, static_cluster, tokenguard_filter  # noqa: E402

ENVOY = os.environ["ENVOY"]
FILTER = os.environ["FILTER_WASM"]
VECTORS = os.environ["VECTORS"]
REPO = os.environ["REPO"]
ISS = "https://issuer.example"
AUD = "device-1"
NOW = int(time.time())
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def int_b64(n, size=None):
    size = size or (n.bit_length() + 7) // 8
    return b64(n.to_bytes(size, "big"))


EC_KEY = ec.generate_private_key(ec.SECP256R1())
EC384_KEY = ec.generate_private_key(ec.SECP384R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ED_KEY = ed25519.Ed25519PrivateKey.generate()


RSA_KIDS = {"rs": "RS256", "rs384": "RS384", "rs512": "RS512", "ps": "PS256", "ps384": "PS384", "ps512": "PS512"}
HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


def jwks():
    e = EC_KEY.public_key().public_numbers()
    r = RSA_KEY.public_key().public_numbers()
    ed = ED_KEY.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    e384 = EC384_KEY.public_key().public_numbers()
    rsa_keys = [{"kty": "RSA", "kid": kid, "use": "sig", "alg": alg, "n": int_b64(r.n), "e": int_b64(r.e)}
                for kid, alg in RSA_KIDS.items()]
    return {"keys": [
        {"kty": "EC", "crv": "P-256", "kid": "ec", "use": "sig", "alg": "ES256", "x": int_b64(e.x, 32), "y": int_b64(e.y, 32)},
        {"kty": "EC", "crv": "P-384", "kid": "ec384", "use": "sig", "alg": "ES384", "x": int_b64(e384.x, 48), "y": int_b64(e384.y, 48)},
        *rsa_keys,
        {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "use": "sig", "alg": "EdDSA", "x": b64(ed)},
    ]}


def sign(alg, data):
    if alg == "ES256":
        r, s = decode_dss_signature(EC_KEY.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if alg == "ES384":
        r, s = decode_dss_signature(EC384_KEY.sign(data, ec.ECDSA(hashes.SHA384())))
        return r.to_bytes(48, "big") + s.to_bytes(48, "big")
    if alg[:2] == "RS":
        return RSA_KEY.sign(data, padding.PKCS1v15(), HASHES[alg[2:]]())
    if alg[:2] == "PS":
        h = HASHES[alg[2:]]
        return RSA_KEY.sign(data, padding.PSS(mgf=padding.MGF1(h()), salt_length=h.digest_size), h())
    if alg == "EdDSA":
        return ED_KEY.sign(data)
    raise ValueError(alg)


def claims(**over):
    c = {"iss": ISS, "aud": AUD, "sub": "device-7", "iat": NOW - 10, "exp": NOW + 600}
    for k, v in over.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return json.dumps(c, separators=(",", ":"))


def jws(header, payload, alg="ES256", sig=None):
    """header and payload as JSON text (kept as written)."""
    h, p = b64(header.encode()), b64(payload.encode())
    s = sig if sig is not None else sign(alg, f"{h}.{p}".encode())
    return f"{h}.{p}.{b64(s) if isinstance(s, bytes) else s}"


def hdr(alg="ES256", kid="ec", **extra):
    h = {"alg": alg, "typ": "JWT"}
    if kid is not None:
        h["kid"] = kid
    h.update(extra)
    return json.dumps(h, separators=(",", ":"))


def hs256(secret, header, payload):
    h, p = b64(header.encode()), b64(payload.encode())
    m = hmac.HMAC(secret, hashes.SHA256())
    m.update(f"{h}.{p}".encode())
    return f"{h}.{p}.{b64(m.finalize())}"


def attack_cases():
    c = {}
    valid = [("ES256", "ec"), ("ES384", "ec384"), ("EdDSA", "ed")] + [(a, k) for k, a in RSA_KIDS.items()]
    for alg, kid in valid:
        c[f"valid-{alg}"] = jws(hdr(alg, kid), claims(), alg)
    good = c["valid-ES256"]
    h, p, s = good.split(".")
    c["alg-none"] = f"{b64(hdr('none', 'ec').encode())}.{p}."
    c["alg-none-with-signature"] = f"{b64(hdr('none', 'ec').encode())}.{p}.{s}"
    c["alg-None"] = f"{b64(hdr('None', 'ec').encode())}.{p}."
    rsa_pem = RSA_KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    c["alg-confusion-hs256-with-rsa-public-key"] = hs256(rsa_pem, hdr("HS256", "rs"), claims())
    c["alg-unknown"] = jws(hdr("ES999", "ec"), claims(), "ES256")
    c["alg-rs256-on-ec-kid"] = jws(hdr("RS256", "ec"), claims(), "RS256")
    c["alg-es256-on-rsa-kid"] = jws(hdr("ES256", "rs"), claims(), "ES256")
    c["kid-missing"] = jws(hdr("ES256", None), claims(), "ES256")
    c["kid-unknown"] = jws(hdr("ES256", "nope"), claims(), "ES256")
    c["kid-path"] = jws(hdr("ES256", "../../etc/passwd"), claims(), "ES256")
    c["crit-unknown"] = jws(hdr("ES256", "ec", crit=["x-custom"], **{"x-custom": 1}), claims())
    c["crit-b64-false"] = jws(hdr("ES256", "ec", crit=["b64"], b64=False), claims())
    c["header-jwk-embedded"] = jws(hdr("ES256", "ec", jwk=jwks()["keys"][0]), claims())
    c["header-jku"] = jws(hdr("ES256", "ec", jku="https://attacker.example/jwks"), claims())
    c["header-x5u"] = jws(hdr("ES256", "ec", x5u="https://attacker.example/cert"), claims())
    c["header-duplicate-alg"] = jws('{"alg":"ES256","alg":"none","kid":"ec"}', claims())
    c["header-duplicate-kid"] = jws('{"alg":"ES256","kid":"nope","kid":"ec"}', claims())
    c["header-not-object"] = jws('["ES256"]', claims())
    c["header-typ-at+jwt"] = jws(hdr("ES256", "ec", typ="at+jwt"), claims())
    c["payload-duplicate-exp"] = jws(hdr(), claims()[:-1] + f',"exp":{NOW - 600}}}')
    c["payload-duplicate-aud"] = jws(hdr(), claims()[:-1] + ',"aud":"other"}')
    c["payload-not-object"] = jws(hdr(), '"just a string"')
    c["payload-trailing-garbage"] = jws(hdr(), claims() + "xyz")
    c["payload-deep-nesting"] = jws(hdr(), claims()[:-1] + ',"x":' + "[" * 100 + "]" * 100 + "}")
    c["payload-escaped-iss"] = jws(hdr(), claims().replace(ISS.replace("/", "\\/"), "X").replace(json.dumps(ISS)[1:-1], ISS.replace("/", "\\/")))
    c["exp-past-30s"] = jws(hdr(), claims(exp=NOW - 30))
    c["exp-past-1h"] = jws(hdr(), claims(exp=NOW - 3600))
    c["exp-missing"] = jws(hdr(), claims(exp=None))
    c["exp-string"] = jws(hdr(), claims(exp=str(NOW + 600)))
    c["exp-float"] = jws(hdr(), claims(exp=NOW + 600.5))
    c["exp-huge"] = jws(hdr(), claims()[:-1].rsplit(',"exp"', 1)[0] + ',"exp":1e30}')
    c["nbf-future"] = jws(hdr(), claims(nbf=NOW + 3600))
    c["iat-future"] = jws(hdr(), claims(iat=NOW + 3600))
    c["iss-wrong"] = jws(hdr(), claims(iss="https://attacker.example"))
    c["iss-missing"] = jws(hdr(), claims(iss=None))
    c["aud-wrong"] = jws(hdr(), claims(aud="other"))
    c["aud-array-containing"] = jws(hdr(), claims(aud=["other", AUD]))
    c["aud-empty-array"] = jws(hdr(), claims(aud=[]))
    c["aud-missing"] = jws(hdr(), claims(aud=None))
    c["aud-number"] = jws(hdr(), claims(aud=5))
    c["sig-tampered"] = f"{h}.{p}.{s[:10]}{'A' if s[10] != 'A' else 'B'}{s[11:]}"
    c["sig-truncated"] = f"{h}.{p}.{s[:-4]}"
    c["sig-empty"] = f"{h}.{p}."
    r, sv = int.from_bytes(b64d(s)[:32], "big"), int.from_bytes(b64d(s)[32:], "big")
    c["sig-der-encoded"] = f"{h}.{p}.{b64(encode_dss_signature(r, sv))}"
    c["sig-high-s"] = f"{h}.{p}.{b64(r.to_bytes(32, 'big') + (P256_N - sv).to_bytes(32, 'big'))}"
    c["b64-padding"] = f"{h}=.{p}.{s}" if len(h) % 4 else f"{h}.{p}==.{s}"
    c["b64-standard-alphabet"] = good.replace("-", "+").replace("_", "/") if ("-" in good or "_" in good) else good + "+"
    c["b64-space"] = f"{h}. {p}.{s}"
    last = s[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    c["b64-noncanonical-last-char"] = f"{h}.{p}.{s[:-1]}{alphabet[alphabet.index(last) + 1]}"
    c["segments-2"] = f"{h}.{p}"
    c["segments-4"] = f"{good}.{s}"
    c["segments-5-jwe"] = f"{h}.{p}.{s}.{s}.{s}"
    c["too-large-12k"] = jws(hdr(), claims()[:-1] + ',"pad":"' + "x" * 12000 + '"}')
    c["empty-token"] = "."
    return c


# Vectors whose times sit within a second of jwt_authn's fixed 60 s skew (exp 59 s ago, exp
# now, nbf in 61 s): their verdict depends on the second the request lands, not on the
# verifier. exp-past-30s and nbf-future above cover the skew difference deterministically.
TIME_EDGE = {"ctl-exp-edge", "exp-now", "nbf-future"}


def resigned_vectors():
    """The shared negative vectors, re-signed: header and claims texts as the vector has them,
    `alg`/`kid` pointed at this run's ES256 key, times moved by (now - the vectors' now)."""
    doc = json.load(open(os.path.join(VECTORS, "jwt-negative-vectors.json")))
    shift = NOW - doc["meta"]["policy"]["now"]
    out = {}
    for case in doc["cases"]:
        if case["id"] in TIME_EDGE:
            continue
        parts = case["token"].split(".")
        if len(parts) != 3:
            out[f"vector-{case['id']}"] = case["token"]
            continue
        try:
            htxt, ptxt = b64d(parts[0]).decode(), b64d(parts[1]).decode()
        except Exception:
            out[f"vector-{case['id']}"] = case["token"]
            continue
        htxt = re.sub(r'"HS256"', '"ES256"', htxt)
        htxt = re.sub(r'"kid"\s*:\s*"hs-1"', '"kid":"ec"', htxt)
        htxt = re.sub(r'"kid"\s*:\s*"ec-1"', '"kid":"ec"', htxt)
        if '"kid"' not in htxt and htxt.startswith("{"):
            # The run's filters require no typ; a kid names the key, so the vector is judged
            # on what it tests, not on the missing kid.
            htxt = '{"kid":"ec"' + ("," if htxt.strip() != "{}" else "") + htxt[1:]
        ptxt = re.sub(r'("(?:exp|nbf|iat)"\s*:\s*)(\d{9,10})\b', lambda m: m.group(1) + str(int(m.group(2)) + shift), ptxt)
        out[f"vector-{case['id']}"] = jws(htxt, ptxt, "ES256")
    return out


def documented():
    doc = open(os.path.join(REPO, "docs/gateway.md")).read()
    block = doc.split("<!-- differential:begin -->")[1].split("<!-- differential:end -->")[0]
    cases = {}
    for line in block.splitlines():
        m = re.match(r"\|\s*`([^`]+)`\s*\|\s*(accepted|refused)\s*\|\s*(accepted|refused)\s*\|", line)
        if m:
            cases[m.group(1)] = (m.group(2), m.group(3))
    return cases


def main():
    doc = json.dumps(jwks()).encode()
    server = serve_jwks(doc)
    tg = tokenguard_filter(FILTER, "tokenguard", {
        "issuers": [ISS], "audiences": [AUD],
        "algorithms": ["ES256", "ES384", "EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"],
        "jwks": {"cluster": "jwks", "path": "/jwks"}, "token_cache": {"max_entries": 0}})
    ja = [{"name": "envoy.filters.http.jwt_authn", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
        "providers": {"p": {"issuer": ISS, "audiences": [AUD], "clock_skew_seconds": 0,
                            "local_jwks": {"inline_string": doc.decode()}}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]}}]
    envoy = Envoy(ENVOY, tempfile.mkdtemp(prefix="tg-diff-"),
                  [listener("tokenguard", tg), listener("jwt_authn", ja)],
                  [static_cluster("jwks", server.server_port)])
    try:
        ports = envoy.ports
        deadline = time.time() + 30
        global NOW
        NOW = int(time.time())
        corpus = attack_cases()
        corpus.update(resigned_vectors())
        # What cannot travel in an HTTP header (control characters) is left out.
        corpus = {k: v for k, v in corpus.items() if all(0x20 <= ord(ch) < 0x7F for ch in v)}
        # Wait for the filter's first key set.
        while get(ports["tokenguard"], "/", {"authorization": f"Bearer {corpus['valid-ES256']}"})[0] != 200:
            if time.time() > deadline:
                raise SystemExit("the filter never loaded its key set")
            time.sleep(0.1)
        verdict = {}
        for cid, tok in corpus.items():
            v = []
            for name in ("tokenguard", "jwt_authn"):
                st, headers, _ = get(ports[name], "/", {"authorization": f"Bearer {tok}"})
                www = headers.get("www-authenticate")
                if st not in (200, 401, 403, 431):  # 431: Envoy refuses the header itself
                    raise SystemExit(f"{cid}: {name} answered {st}")
                v.append(("accepted" if st == 200 else "refused", www))
            verdict[cid] = v
    finally:
        envoy.stop()
        server.shutdown()

    for must in [c for c in verdict if c.startswith("valid-")]:
        if verdict[must][0][0] != "accepted" or verdict[must][1][0] != "accepted":
            raise SystemExit(f"{must} must be accepted by both: {verdict[must]}")
    listed = documented()
    disagree = {cid: (v[0][0], v[1][0]) for cid, v in verdict.items() if v[0][0] != v[1][0]}
    failures = []
    for cid, (a, b) in sorted(disagree.items()):
        code = verdict[cid][0][1]
        if cid not in listed:
            failures.append(f"undocumented: `{cid}` tokenguard {a} ({code}), jwt_authn {b}")
        elif listed[cid] != (a, b):
            failures.append(f"`{cid}`: documented {listed[cid]}, now {(a, b)}")
    for cid in sorted(set(listed) - set(disagree)):
        failures.append(f"`{cid}` is documented as a disagreement but both now say {verdict.get(cid, [('?',)])[0][0]}")
    agree = len(verdict) - len(disagree)
    print(f"envoy_differential: {len(verdict)} tokens, {agree} agree, {len(disagree)} differ")
    for cid, (a, b) in sorted(disagree.items()):
        print(f"  {cid}: tokenguard {a} ({verdict[cid][0][1]}), jwt_authn {b}")
    if failures:
        print("envoy_differential: FAILED\n  " + "\n  ".join(failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
