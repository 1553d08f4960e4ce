// Friends through nakama-js: invites, accept, delete, block, state filter, paging.
// States: 0 FRIEND, 1 INVITE_SENT, 2 INVITE_RECEIVED, 3 BLOCKED (NAKAMA-SURFACE §1.3).
// Listing order is (state, creation of the edge), as in Nakama's ListFriends.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { startServer } from "../lib/server.mjs";
import { must, newClient, newUser, randomUsername } from "../lib/client.mjs";

const FRIEND = 0;
const INVITE_SENT = 1;
const INVITE_RECEIVED = 2;
const BLOCKED = 3;

let server;
let client;

before(async () => {
  server = await startServer();
  client = newClient(server);
});

after(async () => {
  await server?.stop();
});

/** listFriends as `session` (limit 100, optional state) → [{id, username, state}]. */
async function friendsOf(session, state) {
  const res = await must(
    `listFriends(state=${state}) for ${session.username}`,
    client.listFriends(session, state, 100),
  );
  assert.ok(Array.isArray(res.friends), `listFriends should return friends[]: ${JSON.stringify(res)}`);
  return res.friends.map((f) => ({ id: f.user?.id, username: f.user?.username, state: f.state }));
}

/** The state `session` sees for `userId`, or undefined if not listed. */
async function stateFor(session, userId) {
  const list = await friendsOf(session);
  const hits = list.filter((f) => f.id === userId);
  assert.ok(hits.length <= 1, `user ${userId} listed more than once: ${JSON.stringify(list)}`);
  return hits[0]?.state;
}

describe("invites and acceptance", () => {
  test("A adds B: A sees state 1, B sees state 2; B adds A: both see state 0", async () => {
    const a = await newUser(client);
    const b = await newUser(client);
    const ok = await must("A addFriends([B])", client.addFriends(a.session, [b.session.user_id]));
    assert.equal(ok, true, "addFriends should resolve true");

    const aList = await friendsOf(a.session);
    assert.deepEqual(
      aList,
      [{ id: b.session.user_id, username: b.session.username, state: INVITE_SENT }],
      "A's list after inviting B (state 1 = invite sent)",
    );
    const bList = await friendsOf(b.session);
    assert.deepEqual(
      bList,
      [{ id: a.session.user_id, username: a.session.username, state: INVITE_RECEIVED }],
      "B's list after A's invite (state 2 = invite received)",
    );

    await must("B addFriends([A]) (accept)", client.addFriends(b.session, [a.session.user_id]));
    assert.equal(await stateFor(a.session, b.session.user_id), FRIEND, "A sees B as friend (state 0, present in JSON)");
    assert.equal(await stateFor(b.session, a.session.user_id), FRIEND, "B sees A as friend (state 0, present in JSON)");
  });

  test("adding by username works like adding by id", async () => {
    const a = await newUser(client);
    const b = await newUser(client, { username: randomUsername("fb") });
    await must("A addFriends(usernames=[B])", client.addFriends(a.session, undefined, [b.session.username]));
    assert.equal(await stateFor(a.session, b.session.user_id), INVITE_SENT, "A → B invite by username");
    assert.equal(await stateFor(b.session, a.session.user_id), INVITE_RECEIVED, "B got the invite");
  });

  test("adding the same user twice keeps a single invite", async () => {
    const a = await newUser(client);
    const b = await newUser(client);
    await must("A adds B", client.addFriends(a.session, [b.session.user_id]));
    await must("A adds B again", client.addFriends(a.session, [b.session.user_id]));
    const list = await friendsOf(a.session);
    assert.equal(list.length, 1, `one edge expected: ${JSON.stringify(list)}`);
    assert.equal(list[0].state, INVITE_SENT, "still an invite");
  });

  test("edge_count counts invites and friends", async () => {
    const a = await newUser(client);
    const b = await newUser(client);
    await must("A adds B", client.addFriends(a.session, [b.session.user_id]));
    const accA = await must("getAccount A", client.getAccount(a.session));
    const accB = await must("getAccount B", client.getAccount(b.session));
    // edge_count is int32, a plain JSON number.
    assert.equal(accA.user?.edge_count, 1, "A's edge_count after inviting B");
    assert.equal(accB.user?.edge_count, 1, "B's edge_count after A's invite");
  });
});

describe("delete", () => {
  test("deleteFriends removes the friendship on both sides", async () => {
    const a = await newUser(client);
    const b = await newUser(client);
    await must("A adds B", client.addFriends(a.session, [b.session.user_id]));
    await must("B adds A", client.addFriends(b.session, [a.session.user_id]));
    assert.equal(await stateFor(a.session, b.session.user_id), FRIEND, "friends before delete");

    const ok = await must("A deleteFriends([B])", client.deleteFriends(a.session, [b.session.user_id]));
    assert.equal(ok, true, "deleteFriends should resolve true");
    assert.deepEqual(await friendsOf(a.session), [], "A's list after deleting B");
    assert.deepEqual(await friendsOf(b.session), [], "B's list after A deleted B");
  });

  test("deleting a pending invite cancels it for both", async () => {
    const a = await newUser(client);
    const b = await newUser(client);
    await must("A adds B", client.addFriends(a.session, [b.session.user_id]));
    await must("B rejects (deleteFriends by username)", client.deleteFriends(b.session, undefined, [a.session.username]));
    assert.deepEqual(await friendsOf(a.session), [], "A's list after B rejected");
    assert.deepEqual(await friendsOf(b.session), [], "B's list after rejecting");
  });
});

describe("block", () => {
  test("blockFriends gives state 3 to the blocker and removes the edge for the blocked user", async () => {
    const a = await newUser(client);
    const b = await newUser(client);
    await must("A adds B", client.addFriends(a.session, [b.session.user_id]));
    await must("B adds A", client.addFriends(b.session, [a.session.user_id]));

    const ok = await must("A blockFriends([B])", client.blockFriends(a.session, [b.session.user_id]));
    assert.equal(ok, true, "blockFriends should resolve true");
    assert.equal(await stateFor(a.session, b.session.user_id), BLOCKED, "A sees B as blocked (state 3)");
    assert.equal(await stateFor(b.session, a.session.user_id), undefined, "B no longer lists A");

    // A blocked user cannot re-invite the blocker.
    await must("B adds A after being blocked (accepted but ignored)", client.addFriends(b.session, [a.session.user_id]));
    assert.equal(await stateFor(b.session, a.session.user_id), undefined, "B's invite to its blocker is ignored");
    assert.equal(await stateFor(a.session, b.session.user_id), BLOCKED, "A still has B blocked");
  });

  test("blocking a stranger creates a blocked edge only on the blocker's side", async () => {
    const a = await newUser(client);
    const b = await newUser(client);
    await must("A blocks B", client.blockFriends(a.session, [b.session.user_id]));
    assert.equal(await stateFor(a.session, b.session.user_id), BLOCKED, "A sees B as blocked");
    assert.deepEqual(await friendsOf(b.session), [], "B lists nobody");
  });
});

describe("listing", () => {
  test("the state filter returns only edges in that state; unfiltered is ordered by state", async () => {
    const a = await newUser(client);
    const friend = await newUser(client);
    const invited = await newUser(client);
    const inviter = await newUser(client);
    const blocked = await newUser(client);

    await must("A invites friend", client.addFriends(a.session, [friend.session.user_id]));
    await must("friend accepts", client.addFriends(friend.session, [a.session.user_id]));
    await must("A invites invited", client.addFriends(a.session, [invited.session.user_id]));
    await must("inviter invites A", client.addFriends(inviter.session, [a.session.user_id]));
    await must("A blocks blocked", client.blockFriends(a.session, [blocked.session.user_id]));

    const expected = [
      [FRIEND, friend],
      [INVITE_SENT, invited],
      [INVITE_RECEIVED, inviter],
      [BLOCKED, blocked],
    ];
    for (const [state, who] of expected) {
      const list = await friendsOf(a.session, state);
      assert.deepEqual(
        list.map((f) => [f.id, f.state]),
        [[who.session.user_id, state]],
        `listFriends(state=${state}) should hold exactly that user`,
      );
    }

    const all = await friendsOf(a.session);
    assert.deepEqual(
      all.map((f) => [f.id, f.state]),
      expected.map(([state, who]) => [who.session.user_id, state]),
      "unfiltered listFriends is ordered by state",
    );
  });

  test("a cursor pages through friends with limit 1", async () => {
    const a = await newUser(client);
    const others = [await newUser(client), await newUser(client), await newUser(client)];
    for (const o of others) {
      await must("A invites", client.addFriends(a.session, [o.session.user_id]));
    }
    const seen = [];
    let cursor;
    for (let page = 0; page < 10; page++) {
      const res = await must(
        `listFriends page ${page} (limit 1)`,
        client.listFriends(a.session, undefined, 1, cursor),
      );
      assert.ok(res.friends.length <= 1, `page ${page} holds at most 1 friend`);
      seen.push(...res.friends.map((f) => f.user.id));
      cursor = res.cursor;
      if (!cursor) break;
    }
    assert.deepEqual(
      seen,
      others.map((o) => o.session.user_id),
      "all invites, in the order they were sent",
    );
    assert.ok(!cursor, "last page has an empty cursor");
  });
});
