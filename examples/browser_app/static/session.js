// The login session of this tab, against authserver's JSON API in cookie mode (README, "Browser apps").
//
// The access token lives only in the module variable below: never in localStorage, sessionStorage,
// IndexedDB or a cookie script can read, so an injected script cannot carry it off for later (the
// OAuth 2.0 for Browser-Based Applications draft, "token-mediating backend"). The refresh token is
// an HttpOnly cookie this script never sees; the browser sends it to /login, /auth/refresh and
// /auth/logout, and every such call carries `X-CSRF: 1` with a JSON body, which a cross-site form or
// a simple request cannot (the server's CSRF rules).
//
// Tabs share the one cookie, so they coordinate: a Web Lock lets one tab refresh at a time (each then
// presents the cookie its predecessor's answer set), and a BroadcastChannel tells every tab at once
// when one logs out.

const LOCK = "authserver-refresh";
const CHANNEL = "authserver-session";
const MAX_BACKOFF_MS = 30_000;

let accessToken = null; // the only copy: this tab's memory
let expiresAt = 0; // ms since the epoch
let refreshAt = 0; // when this tab refreshes (before expiresAt)
let refreshTimer = null;
let inFlight = null; // this tab's pending refresh, shared by every caller
let epoch = 0; // bumped on logout: an answer to an older request is ignored
let config = null;
const listeners = new Set();
const channel = new BroadcastChannel(CHANNEL);

/** A refusal that is not "logged out": shown, the session kept. */
export class SessionError extends Error {}

export function configure({ issuer }) {
  config = { issuer: issuer.replace(/\/+$/, "") };
}

/** `listener({signedIn, expiresAt, retrying})` on every change. */
export function onChange(listener) {
  listeners.add(listener);
}

function notify(extra = {}) {
  const state = { signedIn: accessToken !== null, expiresAt, retrying: false, ...extra };
  for (const listener of listeners) listener(state);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function post(path, body) {
  return fetch(config.issuer + path, {
    method: "POST",
    credentials: "include", // the refresh cookie: same-site with the server, SameSite=Strict
    cache: "no-store",
    headers: { "Content-Type": "application/json", "X-CSRF": "1" },
    body: JSON.stringify(body),
  });
}

/**
 * `send()` until it answers something other than a network error, a 5xx or a 429, waiting longer
 * each time (with jitter, and at least Retry-After); gives up after `attempts` and throws.
 * Only the answer decides what happens next: a network error never means "logged out".
 */
export async function withRetry(send, attempts = Infinity) {
  let backoff = 250;
  for (let attempt = 1; ; attempt++) {
    let reply = null;
    try {
      reply = await send();
    } catch (error) {
      if (!(error instanceof TypeError)) throw error; // fetch's network error is a TypeError
    }
    if (reply && reply.status < 500 && reply.status !== 429) return reply;
    if (attempt >= attempts) throw new SessionError(reply ? `the server answered ${reply.status}` : "network error");
    const retryAfter = Number(reply?.headers.get("Retry-After")) * 1000 || 0;
    notify({ retrying: true });
    await sleep(Math.max(backoff, retryAfter) + Math.random() * 100);
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
  }
}

async function errorCode(reply) {
  try {
    return (await reply.json()).error ?? null;
  } catch {
    return null;
  }
}

function schedule(expiresIn) {
  clearTimeout(refreshTimer);
  // Early enough that a slow answer or a few retries still land before exp: a quarter of the life, at
  // most 30 s, and at least 1.5 s, for exp is in whole seconds (RFC 7519 NumericDate) and may fall up
  // to 1 s before receipt + expiresIn.
  const lead = Math.min(30, Math.max(expiresIn / 4, Math.min(1.5, expiresIn / 2)));
  refreshAt = Date.now() + Math.max(0, expiresIn - lead) * 1000;
  refreshTimer = setTimeout(() => refresh().catch(() => {}), refreshAt - Date.now());
}

async function accept(reply) {
  const body = await reply.json();
  accessToken = body.accessToken;
  expiresAt = Date.now() + body.expiresIn * 1000;
  schedule(body.expiresIn);
  notify();
}

function end(tellOtherTabs) {
  epoch++;
  accessToken = null;
  expiresAt = 0;
  refreshAt = 0;
  clearTimeout(refreshTimer);
  if (tellOtherTabs) channel.postMessage({ type: "logout" });
  notify();
}

/** Sign in; false for wrong credentials (the server's one invalid_grant for all of them). */
export async function login(username, password) {
  const started = epoch;
  const reply = await navigator.locks.request(LOCK, () => withRetry(() => post("/login", { username, password }), 4));
  if (started !== epoch) return false;
  if (reply.ok) {
    await accept(reply);
    channel.postMessage({ type: "login" });
    return true;
  }
  const code = await errorCode(reply);
  if (code === "invalid_grant") return false;
  throw new SessionError(`login refused: ${reply.status} ${code ?? ""}`.trim());
}

async function rotate() {
  const started = epoch;
  const reply = await withRetry(() => post("/auth/refresh", {}));
  if (started !== epoch) return false; // logged out meanwhile
  if (reply.ok) {
    await accept(reply);
    return true;
  }
  const code = await errorCode(reply);
  if (code === "invalid_grant") {
    // The family is over (expired, revoked, reused) and the server cleared the cookie, or there was
    // no cookie to present (a first visit).
    if (accessToken !== null) end(true);
    else notify();
    return false;
  }
  throw new SessionError(`refresh refused: ${reply.status} ${code ?? ""}`.trim());
}

/**
 * A new access token through the refresh cookie: true if this tab is signed in afterwards. One
 * refresh at a time across tabs (the lock); in one tab, every caller shares the pending one.
 */
export function refresh() {
  inFlight ??= navigator.locks.request(LOCK, rotate).finally(() => {
    inFlight = null;
  });
  return inFlight;
}

/** Restore the session on page load: the cookie survives a reload, the access token does not. */
export const restore = refresh;

/** End the token family on the server, then in every tab. */
export async function logout() {
  await navigator.locks.request(LOCK, async () => {
    epoch++;
    try {
      await withRetry(() => post("/auth/logout", {}), 4);
    } catch {
      // Unreachable: this tab forgets its token anyway; the cookie ends with its lifetime.
    }
  });
  end(true);
}

/**
 * `GET url` with the access token; on a 401 refreshes once and tries again. A token about to expire
 * is refreshed first (a tab whose timer a sleeping laptop delayed).
 */
export async function authorizedFetch(url) {
  if (accessToken === null || Date.now() >= refreshAt) {
    if (!(await refresh())) throw new SessionError("signed out");
  }
  const send = () => fetch(url, { headers: { Authorization: `Bearer ${accessToken}` }, cache: "no-store" });
  let reply = await withRetry(send, 4);
  if (reply.status === 401 && (await refresh())) reply = await withRetry(send, 4);
  return reply;
}

channel.onmessage = (event) => {
  if (event.data?.type === "logout") end(false);
  else if (event.data?.type === "login" && accessToken === null) refresh().catch(() => {});
};

// A background tab's timers may be delayed: catch up when it is shown again.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && accessToken !== null && Date.now() >= refreshAt) {
    refresh().catch(() => {});
  }
});
