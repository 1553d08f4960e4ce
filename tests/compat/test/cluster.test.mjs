// nakama-js clients connected to different nodes of one three-node cluster see each
// other's writes, share sessions, and see logouts everywhere.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { startCluster } from "../lib/cluster.mjs";
import { must, newClient, newUser, randomId } from "../lib/client.mjs";

let cluster;
let clients;

before(async () => {
  cluster = await startCluster(3);
  clients = cluster.servers.map((s) => newClient(s));
});

after(async () => {
  await cluster?.stop();
});

test("a public object written through node 1 is read through nodes 2 and 3", async () => {
  const a = await newUser(clients[0]);
  const b = await newUser(clients[2]);
  const collection = randomId("col");
  const acks = await must(
    "writeStorageObjects via n1",
    clients[0].writeStorageObjects(a.session, [
      { collection, key: "shared", value: { hello: "cluster" }, permission_read: 2, permission_write: 1 },
    ]),
  );
  for (const c of [clients[1], clients[2]]) {
    const res = await must(
      "readStorageObjects via another node",
      c.readStorageObjects(b.session, { object_ids: [{ collection, key: "shared", user_id: a.session.user_id }] }),
    );
    assert.equal(res.objects.length, 1);
    assert.deepEqual(res.objects[0].value, { hello: "cluster" });
    assert.equal(res.objects[0].version, acks.acks[0].version);
  }
});

test("a session issued by node 1 works on node 3, and updates are seen on node 2", async () => {
  const a = await newUser(clients[0]);
  await must("updateAccount via n3", clients[2].updateAccount(a.session, { display_name: "Across Nodes" }));
  const acc = await must("getAccount via n2", clients[1].getAccount(a.session));
  assert.equal(acc.user.id, a.session.user_id);
  assert.equal(acc.user.display_name, "Across Nodes");
});

test("friend invites cross nodes", async () => {
  const a = await newUser(clients[0]);
  const b = await newUser(clients[1]);
  await must("addFriends via n1", clients[0].addFriends(a.session, [b.session.user_id]));
  const list = await must("listFriends via n3", clients[2].listFriends(b.session));
  assert.equal(list.friends.length, 1);
  assert.equal(list.friends[0].user.id, a.session.user_id);
  assert.equal(list.friends[0].state, 2);
});

test("a logout through node 3 is honoured by node 1 within 1 s", async () => {
  const a = await newUser(clients[0]);
  await must("sessionLogout via n3", clients[2].sessionLogout(a.session, a.session.token, a.session.refresh_token));
  // Revocation is replicated through Raft; other nodes apply it within a heartbeat or two.
  const deadline = Date.now() + 1000;
  for (;;) {
    try {
      await clients[0].getAccount(a.session);
    } catch (e) {
      assert.equal(e.status, 401, "a rejection other than 401");
      break;
    }
    assert.ok(Date.now() < deadline, "node 1 still accepts the token 1 s after the logout");
    await new Promise((r) => setTimeout(r, 20));
  }
});
