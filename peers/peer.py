#!/usr/bin/env python3
"""Python JWT interop peer for the tokenguard test suite.

Usage:
    PYTHONPATH=$DIR/python python3 peers/peer.py <pyjwt|jwcrypto> <verify|mint> < in.json > out.json

Reads a JSON request on stdin and writes a JSON reply on stdout; the contract
is described in peers/README.md. A failure on one case never aborts the
others: it is reported as ok=false (verify) or token=null (mint) with
"ExceptionClass: message" as the error.
"""
import contextlib
import datetime as _dt
import json
import sys
import warnings

# PyJWT only warns about short HMAC / RSA keys (unless the
# enforce_minimum_key_length option is set); keep stderr clean.
warnings.simplefilter("ignore")


def _err(exc):
    return f"{type(exc).__name__}: {exc}"


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_claims(claims, case):
    """Registered-claim checks, used where the library cannot take a clock.

    Semantics (shared with the Rust side): reject when now >= exp + leeway,
    when nbf is present and now + leeway < nbf, and when iat is present and
    iat > now + leeway; iss exact; aud equal or an array containing it; sub
    exact when requested; every name in `require` present.
    """
    if not isinstance(claims, dict):
        raise ValueError("claims set is not a JSON object")
    now, leeway = case["now"], case.get("leeway", 0)
    for name in case.get("require", []):
        if name not in claims:
            raise ValueError(f"missing required claim {name!r}")
    for name in ("exp", "nbf", "iat"):
        if name in claims and not _is_num(claims[name]):
            raise ValueError(f"{name} is not a NumericDate")
    if "exp" in claims and now >= claims["exp"] + leeway:
        raise ValueError("token expired (exp)")
    if "nbf" in claims and now + leeway < claims["nbf"]:
        raise ValueError("token not yet valid (nbf)")
    if "iat" in claims and claims["iat"] > now + leeway:
        raise ValueError("token issued in the future (iat)")
    if claims.get("iss") != case["iss"]:
        raise ValueError("iss mismatch")
    aud = claims.get("aud")
    if not (aud == case["aud"] or (isinstance(aud, list) and case["aud"] in aud)):
        raise ValueError("aud mismatch")
    if case.get("sub") is not None and claims.get("sub") != case["sub"]:
        raise ValueError("sub mismatch")


# ---------------------------------------------------------------- PyJWT ----

@contextlib.contextmanager
def _pyjwt_clock(now):
    """Make PyJWT's claim validation see `now` as the current time.

    PyJWT has no clock parameter: jwt.api_jwt._validate_claims calls
    datetime.now(); swap that module's `datetime` for a frozen subclass.
    """
    import jwt.api_jwt as api_jwt

    class Frozen(_dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return _dt.datetime.fromtimestamp(now, tz)

    saved, api_jwt.datetime = api_jwt.datetime, Frozen
    try:
        yield
    finally:
        api_jwt.datetime = saved


def pyjwt_verify(case):
    import jwt

    key = jwt.PyJWK(case["jwk"], algorithm=case["alg"])
    with _pyjwt_clock(case["now"]):
        jwt.decode(
            case["token"],
            key=key,
            algorithms=[case["alg"]],
            audience=case["aud"],
            issuer=case["iss"],
            subject=case.get("sub"),
            leeway=case.get("leeway", 0),
            options={"require": list(case.get("require", []))},
        )


def pyjwt_mint(item):
    import jwt

    key = jwt.PyJWK(item["jwk"], algorithm=item["alg"])
    return jwt.encode(item["claims"], key, algorithm=item["alg"],
                      headers=dict(item.get("header", {})))


# ------------------------------------------------------------- jwcrypto ----

def jwcrypto_verify(case):
    from jwcrypto import jwk, jwt

    # check_claims={} disables jwcrypto's own wall-clock exp/nbf checks; the
    # library verifies signature + alg, check_claims() does the rest.
    tok = jwt.JWT(jwt=case["token"], key=jwk.JWK(**case["jwk"]),
                  algs=[case["alg"]], check_claims={}, expected_type="JWS")
    check_claims(json.loads(tok.claims), case)


def jwcrypto_mint(item):
    from jwcrypto import jwk, jwt

    header = dict(item.get("header", {}), alg=item["alg"])
    tok = jwt.JWT(header=header, claims=item["claims"])
    tok.make_signed_token(jwk.JWK(**item["jwk"]))
    return tok.serialize()


# ----------------------------------------------------------------- main ----

PEERS = {
    "pyjwt": (pyjwt_verify, pyjwt_mint),
    "jwcrypto": (jwcrypto_verify, jwcrypto_mint),
}


def main(argv):
    if len(argv) != 3 or argv[1] not in PEERS or argv[2] not in ("verify", "mint"):
        sys.exit("usage: peer.py <pyjwt|jwcrypto> <verify|mint> < in.json > out.json")
    verify, mint = PEERS[argv[1]]
    req = json.load(sys.stdin)
    if argv[2] == "verify":
        out = {"results": []}
        for case in req["cases"]:
            try:
                verify(case)
                res = {"ok": True, "error": None}
            except Exception as exc:  # one bad case must not abort the rest
                res = {"ok": False, "error": _err(exc)}
            out["results"].append({"name": case.get("name"), **res})
    else:
        out = {"tokens": []}
        for item in req["keys"]:
            try:
                res = {"token": mint(item), "error": None}
            except Exception as exc:
                res = {"token": None, "error": _err(exc)}
            out["tokens"].append({"name": item.get("name"), **res})
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv)
