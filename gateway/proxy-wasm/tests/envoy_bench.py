#!/usr/bin/env python3
"""Throughput and added latency of the tokenguard filter against Envoy's built-in jwt_authn,
in the same Envoy binary, with wrk on loopback (`cargo xtask gateway-bench`).

Envoy runs with one worker thread (--concurrency 1) and wrk with one thread, so each has a
core of this 2-core machine. Every listener answers `/direct` itself (direct_response), so
what is measured is the filter, not an upstream. Listeners:

  none          no authentication (the baseline)
  tg            the tokenguard filter, verified-token cache off (every request verified)
  tg-cache      the tokenguard filter, cache on
  jwt_authn     Envoy's jwt_authn, default configuration (no JWT cache)
  jwt_authn-cache  jwt_authn with its jwt_cache_config

Workloads per algorithm (ES256, RS256, EdDSA): `x10`, 400 distinct tokens each presented 10
times in a row; `same`, one token always (every request a cache hit where there is a cache).
The added latency is the listener's p50/p99 minus the baseline's.

Environment: ENVOY, FILTER_WASM, TOKENGUARD_SIM; DURATION (seconds per run, default 5).
Prints a Markdown table.
"""

import json
import os
import re
import subprocess
import tempfile
import time

from envoy_harness import Envoy, get, listener, serve_jwks, static_cluster, tokenguard_filter

ENVOY = os.environ["ENVOY"]
FILTER = os.environ["FILTER_WASM"]
SIM = os.environ["TOKENGUARD_SIM"]
DURATION = int(os.environ.get("DURATION", "5"))
ISS = "https://bench.example"
AUD = "bench-api"
DISTINCT = 400


def sim(*args):
    p = subprocess.run([SIM, *args], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"tokenguard-sim {' '.join(args)}: {p.stderr}")
    return p.stdout.strip()


def tokenguard(vm_id, cache_entries):
    return tokenguard_filter(FILTER, vm_id, {
        "issuers": [ISS], "audiences": [AUD], "jwks": {"cluster": "jwks", "path": "/jwks"},
        "token_cache": {"max_entries": cache_entries}, "tick_ms": 100, "skip_paths": ["/skip"]})


def jwt_authn(jwks_port, cache):
    provider = {"issuer": ISS, "audiences": [AUD], "forward": True,
                "remote_jwks": {"http_uri": {"uri": f"http://127.0.0.1:{jwks_port}/jwks", "cluster": "jwks",
                                             "timeout": "5s"},
                                "cache_duration": "3600s", "async_fetch": {}}}
    if cache:
        provider["jwt_cache_config"] = {"jwt_cache_size": 4096}
    return [{"name": "envoy.filters.http.jwt_authn", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
        "providers": {"p": provider},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]}}]


WRK_LUA = """
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end
local repeat_n = tonumber(os.getenv("REPEAT"))
local i = 0
request = function()
  local t = tokens[(math.floor(i / repeat_n) % #tokens) + 1]
  i = i + 1
  return wrk.format("GET", "/direct", {["Authorization"] = "Bearer " .. t})
end
"""


def wrk_path(port, path, work):
    return run_wrk(["wrk", "-t1", "-c8", f"-d{DURATION}s", "--latency", f"http://127.0.0.1:{port}{path}"],
                   dict(os.environ), port)


def wrk(port, tokens_file, repeat, work):
    script = os.path.join(work, "tokens.lua")
    open(script, "w").write(WRK_LUA)
    env = dict(os.environ, TOKENS=tokens_file, REPEAT=str(repeat))
    return run_wrk(["wrk", "-t1", "-c8", f"-d{DURATION}s", "--latency", "-s", script,
                    f"http://127.0.0.1:{port}/direct"], env, port)


def run_wrk(cmd, env, port):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"wrk on {port}: {non2xx.group(1)} refused requests:\n{out}")

    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)$", out, re.M)
        v, unit = float(m.group(1)), m.group(2)
        return v * {"us": 1, "ms": 1000, "s": 1e6}[unit]

    return rps, pct(50), pct(99)


def main():
    work = tempfile.mkdtemp(prefix="tg-bench-")
    keys = {}
    for alg, gen in (("ES256", ["EC", "--crv", "P-256"]), ("RS256", ["RSA", "--size", "2048"]),
                     ("EdDSA", ["OKP", "--crv", "Ed25519"])):
        path = os.path.join(work, f"{alg}.jwk")
        sim("jwk", "--generate", *gen, "--kid", f"bench-{alg}", "--alg", alg, "--include-private", "--output", path)
        keys[alg] = path
    pub = [json.loads(sim("jwk", "--json", "@" + p)) for p in keys.values()]
    server = serve_jwks(json.dumps({"keys": pub}).encode())

    token_files = {}
    for alg, key in keys.items():
        toks = [sim("sign", "--key", key, "--issuer", ISS, "--audience", AUD, "--subject", f"device-{i}",
                    "--lifetime", "3600") for i in range(DISTINCT)]
        f = os.path.join(work, f"{alg}.tokens")
        open(f, "w").write("\n".join(toks) + "\n")
        token_files[alg] = f

    names = ["none", "tg", "tg-cache", "jwt_authn", "jwt_authn-cache"]
    envoy = Envoy(ENVOY, work,
                  [listener("none", []), listener("tg", tokenguard("tg", 0)),
                   listener("tg-cache", tokenguard("tg_cache", 8192)),
                   listener("jwt_authn", jwt_authn(server.server_port, False)),
                   listener("jwt_authn-cache", jwt_authn(server.server_port, True))],
                  [static_cluster("jwks", server.server_port)])
    try:
        ports = envoy.ports
        first = open(token_files["ES256"]).readline().strip()
        for n in names[1:]:
            deadline = time.time() + 30
            while get(ports[n], "/direct", {"authorization": f"Bearer {first}"})[0] != 200:
                if time.time() > deadline:
                    raise SystemExit(f"{n} never accepted a token")
                time.sleep(0.2)

        base = {}
        rows = []
        base_rps, base50, base99 = wrk(ports["none"], token_files["ES256"], 1, work)
        rows.append(("none", "-", "-", base_rps, 0.0, 0.0))
        # The filter's fixed cost: a path it lets through without looking for a token.
        skip = wrk_path(ports["tg-cache"], "/skip", work)
        rows.append(("tg-cache (skipped path)", "-", "-", skip[0], skip[1] - base50, skip[2] - base99))
        for alg in ("ES256", "RS256", "EdDSA"):
            for workload, repeat in (("x10", 10), ("same", 10 ** 9)):
                for n in names[1:]:
                    if workload == "same" and n in ("tg", "jwt_authn"):
                        continue  # no cache: the same as x10
                    rps, p50, p99 = wrk(ports[n], token_files[alg], repeat, work)
                    rows.append((n, alg, workload, rps, p50 - base50, p99 - base99))
    finally:
        envoy.stop()
        server.shutdown()
    print(f"| listener | alg | workload | requests/s | added p50 (µs) | added p99 (µs) |")
    print("|---|---|---|---:|---:|---:|")
    for n, alg, w, rps, a50, a99 in rows:
        print(f"| {n} | {alg} | {w} | {rps:,.0f} | {a50:,.0f} | {a99:,.0f} |")
    # The filter's own cost per request, from the throughput with one worker: 1/rps minus
    # the baseline's 1/rps.
    print()
    skip_cost = (1e6 / skip[0]) - (1e6 / base_rps)
    print(f"The filter's fixed cost per request (a skipped path): {skip_cost:,.1f} µs.")
    print()
    print("| alg | tokenguard verify, µs per request (cache off) | jwt_authn, µs per request | tokenguard cache hit, µs per request | of which the hit itself (minus the fixed cost) |")
    print("|---|---:|---:|---:|---:|")
    for alg in ("ES256", "RS256", "EdDSA"):
        r = {(n, w): rps for n, a, w, rps, _, _ in rows if a == alg}
        cost = lambda rps: (1e6 / rps) - (1e6 / base_rps)
        hit = cost(r[('tg-cache', 'same')])
        print(f"| {alg} | {cost(r[('tg', 'x10')]):,.1f} | {cost(r[('jwt_authn', 'x10')]):,.1f} | "
              f"{hit:,.1f} | {hit - skip_cost:,.1f} |")


if __name__ == "__main__":
    main()
