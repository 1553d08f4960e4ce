// Acknowledged writes survive SIGKILL: write, kill -9, restart on the same data dir,
// read back with the same session token (tokens are stateless JWTs) — DESIGN.md
// ("no acknowledged write is lost").

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { startServer } from "../lib/server.mjs";
import { expectStatus, md5Hex, must, newClient, newUser, randomId } from "../lib/client.mjs";

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  await server?.stop();
});

test("account and storage survive SIGKILL and restart; the old token still works", async () => {
  const client = newClient(server);
  const { session, customId } = await newUser(client, { vars: { d: "1" } });
  const collection = randomId("durable");
  const value = { score: 42, tags: ["a", "b"], nested: { ok: true } };
  const profile = { display_name: "Durable Dan", location: "Nowhere", lang_tag: "de" };

  await must("updateAccount", client.updateAccount(session, profile));
  const ack = await must(
    "writeStorageObjects",
    client.writeStorageObjects(session, [
      { collection, key: "k", value, permission_read: 2, permission_write: 1 },
    ]),
  );
  const version = ack.acks?.[0]?.version;
  assert.equal(version, md5Hex(JSON.stringify(value)), "ack version before the crash");

  // Crash right after the acknowledgements, then start again on the same data dir/ports.
  const oldPid = server.proc.pid;
  const exit = await server.kill("SIGKILL");
  assert.equal(exit.signal, "SIGKILL", `server should die from SIGKILL: ${JSON.stringify(exit)}`);
  await server.start();
  assert.notEqual(server.proc.pid, oldPid, "a new process is serving");

  const restarted = newClient(server);
  const account = await must("getAccount with the pre-crash token", restarted.getAccount(session));
  assert.equal(account.user?.id, session.user_id, "same user after restart");
  assert.equal(account.custom_id, customId, "custom id after restart");
  for (const [field, v] of Object.entries(profile)) {
    assert.equal(account.user?.[field], v, `account.user.${field} after restart`);
  }

  const read = await must(
    "readStorageObjects after restart",
    restarted.readStorageObjects(session, {
      object_ids: [{ collection, key: "k", user_id: session.user_id }],
    }),
  );
  assert.equal(read.objects.length, 1, `object should survive the crash: ${JSON.stringify(read)}`);
  const obj = read.objects[0];
  assert.deepEqual(obj.value, value, "value after restart");
  assert.equal(obj.version, version, "version after restart equals the acknowledged version");
  assert.equal(obj.permission_read, 2, "permission_read after restart");
  assert.equal(obj.permission_write, 1, "permission_write after restart");

  // Existing credentials still log in, and new writes work after the restart.
  const again = await must("authenticateCustom(create=false) after restart", restarted.authenticateCustom(customId, false));
  assert.equal(again.user_id, session.user_id, "login after restart finds the same user");
  const ack2 = await must(
    "write after restart with the acknowledged version (OCC)",
    restarted.writeStorageObjects(session, [{ collection, key: "k", value: { score: 43 }, version }]),
  );
  assert.equal(ack2.acks?.[0]?.version, md5Hex(JSON.stringify({ score: 43 })), "OCC write after restart");
});

test("a logout survives SIGKILL and restart (Shoal: revocations are durable)", async () => {
  const client = newClient(server);
  const { session } = await newUser(client);
  await must("sessionLogout", client.sessionLogout(session, session.token, session.refresh_token));
  await server.kill("SIGKILL");
  await server.start();
  // Shoal replicates revocations through Raft (DESIGN.md), so they outlive a crash;
  // upstream Nakama keeps them in memory only.
  await expectStatus(
    "getAccount after restart with a token logged out before the crash",
    newClient(server).getAccount(session),
    401,
    16,
  );
});
