// oauth4webapi against a live authserver: RFC 8414 discovery, then a plan of RFC 7009 revocations
// and RFC 7662 introspections. Prints one JSON document on stdout; the pytest test asserts on it.
//
// Input, by environment (never argv, so no secret shows in a process listing):
//   ISSUER                          the issuer URL; discovery must return exactly this issuer
//   CLIENT_ID, CLIENT_SECRET        the client that revokes (client_secret_basic)
//   RS_CLIENT_ID, RS_CLIENT_SECRET  the resource server that introspects (client_secret_basic)
//   PLAN                            JSON list of steps: {"op": "revoke" | "introspect", "token": "...",
//                                   "hint"?: "access_token" | "refresh_token", "label"?: "...",
//                                   "by"?: "client" (introspect as the revoking client, which holds
//                                   the refresh tokens: only their holder may introspect them)}
// Output: {"oauth4webapi": version, "metadata": {...}, "steps": [{label, op, ok, result | error}]}.
// Exit status: 0 when discovery worked and every step ran (a step may still report an error),
// 2 on bad input or a failed discovery.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import * as oauth from 'oauth4webapi';

const TIMEOUT_MS = 10_000;

function fail(message, extra = {}) {
  process.stdout.write(`${JSON.stringify({ fatal: message, ...extra })}\n`);
  process.exit(2);
}

function describe(err, raw) {
  const out = { name: err?.name, message: err?.message };
  if (raw !== undefined) out.raw_body = raw.slice(0, 300);
  if (err?.code) out.code = err.code;
  if (err instanceof oauth.ResponseBodyError) {
    out.status = err.status;
    out.error = err.error;
    out.error_description = err.error_description;
  } else if (err?.cause instanceof Response) {
    out.status = err.cause.status;
  }
  return out;
}

function version() {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve('oauth4webapi/package.json');
  return JSON.parse(readFileSync(pkg, 'utf8')).version;
}

const env = process.env;
for (const name of ['ISSUER', 'CLIENT_ID', 'CLIENT_SECRET', 'RS_CLIENT_ID', 'RS_CLIENT_SECRET', 'PLAN']) {
  if (!env[name]) fail(`missing environment variable ${name}`);
}
let plan;
try {
  plan = JSON.parse(env.PLAN);
} catch (err) {
  fail(`PLAN is not JSON: ${err.message}`);
}
if (!Array.isArray(plan)) fail('PLAN must be a JSON list');

const issuer = new URL(env.ISSUER);
// The test server is plain http on loopback; oauth4webapi refuses http unless told otherwise.
const http = { [oauth.allowInsecureRequests]: true };
const options = () => ({ ...http, signal: AbortSignal.timeout(TIMEOUT_MS) });

let as;
try {
  const response = await oauth.discoveryRequest(issuer, { ...options(), algorithm: 'oauth2' });
  as = await oauth.processDiscoveryResponse(issuer, response);
} catch (err) {
  fail('discovery failed', { error: describe(err) });
}

const revoker = { client_id: env.CLIENT_ID };
const revokerAuth = oauth.ClientSecretBasic(env.CLIENT_SECRET);
const resourceServer = { client_id: env.RS_CLIENT_ID };
const resourceServerAuth = oauth.ClientSecretBasic(env.RS_CLIENT_SECRET);

const steps = [];
for (const [index, step] of plan.entries()) {
  const label = step.label ?? `${index}:${step.op}`;
  const additionalParameters = step.hint ? { token_type_hint: step.hint } : undefined;
  let raw; // the body as received, reported only when oauth4webapi rejects the response
  try {
    if (step.op === 'revoke') {
      const response = await oauth.revocationRequest(as, revoker, revokerAuth, step.token,
        { ...options(), additionalParameters });
      const status = response.status;
      raw = await response.clone().text();
      // Resolves with undefined on success; throws on an OAuth error or a non-200 answer.
      const result = await oauth.processRevocationResponse(response);
      steps.push({ label, op: step.op, ok: true, status, result: result ?? null });
    } else if (step.op === 'introspect') {
      const [asker, askerAuth] = step.by === 'client' ? [revoker, revokerAuth] : [resourceServer, resourceServerAuth];
      const response = await oauth.introspectionRequest(as, asker, askerAuth, step.token,
        { ...options(), additionalParameters });
      const status = response.status;
      raw = await response.clone().text();
      const result = await oauth.processIntrospectionResponse(as, asker, response);
      steps.push({ label, op: step.op, ok: true, status, result });
    } else {
      fail(`unknown op ${JSON.stringify(step.op)} in step ${label}`);
    }
  } catch (err) {
    steps.push({ label, op: step.op, ok: false, error: describe(err, raw) });
  }
}

process.stdout.write(`${JSON.stringify({ oauth4webapi: version(), metadata: as, steps })}\n`);
