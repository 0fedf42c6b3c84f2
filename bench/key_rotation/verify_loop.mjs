// panva/jose as a resource server would run it: one long-lived createRemoteJWKSet whose cache
// lifetime is the JWKS Cache-Control max-age the authserver sends, verifying access tokens that
// arrive one per line on stdin and printing one JSON result per line on stdout.
//
// Input, by environment:
//   JWKS_URI         the authserver's /.well-known/jwks.json
//   ISSUER           the expected iss
//   AUDIENCE         the expected aud
//   CACHE_MAX_AGE_MS jose cacheMaxAge: the server's max-age, in milliseconds
//   COOLDOWN_MS      jose cooldownDuration (default CACHE_MAX_AGE_MS: an unknown kid never forces a refetch
//                    of a cached set that is still fresh, so the verifier relies on the cache headers alone)
// stdin, one JSON object a line:
//   {"id": "...", "token": "<jwt>", "tolerance": 0}   verify; tolerance = jose clockTolerance in seconds
//   {"op": "stats"}                                   print {"stats": {...}} (JWKS fetches so far)
// stdout, one JSON object a line:
//   {"ready": true, "jose": "<version>"} first, then per token
//   {"id", "ok": true, "kid", "at"} or {"id", "ok": false, "kid", "at", "error": {"code", "name", "message"}}
//   where "at" is the Unix time (seconds, float) the verification finished.
// Exits when stdin closes and every pending verification has been answered.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

import { createRemoteJWKSet, customFetch, decodeProtectedHeader, jwtVerify } from 'jose';

function fatal(message) {
  process.stdout.write(`${JSON.stringify({ fatal: message })}\n`);
  process.exit(2);
}

const env = process.env;
for (const name of ['JWKS_URI', 'ISSUER', 'AUDIENCE', 'CACHE_MAX_AGE_MS']) {
  if (!env[name]) fatal(`missing environment variable ${name}`);
}
const cacheMaxAge = Number(env.CACHE_MAX_AGE_MS);
const cooldownDuration = Number(env.COOLDOWN_MS ?? env.CACHE_MAX_AGE_MS);
if (!Number.isFinite(cacheMaxAge) || cacheMaxAge <= 0) fatal('CACHE_MAX_AGE_MS must be a positive number');
if (!Number.isFinite(cooldownDuration) || cooldownDuration < 0) fatal('COOLDOWN_MS must be a non-negative number');

const fetches = [];

// Counts and describes every JWKS fetch jose makes (it never fetches per token when the cache works).
async function countingFetch(url, options) {
  const startedAt = Date.now() / 1000;
  const response = await fetch(url, options);
  const entry = {
    at: Date.now() / 1000,
    started_at: startedAt,
    status: response.status,
    cache_control: response.headers.get('cache-control'),
    etag: response.headers.get('etag'),
  };
  try {
    entry.kids = (await response.clone().json()).keys.map((k) => k.kid);
  } catch {
    entry.kids = null;
  }
  fetches.push(entry);
  return response;
}

const JWKS = createRemoteJWKSet(new URL(env.JWKS_URI), {
  cacheMaxAge,
  cooldownDuration,
  timeoutDuration: 10_000,
  [customFetch]: countingFetch,
});

const options = { issuer: env.ISSUER, audience: env.AUDIENCE, algorithms: ['RS256'], typ: 'at+jwt' };

function write(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function headerKid(token) {
  try {
    return decodeProtectedHeader(token).kid ?? null;
  } catch {
    return null;
  }
}

async function verify(job) {
  try {
    const { protectedHeader } = await jwtVerify(job.token, JWKS, { ...options, clockTolerance: job.tolerance ?? 0 });
    write({ id: job.id, ok: true, kid: protectedHeader.kid, at: Date.now() / 1000 });
  } catch (err) {
    write({
      id: job.id,
      ok: false,
      kid: headerKid(job.token),
      at: Date.now() / 1000,
      error: { code: err?.code ?? null, name: err?.name ?? null, message: String(err?.message ?? err) },
    });
  }
}

function version() {
  const require = createRequire(import.meta.url);
  return JSON.parse(readFileSync(require.resolve('jose/package.json'), 'utf8')).version;
}

const pending = new Set();
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on('line', (line) => {
  if (!line.trim()) return;
  let job;
  try {
    job = JSON.parse(line);
  } catch {
    write({ ok: false, error: { code: 'BAD_INPUT', message: 'not a JSON line' } });
    return;
  }
  if (job.op === 'stats') {
    write({ stats: { fetches, cache_max_age_ms: cacheMaxAge, cooldown_ms: cooldownDuration } });
    return;
  }
  const task = verify(job).finally(() => pending.delete(task));
  pending.add(task);
});
lines.on('close', async () => {
  await Promise.allSettled([...pending]);
  process.exit(0);
});

write({ ready: true, jose: version(), cache_max_age_ms: cacheMaxAge, cooldown_ms: cooldownDuration });
