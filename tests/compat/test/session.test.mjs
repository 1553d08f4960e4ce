// Session refresh and logout through nakama-js (NAKAMA-SURFACE §4).

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { startServer } from "../lib/server.mjs";
import { Session, expectStatus, must, newClient, newUser, sleep } from "../lib/client.mjs";

let server;
let client;

before(async () => {
  server = await startServer();
  client = newClient(server);
});

after(async () => {
  await server?.stop();
});

/** Waits until the wall clock is in a later second than `sinceMs` (JWT exp is in seconds). */
async function nextSecond(sinceMs) {
  // A deliberate passage of time, not a readiness wait: a refreshed token only differs
  // from the old one once `exp` (whole seconds) has moved on.
  const target = (Math.floor(sinceMs / 1000) + 1) * 1000 + 100;
  const wait = target - Date.now();
  if (wait > 0) await sleep(wait);
}

test("sessionRefresh returns a new token for the same user", async () => {
  const { session } = await newUser(client);
  const issuedAt = Date.now();
  const oldToken = session.token;
  const oldRefresh = session.refresh_token;
  const oldExp = session.expires_at;
  const userId = session.user_id;
  await nextSecond(issuedAt);

  // nakama-js updates the Session object in place and returns it.
  const refreshed = await must("sessionRefresh", client.sessionRefresh(session));
  assert.notEqual(refreshed.token, oldToken, "refresh after >=1 s should give a different token");
  assert.equal(refreshed.user_id, userId, "refreshed token should carry the same uid");
  assert.equal(refreshed.username, session.username, "refreshed token should carry the same usn");
  assert.ok(
    refreshed.expires_at > oldExp,
    `refreshed exp ${refreshed.expires_at} should be later than ${oldExp}`,
  );
  assert.ok(refreshed.refresh_token, "refresh should return a refresh token too");
  assert.notEqual(refreshed.refresh_token, oldRefresh, "refresh token should be renewed too");

  const account = await must("getAccount with refreshed token", client.getAccount(refreshed));
  assert.equal(account.user?.id, userId, "refreshed token should work for getAccount");
});

test("sessionRefresh vars replace the session vars", async () => {
  const { session } = await newUser(client, { vars: { mode: "one" } });
  assert.deepEqual(session.vars, { mode: "one" }, "vars at authenticate");
  await must("sessionRefresh with vars", client.sessionRefresh(session, { mode: "two", x: "y" }));
  assert.deepEqual(session.vars, { mode: "two", x: "y" }, "vars after refresh with new vars");
});

test("a restored session (token strings only) works", async () => {
  const { session } = await newUser(client);
  const restored = Session.restore(session.token, session.refresh_token);
  const account = await must("getAccount with restored session", client.getAccount(restored));
  assert.equal(account.user?.id, session.user_id, "restored session should identify the user");
});

test("sessionLogout revokes the token and the refresh token", async () => {
  const { session } = await newUser(client);
  await must("getAccount before logout", client.getAccount(session));

  const ok = await must(
    "sessionLogout",
    client.sessionLogout(session, session.token, session.refresh_token),
  );
  assert.equal(ok, true, "sessionLogout should resolve true");

  await expectStatus("getAccount after logout", client.getAccount(session), 401, 16);
  await expectStatus("sessionRefresh after logout", client.sessionRefresh(session), 401, 16);
});

test("logout of one session leaves another session of the same user working", async () => {
  const { session, customId } = await newUser(client);
  const other = await must("second login", client.authenticateCustom(customId, false));
  await must("logout first", client.sessionLogout(session, session.token, session.refresh_token));
  await expectStatus("getAccount with logged-out token", client.getAccount(session), 401, 16);
  const account = await must("getAccount with the other session", client.getAccount(other));
  assert.equal(account.user?.id, session.user_id, "other session should still work");
});

test("a garbage bearer token is rejected with 401", async () => {
  const { session } = await newUser(client);
  // Keep a well-formed JWT shape (nakama-js parses it client-side) but break the signature.
  const parts = session.token.split(".");
  const forged = Session.restore(`${parts[0]}.${parts[1]}.AAAA`, session.refresh_token);
  await expectStatus("getAccount with a forged signature", client.getAccount(forged), 401, 16);
});
