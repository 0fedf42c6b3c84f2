// oauth4webapi through the authorization code flow with PKCE and OpenID Connect against a live authserver.
//
// The hand-off with the pytest test (tests/e2e/test_third_party_clients.py), one JSON line each way:
//   1. this script discovers the server and prints {"authorization_url": "..."};
//   2. the test drives the login and consent pages and writes the callback URL (the redirect to
//      REDIRECT_URI with code, state, iss) as one line on stdin;
//   3. this script validates it, redeems the code, reads userinfo and prints one JSON document.
//
// Input, by environment (never argv, so no secret shows in a process listing):
//   ISSUER, CLIENT_ID, CLIENT_SECRET (client_secret_basic; empty or unset: a public client, auth method none),
//   REDIRECT_URI, SCOPE
// Output (step 3): {"oauth4webapi", "metadata", "mixup_refused", "callback", "token", "id_token",
//   "id_token_claims", "userinfo"}. Exit status: 0 when every step passed, 2 otherwise (with {"fatal", "error"}).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

import * as oauth from 'oauth4webapi';

const TIMEOUT_MS = 10_000;

function fail(message, err) {
  const error = err && { name: err.name, message: err.message, code: err.code, error: err.error,
    error_description: err.error_description, status: err.status };
  process.stdout.write(`${JSON.stringify({ fatal: message, error })}\n`);
  process.exit(2);
}

function version() {
  const require = createRequire(import.meta.url);
  return JSON.parse(readFileSync(require.resolve('oauth4webapi/package.json'), 'utf8')).version;
}

async function step(message, fn) {
  try {
    return await fn();
  } catch (err) {
    return fail(message, err);
  }
}

const env = process.env;
for (const name of ['ISSUER', 'CLIENT_ID', 'REDIRECT_URI', 'SCOPE']) {
  if (!env[name]) fail(`missing environment variable ${name}`);
}

const issuer = new URL(env.ISSUER);
// The test server is plain http on loopback; oauth4webapi refuses http unless told otherwise.
const options = () => ({ [oauth.allowInsecureRequests]: true, signal: AbortSignal.timeout(TIMEOUT_MS) });
const client = { client_id: env.CLIENT_ID };
const clientAuth = env.CLIENT_SECRET ? oauth.ClientSecretBasic(env.CLIENT_SECRET) : oauth.None();

// OpenID Connect discovery: /.well-known/openid-configuration, whose issuer must equal ISSUER.
const as = await step('discovery failed', async () =>
  oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...options(), algorithm: 'oidc' })));

const codeVerifier = oauth.generateRandomCodeVerifier();
const codeChallenge = await oauth.calculatePKCECodeChallenge(codeVerifier);
const state = oauth.generateRandomState();
const nonce = oauth.generateRandomNonce();

const authorizationUrl = new URL(as.authorization_endpoint);
for (const [key, value] of Object.entries({
  response_type: 'code', client_id: env.CLIENT_ID, redirect_uri: env.REDIRECT_URI, scope: env.SCOPE,
  state, nonce, code_challenge: codeChallenge, code_challenge_method: 'S256',
})) {
  authorizationUrl.searchParams.set(key, value);
}
process.stdout.write(`${JSON.stringify({ authorization_url: authorizationUrl.href })}\n`);

const lines = createInterface({ input: process.stdin });
const callbackLine = await new Promise((resolve) => { lines.once('line', resolve); lines.once('close', () => resolve('')); });
lines.close();
if (!callbackLine) fail('no callback URL on stdin');
const callback = new URL(callbackLine.trim());

// RFC 9207: the same answer claiming another issuer must be refused (the metadata says iss is always sent).
const forged = new URL(callback.href);
forged.searchParams.set('iss', 'https://mix-up.example');
let mixupRefused = null;
try {
  oauth.validateAuthResponse(as, client, forged, state);
} catch (err) {
  mixupRefused = { name: err.name, code: err.code, message: err.message };
}
if (!mixupRefused) fail('validateAuthResponse accepted an answer from another issuer');

const params = await step('validateAuthResponse refused the callback', () =>
  oauth.validateAuthResponse(as, client, callback, state));

const token = await step('the code grant failed', async () => {
  const response = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, env.REDIRECT_URI,
    codeVerifier, options());
  return oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: nonce, requireIdToken: true });
});
const claims = oauth.getValidatedIdTokenClaims(token);

const userinfo = await step('userinfo failed', async () =>
  oauth.processUserInfoResponse(as, client, claims.sub,
    await oauth.userInfoRequest(as, client, token.access_token, options())));

process.stdout.write(`${JSON.stringify({
  oauth4webapi: version(),
  metadata: as,
  mixup_refused: mixupRefused,
  callback: Object.fromEntries(params),
  client_auth: env.CLIENT_SECRET ? 'client_secret_basic' : 'none',
  token: { token_type: token.token_type, scope: token.scope, expires_in: token.expires_in,
    has_refresh_token: Boolean(token.refresh_token) },
  id_token: token.id_token,
  id_token_claims: claims,
  userinfo,
})}\n`);
