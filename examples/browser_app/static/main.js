// The page: a login form, the user's data from the resource service, a log-out button.
// Everything the session does is in session.js; this module only draws it.

import * as session from "./session.js";

const $ = (id) => document.getElementById(id);
let resource = null;

function show(state) {
  document.body.dataset.state = state.signedIn ? "signed-in" : "signed-out";
  $("login").hidden = state.signedIn;
  $("session").hidden = !state.signedIn;
  if (state.signedIn) {
    $("expires").textContent = new Date(state.expiresAt).toISOString();
    $("expires").dateTime = $("expires").textContent;
  } else {
    $("data").textContent = "";
  }
  $("status").textContent = state.retrying ? "the server is unreachable: retrying…" : state.signedIn ? "signed in" : "signed out";
}

async function loadData() {
  try {
    const reply = await session.authorizedFetch(`${resource}/user/data`);
    $("data").textContent = reply.ok
      ? JSON.stringify(await reply.json(), null, 2)
      : `${reply.status} ${reply.headers.get("WWW-Authenticate") ?? ""}`;
    $("data").dataset.loaded = String(Date.now());
  } catch (error) {
    $("data").textContent = String(error.message ?? error);
  }
}

async function signIn(event) {
  event.preventDefault(); // never a form submission: the CSP's form-action is 'none'
  $("login-error").textContent = "";
  try {
    if (await session.login($("username").value, $("password").value)) {
      $("password").value = "";
      await loadData();
    } else {
      $("login-error").textContent = "wrong username or password";
    }
  } catch (error) {
    $("login-error").textContent = String(error.message ?? error);
  }
}

async function start() {
  const config = await (await fetch("config.json", { cache: "no-store" })).json();
  resource = config.resource.replace(/\/+$/, "");
  session.configure(config);
  session.onChange(show);
  $("login").addEventListener("submit", signIn);
  $("load").addEventListener("click", loadData);
  $("logout").addEventListener("click", () => session.logout());
  $("status").textContent = "restoring the session…";
  try {
    if (await session.restore()) await loadData();
  } catch (error) {
    $("status").textContent = String(error.message ?? error);
  }
  if (document.body.dataset.state === "starting") show({ signedIn: false });
}

start();
