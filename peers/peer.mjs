#!/usr/bin/env node
// Node JWT interop peer (panva/jose) for the tokenguard test suite.
//
// Usage: node peers/peer.mjs <node_modules dir> <verify|mint> < in.json > out.json
//
// jose is loaded from the given node_modules directory (as installed by
// peers/install.sh with `npm install --prefix`), so NODE_PATH is not needed.
// The JSON contract is described in peers/README.md. A failure on one case
// never aborts the others: it is reported as ok=false / token=null with
// "ErrorName: message" as the error.
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [modulesDir, mode] = process.argv.slice(2);
if (!modulesDir || !['verify', 'mint'].includes(mode)) {
  console.error('usage: peer.mjs <node_modules dir> <verify|mint> < in.json > out.json');
  process.exit(2);
}

// Resolve 'jose' as if required from a file inside <modulesDir>/.., i.e. the
// npm --prefix directory; jose's "." export has a "default" condition, so
// require.resolve finds its ESM entry point, which we then import().
const req = createRequire(resolve(modulesDir, '..', 'peer-resolver.js'));
const jose = await import(pathToFileURL(req.resolve('jose')).href);

const errText = (e) => `${e?.name ?? 'Error'}: ${e?.message ?? String(e)}`;

async function verify(c) {
  const key = await jose.importJWK(c.jwk, c.alg);
  const leeway = c.leeway ?? 0;
  const { payload } = await jose.jwtVerify(c.token, key, {
    algorithms: [c.alg],
    issuer: c.iss,
    audience: c.aud,
    subject: c.sub ?? undefined,
    requiredClaims: c.require ?? [],
    currentDate: new Date(c.now * 1000),
    clockTolerance: leeway,
  });
  // jose only checks a future iat when maxTokenAge is set (which would also
  // make iat mandatory), so apply the contract's iat rule here.
  if (payload.iat !== undefined && payload.iat > c.now + leeway) {
    throw new jose.errors.JWTClaimValidationFailed(
      '"iat" claim timestamp check failed (it should be in the past)', payload, 'iat', 'check_failed');
  }
}

async function mint(k) {
  const key = await jose.importJWK(k.jwk, k.alg);
  return new jose.SignJWT(k.claims)
    .setProtectedHeader({ ...(k.header ?? {}), alg: k.alg })
    .sign(key);
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));

let out;
if (mode === 'verify') {
  out = { results: [] };
  for (const c of input.cases) {
    try {
      await verify(c);
      out.results.push({ name: c.name, ok: true, error: null });
    } catch (e) {
      out.results.push({ name: c.name, ok: false, error: errText(e) });
    }
  }
} else {
  out = { tokens: [] };
  for (const k of input.keys) {
    try {
      out.tokens.push({ name: k.name, token: await mint(k), error: null });
    } catch (e) {
      out.tokens.push({ name: k.name, token: null, error: errText(e) });
    }
  }
}
process.stdout.write(JSON.stringify(out) + '\n');
