// Accounts and users through nakama-js: getAccount defaults, updateAccount, link and
// unlink, getUsers, deleteAccount (NAKAMA-SURFACE §1.2, §1.3).

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { startServer } from "../lib/server.mjs";
import {
  RFC3339_UTC,
  expectStatus,
  must,
  newClient,
  newUser,
  randomEmail,
  randomId,
  randomUsername,
} from "../lib/client.mjs";

let server;
let client;

before(async () => {
  server = await startServer();
  client = newClient(server);
});

after(async () => {
  await server?.stop();
});

test("getAccount returns Nakama's defaults for a new user", async () => {
  const { session, customId } = await newUser(client);
  const account = await must("getAccount", client.getAccount(session));
  const user = account.user;
  assert.ok(user, `account.user should be present: ${JSON.stringify(account)}`);
  assert.equal(user.id, session.user_id, "account.user.id should equal session.user_id");
  assert.equal(user.username, session.username, "account.user.username should equal session.username");
  assert.equal(account.wallet, "{}", "account.wallet should default to the JSON string \"{}\"");
  assert.equal(user.metadata, "{}", "account.user.metadata should default to the JSON string \"{}\"");
  assert.equal(user.lang_tag, "en", "account.user.lang_tag should default to \"en\"");
  assert.equal(account.custom_id, customId, "account.custom_id should be the custom id used");
  assert.equal(account.email, undefined, "no email was linked (empty fields are omitted)");
  assert.ok(
    account.devices === undefined || account.devices.length === 0,
    `no devices were linked: ${JSON.stringify(account.devices)}`,
  );
  assert.match(user.create_time ?? "", RFC3339_UTC, "user.create_time should be RFC 3339 UTC");
  assert.match(user.update_time ?? "", RFC3339_UTC, "user.update_time should be RFC 3339 UTC");
  assert.equal(user.display_name, undefined, "display_name unset (omitted)");
  assert.equal(user.edge_count, undefined, "edge_count 0 is omitted");
});

test("updateAccount changes the profile fields getAccount returns", async () => {
  const { session } = await newUser(client);
  const update = {
    display_name: "Display Name",
    location: "Lisbon",
    timezone: "Europe/Lisbon",
    lang_tag: "pt",
    avatar_url: "https://example.com/a.png",
  };
  const ok = await must("updateAccount", client.updateAccount(session, update));
  assert.equal(ok, true, "updateAccount should resolve true");

  const { user } = await must("getAccount after update", client.getAccount(session));
  for (const [field, value] of Object.entries(update)) {
    assert.equal(user[field], value, `account.user.${field} after updateAccount`);
  }
  assert.equal(user.username, session.username, "username unchanged when not sent");
});

test("updateAccount changes the username; a username taken by another user gives 409", async () => {
  const a = await newUser(client);
  const b = await newUser(client);
  const wanted = randomUsername("upd");
  await must("updateAccount(username) for A", client.updateAccount(a.session, { username: wanted }));
  const { user } = await must("getAccount A", client.getAccount(a.session));
  assert.equal(user.username, wanted, "A's username after updateAccount");

  await expectStatus(
    "updateAccount(username taken by A) for B",
    client.updateAccount(b.session, { username: wanted }),
    409,
    6,
  );
  const bAccount = await must("getAccount B", client.getAccount(b.session));
  assert.equal(bAccount.user.username, b.session.username, "B keeps its username after the 409");
});

test("linkDevice then authenticateDevice(create=false) gives the same user; unlinkDevice removes it", async () => {
  const { session } = await newUser(client);
  const deviceId = randomId("device");
  assert.equal(await must("linkDevice", client.linkDevice(session, { id: deviceId })), true);

  const account = await must("getAccount after linkDevice", client.getAccount(session));
  const ids = (account.devices ?? []).map((d) => d.id);
  assert.ok(ids.includes(deviceId), `account.devices should include ${deviceId}: ${JSON.stringify(account.devices)}`);

  const viaDevice = await must(
    "authenticateDevice(linked, create=false)",
    client.authenticateDevice(deviceId, false),
  );
  assert.equal(viaDevice.user_id, session.user_id, "linked device should log into the same user");
  assert.equal(viaDevice.created, false, "logging in through a linked device creates nothing");

  assert.equal(await must("unlinkDevice", client.unlinkDevice(session, { id: deviceId })), true);
  const afterUnlink = await must("getAccount after unlinkDevice", client.getAccount(session));
  const idsAfter = (afterUnlink.devices ?? []).map((d) => d.id);
  assert.ok(!idsAfter.includes(deviceId), `device should be gone: ${JSON.stringify(afterUnlink.devices)}`);
  await expectStatus(
    "authenticateDevice(unlinked, create=false)",
    client.authenticateDevice(deviceId, false),
    404,
    5,
  );
});

test("linkDevice with a device that belongs to another user is rejected", async () => {
  const a = await newUser(client);
  const b = await newUser(client);
  const deviceId = randomId("device");
  await must("linkDevice A", client.linkDevice(a.session, { id: deviceId }));
  // Nakama: AlreadyExists "Device ID is already in use." → 409.
  await expectStatus(
    "linkDevice of A's device by B",
    client.linkDevice(b.session, { id: deviceId }),
    409,
    6,
  );
});

test("linkEmail sets the email and allows email login", async () => {
  const { session } = await newUser(client);
  const email = randomEmail();
  const password = "linked-password";
  assert.equal(await must("linkEmail", client.linkEmail(session, { email, password })), true);

  const account = await must("getAccount after linkEmail", client.getAccount(session));
  assert.equal(account.email, email, "account.email after linkEmail");

  const viaEmail = await must(
    "authenticateEmail(linked, create=false)",
    client.authenticateEmail(email, password, false),
  );
  assert.equal(viaEmail.user_id, session.user_id, "linked email should log into the same user");
  await expectStatus(
    "authenticateEmail(linked, wrong password)",
    client.authenticateEmail(email, "not-the-password", false),
    401,
    16,
  );
});

test("getUsers by ids and by usernames", async () => {
  const a = await newUser(client, { username: randomUsername("ga") });
  const b = await newUser(client, { username: randomUsername("gb") });
  const c = await newUser(client, { username: randomUsername("gc") });

  const byIds = await must(
    "getUsers(ids)",
    client.getUsers(a.session, [b.session.user_id, c.session.user_id]),
  );
  const idSet = new Set(byIds.users.map((u) => u.id));
  assert.equal(byIds.users.length, 2, `getUsers(ids) should return 2 users: ${JSON.stringify(byIds)}`);
  assert.ok(idSet.has(b.session.user_id) && idSet.has(c.session.user_id), "getUsers(ids) ids");
  for (const u of byIds.users) {
    const expected = u.id === b.session.user_id ? b.session.username : c.session.username;
    assert.equal(u.username, expected, `username of user ${u.id}`);
    // nakama-js parses user.metadata into an object for getUsers.
    assert.deepEqual(u.metadata, {}, `metadata of user ${u.id} should be {}`);
    assert.equal(u.lang_tag, "en", `lang_tag of user ${u.id}`);
  }

  const byNames = await must(
    "getUsers(usernames)",
    client.getUsers(a.session, undefined, [b.session.username, c.session.username]),
  );
  assert.deepEqual(
    byNames.users.map((u) => u.username).sort(),
    [b.session.username, c.session.username].sort(),
    "getUsers(usernames) usernames",
  );
  for (const u of byNames.users) {
    const expected = u.username === b.session.username ? b.session.user_id : c.session.user_id;
    assert.equal(u.id, expected, `id of user ${u.username}`);
  }

  const mixed = await must(
    "getUsers(ids + usernames, overlapping)",
    client.getUsers(a.session, [b.session.user_id], [b.session.username, c.session.username]),
  );
  assert.deepEqual(
    mixed.users.map((u) => u.id).sort(),
    [b.session.user_id, c.session.user_id].sort(),
    "getUsers with overlapping ids and usernames should return each user once",
  );

  const none = await must(
    "getUsers(unknown id)",
    client.getUsers(a.session, ["00000000-0000-4000-8000-000000000001"]),
  );
  assert.deepEqual(none.users, [], "an unknown id returns no users");
});

test("deleteAccount: the user can no longer log in", async () => {
  const { session, customId } = await newUser(client);
  assert.equal(await must("deleteAccount", client.deleteAccount(session)), true);
  await expectStatus(
    "authenticateCustom(deleted user, create=false)",
    client.authenticateCustom(customId, false),
    404,
    5,
  );
  const { session: fresh } = await newUser(client);
  const users = await must("getUsers(deleted id)", client.getUsers(fresh, [session.user_id]));
  assert.deepEqual(users.users, [], "a deleted user is not returned by getUsers");
});
