// The realtime socket through nakama-js (`client.createSocket(false, false)`, the text
// adapter) against one node loaded with modules/test/compat_socket (clientrpc.lua,
// match.lua, match_init.lua), the way nakama-js's own socket*.test.ts exercise it.
// Events are awaited with timeouts; "did not arrive" is proven with a later message on the
// same path as a barrier, never by sleeping.

import assert from "node:assert/strict";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { after, afterEach, before, test } from "node:test";
import { WebSocket as RawWebSocket } from "ws";

import { startServer } from "../lib/server.mjs";
import { Session, must, newClient, newUser, randomId } from "../lib/client.mjs";
import {
  call,
  closeSockets,
  expectSocketError,
  namedMatchId,
  newPlayer,
  openSocket,
  text,
} from "../lib/socket.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.join(here, "..", "..", "..", "modules", "test", "compat_socket");

// rtapi.Error.Code
const BAD_INPUT = 3;
const MATCH_NOT_FOUND = 4;
const MATCH_JOIN_REJECTED = 5;
const RUNTIME_FUNCTION_NOT_FOUND = 6;
const RUNTIME_FUNCTION_EXCEPTION = 7;

let server;
let client;

before(async () => {
  server = await startServer({
    extraArgs: ["--runtime.path", fixtures, "--matchmaker.interval_sec", "1"],
  });
  client = newClient(server);
});

afterEach(() => closeSockets());

after(async () => {
  closeSockets();
  await server?.stop();
});

const hex = () => randomUUID().replaceAll("-", "");
const byUser = (id) => (p) => p.user_id === id;

// ------------------------------------------------------------------ connection

test("connect, ping and disconnect", async () => {
  const { session } = await newUser(client);
  const s = await openSocket(client, session);
  assert.equal(s.socket.adapter.isOpen(), true);
  const pong = await call("ping", s.socket.send({ ping: {} }));
  assert.ok(pong.pong, `ping should be answered with pong, got ${JSON.stringify(pong)}`);
  s.socket.disconnect(false);
  assert.equal(s.socket.adapter.isOpen(), false);
  // The same session connects again.
  const again = await openSocket(client, session);
  assert.equal(again.socket.adapter.isOpen(), true);
});

test("a client's close is answered with a close frame (a clean close, not 1006)", async () => {
  const s = await newPlayer(client);
  s.socket.disconnect(false);
  const evt = await s.next("disconnect");
  assert.equal(evt.wasClean, true, `close code ${evt.code}`);
  assert.notEqual(evt.code, 1006);
});

test("a frame over socket.max_message_size_bytes (4096) closes the socket", async () => {
  const s = await newPlayer(client);
  const channel = await call("joinChat", s.socket.joinChat(randomId("room"), 1, false, false));
  // Never answered: the server closes the socket instead.
  s.socket.writeChatMessage(channel.id, { big: "x".repeat(5000) }).catch(() => {});
  await s.next("disconnect");
  assert.equal(s.socket.adapter.isOpen(), false);
});

test("a bad token is refused before the upgrade", async () => {
  const { session } = await newUser(client);
  const forged = Session.restore(session.token.slice(0, -4) + "AAAA", session.refresh_token);
  await assert.rejects(openSocket(client, forged), /socket.connect failed/);
});

test("the upgrade answers 401 without a token and 400 for format=protobuf", async () => {
  const { session } = await newUser(client);
  const status = (query) =>
    new Promise((resolve, reject) => {
      const ws = new RawWebSocket(`ws://${server.host}:${server.port}/ws?${query}`);
      ws.on("unexpected-response", (_req, res) => {
        resolve(res.statusCode);
        res.resume();
        ws.terminate();
      });
      ws.on("open", () => {
        ws.close();
        resolve(101);
      });
      ws.on("error", (e) => (e.message.includes("Unexpected server response") ? undefined : reject(e)));
    });
  assert.equal(await status("lang=en&status=false"), 401);
  assert.equal(await status(`lang=en&status=false&format=protobuf&token=${session.token}`), 400);
  assert.equal(await status(`lang=en&status=false&format=json&token=${session.token}`), 101);
});

// ------------------------------------------------------------------ rpc

test("socket.rpc sends the payload as a plain string and returns the result as one", async () => {
  const s = await newPlayer(client);
  const payload = JSON.stringify({ hello: "world", n: 3 });
  const res = await call("rpc clientrpc.rpc", s.socket.rpc("clientrpc.rpc", payload));
  assert.equal(res.payload, payload);
  const notJson = await call("rpc clientrpc.rpc (plain text)", s.socket.rpc("clientrpc.rpc", "just text"));
  assert.equal(notJson.payload, "just text");
  const pong = await call("rpc clientrpc.rpc_get", s.socket.rpc("clientrpc.rpc_get", ""));
  assert.deepEqual(JSON.parse(pong.payload), { message: "PONG" });
  // The socket's session is the RPC's context.
  const who = JSON.parse((await call("rpc whoami", s.socket.rpc("clientrpc.whoami", ""))).payload);
  assert.equal(who.user_id, s.userId);
  assert.equal(who.username, s.session.username);
  assert.match(who.session_id, /^[0-9a-f-]{36}$/);
});

test("socket.rpc ids are case-insensitive", async () => {
  const s = await newPlayer(client);
  const res = await call("rpc ClientRPC.RPC", s.socket.rpc("ClientRPC.RPC", "mixed"));
  assert.equal(res.payload, "mixed");
});

test("the rpc reply echoes the id as the client sent it", async () => {
  const s = await newPlayer(client);
  const res = await call("rpc ClientRPC.RPC", s.socket.rpc("ClientRPC.RPC", "x"));
  assert.equal(res.id, "ClientRPC.RPC");
});

test("socket.rpc errors: unknown id (6), failing function (7), and the socket stays usable", async () => {
  const s = await newPlayer(client);
  const nf = await expectSocketError("rpc nope", s.socket.rpc("clientrpc.nope", "{}"), RUNTIME_FUNCTION_NOT_FOUND);
  assert.equal(nf.message, "RPC function not found");
  const ex = await expectSocketError("rpc rpc_error", s.socket.rpc("clientrpc.rpc_error", "{}"), RUNTIME_FUNCTION_EXCEPTION);
  assert.match(ex.message, /always fails/);
  await expectSocketError("rpc without id", s.socket.rpc("", "{}"), BAD_INPUT);
  const res = await call("rpc after errors", s.socket.rpc("clientrpc.rpc", "still here"));
  assert.equal(res.payload, "still here");
});

// ------------------------------------------------------------------ relayed matches

test("createMatch: a relayed match id ends with '.', self is the creator", async () => {
  const s = await newPlayer(client);
  const match = await call("createMatch", s.socket.createMatch());
  assert.match(match.match_id, /^[0-9a-f-]{36}\.$/);
  assert.ok(!match.authoritative);
  assert.equal(match.size, 1);
  assert.equal(match.self.user_id, s.userId);
  assert.equal(match.self.username, s.session.username);
  assert.match(match.self.session_id, /^[0-9a-f-]{36}$/);
  // Relayed matches are listed when no label or query is given.
  const list = await must("listMatches relayed", client.listMatches(s.session, 100, false));
  const listed = (list.matches ?? []).find((m) => m.match_id === match.match_id);
  assert.ok(listed, `relayed match not listed: ${JSON.stringify(list)}`);
  assert.ok(!listed.authoritative);
  assert.equal(listed.size, 1);
});

test("createMatch(name) derives the id from the name (UUIDv5) and both creators share it", async () => {
  const a = await newPlayer(client);
  const b = await newPlayer(client);
  const name = randomId("room");
  const m1 = await call("createMatch(name) a", a.socket.createMatch(name));
  assert.equal(m1.match_id, namedMatchId(name));
  const m2 = await call("createMatch(name) b", b.socket.createMatch(name));
  assert.equal(m2.match_id, m1.match_id);
  assert.deepEqual((m2.presences ?? []).map((p) => p.user_id), [a.userId]);
  const ev = await a.next("matchpresence", (e) => (e.joins ?? []).some(byUser(b.userId)));
  assert.equal(ev.match_id, m1.match_id);
});

test("joining your own match again lists yourself among the presences", async () => {
  const s = await newPlayer(client);
  const match = await call("createMatch", s.socket.createMatch());
  const joined = await call("joinMatch own", s.socket.joinMatch(match.match_id));
  assert.equal(joined.match_id, match.match_id);
  assert.equal(joined.presences?.length, 1);
  assert.equal(joined.presences[0].session_id, match.self.session_id);
});

test("join, presence events, match data both ways, no echo to the sender", async () => {
  const a = await newPlayer(client);
  const b = await newPlayer(client);
  const match = await call("createMatch", a.socket.createMatch());
  const joined = await call("joinMatch", b.socket.joinMatch(match.match_id));
  assert.equal(joined.match_id, match.match_id);
  assert.deepEqual((joined.presences ?? []).map((p) => p.user_id), [a.userId]);
  assert.equal(joined.self.user_id, b.userId);
  const ev = await a.next("matchpresence");
  assert.equal(ev.match_id, match.match_id);
  assert.deepEqual(ev.joins.map((p) => [p.user_id, p.session_id, p.username]), [
    [b.userId, joined.self.session_id, b.session.username],
  ]);

  const payload = JSON.stringify({ hello: "world" });
  await a.socket.sendMatchState(match.match_id, 20, payload);
  const got = await b.next("matchdata");
  assert.equal(got.match_id, match.match_id);
  assert.equal(got.op_code, 20);
  assert.equal(text(got.data), payload);
  assert.equal(got.presence.user_id, a.userId);
  assert.equal(got.presence.session_id, match.self.session_id);

  // Bytes survive the base64 round trip.
  const bytes = new Uint8Array([0, 1, 2, 127, 128, 254, 255]);
  await b.socket.sendMatchState(match.match_id, 21, bytes);
  const back = await a.next("matchdata");
  assert.equal(back.op_code, 21);
  assert.deepEqual([...back.data], [...bytes]);
  assert.equal(back.presence.user_id, b.userId);
  // a's first match data is b's reply: its own message was not echoed back to it.
  assert.equal(a.all("matchdata").length, 1);
  assert.equal(b.all("matchdata").length, 1);
});

test("sendMatchState with presences reaches only the listed presences", async () => {
  const [a, b, c] = [await newPlayer(client), await newPlayer(client), await newPlayer(client)];
  const match = await call("createMatch", a.socket.createMatch());
  const bMatch = await call("joinMatch b", b.socket.joinMatch(match.match_id));
  const cMatch = await call("joinMatch c", c.socket.joinMatch(match.match_id));
  // b hears of c's join, with the presence it can use as a filter (as nakama-js's test does).
  const cJoin = await b.next("matchpresence", (e) => (e.joins ?? []).some(byUser(c.userId)));
  const cPresence = cJoin.joins.find(byUser(c.userId));
  assert.equal(cPresence.session_id, cMatch.self.session_id);

  await a.socket.sendMatchState(match.match_id, 30, "only c", [cPresence]);
  const atC = await c.next("matchdata");
  assert.equal(text(atC.data), "only c");
  // Barrier: a message to b alone. If "only c" had reached b it would be first.
  await a.socket.sendMatchState(match.match_id, 31, "only b", [bMatch.self]);
  const atB = await b.next("matchdata");
  assert.equal(atB.op_code, 31, `b got ${text(atB.data)} (op ${atB.op_code}) first`);
  // The sender gets its own message when it lists itself.
  await a.socket.sendMatchState(match.match_id, 32, "me too", [match.self, bMatch.self]);
  const echo = await a.next("matchdata");
  assert.equal(echo.op_code, 32);
  assert.equal((await b.next("matchdata")).op_code, 32);
  assert.equal(c.all("matchdata").length, 1);
});

test("leaveMatch and disconnect are seen as leaves; a non-member's data is dropped", async () => {
  const [a, b, c] = [await newPlayer(client), await newPlayer(client), await newPlayer(client)];
  const match = await call("createMatch", a.socket.createMatch());
  await call("joinMatch b", b.socket.joinMatch(match.match_id));
  await call("joinMatch c", c.socket.joinMatch(match.match_id));
  await a.next("matchpresence", (e) => (e.joins ?? []).some(byUser(c.userId)));

  const left = await call("leaveMatch", b.socket.leaveMatch(match.match_id));
  assert.ok(left.cid, "leaveMatch is answered with the cid alone");
  const ev = await a.next("matchpresence", (e) => (e.leaves ?? []).length > 0);
  assert.deepEqual(ev.leaves.map((p) => p.user_id), [b.userId]);
  // b is no longer a member: its data is dropped. c's message after it is a's first.
  await b.socket.sendMatchState(match.match_id, 40, "from b");
  await c.socket.sendMatchState(match.match_id, 41, "from c");
  assert.equal((await a.next("matchdata")).op_code, 41);

  c.close();
  const gone = await a.next("matchpresence", (e) => (e.leaves ?? []).some(byUser(c.userId)));
  assert.equal(gone.match_id, match.match_id);
});

test("joinMatch errors: unknown relayed match (4), malformed id (3)", async () => {
  const s = await newPlayer(client);
  await expectSocketError("join unknown", s.socket.joinMatch(`${randomUUID()}.`), MATCH_NOT_FOUND);
  await expectSocketError("join garbage", s.socket.joinMatch("not-a-match-id"), BAD_INPUT);
  await expectSocketError("join unknown authoritative", s.socket.joinMatch(`${randomUUID()}.compat1`), MATCH_NOT_FOUND);
});

// ------------------------------------------------------------------ chat rooms

test("room chat: join, presences, send/update/remove, history with cacheable_cursor, leave", async () => {
  const a = await newPlayer(client);
  const b = await newPlayer(client);
  const room = randomId("room");
  const ca = await call("joinChat a", a.socket.joinChat(room, 1, true, false));
  assert.equal(ca.id, `2...${room}`);
  assert.equal(ca.room_name, room);
  assert.equal(ca.self.user_id, a.userId);
  assert.equal(ca.self.persistence, true);
  const cb = await call("joinChat b", b.socket.joinChat(room, 1, true, false));
  assert.equal(cb.id, ca.id);
  assert.deepEqual((cb.presences ?? []).map((p) => p.user_id), [a.userId]);
  const pj = await a.next("channelpresence");
  assert.equal(pj.channel_id, ca.id);
  assert.equal(pj.room_name, room);
  assert.deepEqual(pj.joins.map((p) => p.user_id), [b.userId]);

  const ack = await call("writeChatMessage", a.socket.writeChatMessage(ca.id, { hello: "world" }));
  assert.equal(ack.channel_id, ca.id);
  assert.match(ack.message_id, /^[0-9a-f-]{36}$/);
  assert.equal(ack.code, 0);
  assert.equal(ack.persistent, true);
  assert.equal(ack.username, a.session.username);
  assert.equal(ack.room_name, room);
  for (const s of [a, b]) {
    const m = await s.next("channelmessage", (x) => x.message_id === ack.message_id);
    assert.deepEqual(m.content, { hello: "world" });
    assert.equal(m.code, 0);
    assert.equal(m.persistent, true);
    assert.equal(m.sender_id, a.userId);
    assert.equal(m.username, a.session.username);
    assert.equal(m.channel_id, ca.id);
    assert.equal(m.room_name, room);
    assert.ok(m.create_time && m.update_time);
  }

  const ack2 = await call("writeChatMessage 2", b.socket.writeChatMessage(ca.id, { n: 2 }));
  await a.next("channelmessage", (x) => x.message_id === ack2.message_id);
  const upd = await call("updateChatMessage", a.socket.updateChatMessage(ca.id, ack.message_id, { hello: "world2" }));
  assert.equal(upd.message_id, ack.message_id);
  const updated = await b.next("channelmessage", (x) => x.message_id === ack.message_id && x.code === 1);
  assert.deepEqual(updated.content, { hello: "world2" });
  const rem = await call("removeChatMessage", b.socket.removeChatMessage(ca.id, ack2.message_id));
  assert.equal(rem.message_id, ack2.message_id);
  const removed = await a.next("channelmessage", (x) => x.message_id === ack2.message_id && x.code === 2);
  assert.equal(removed.sender_id, b.userId);

  const list = await must("listChannelMessages", client.listChannelMessages(a.session, ca.id, 10));
  assert.equal(list.messages.length, 1, JSON.stringify(list));
  assert.equal(list.messages[0].message_id, ack.message_id);
  assert.deepEqual(list.messages[0].content, { hello: "world2" });
  assert.equal(list.messages[0].code, 0);
  assert.equal(list.messages[0].persistent, true);
  assert.equal(list.messages[0].room_name, room);
  assert.equal(typeof list.cacheable_cursor, "string");
  assert.ok(list.cacheable_cursor.length > 0, "cacheable_cursor");

  // Paging with next_cursor, oldest first.
  const ack3 = await call("writeChatMessage 3", a.socket.writeChatMessage(ca.id, { n: 3 }));
  const p1 = await must("list page 1", client.listChannelMessages(a.session, ca.id, 1, true));
  assert.deepEqual(p1.messages.map((m) => m.message_id), [ack.message_id]);
  assert.ok(p1.next_cursor, "next_cursor on a full page");
  const p2 = await must("list page 2", client.listChannelMessages(a.session, ca.id, 1, true, p1.next_cursor));
  assert.deepEqual(p2.messages.map((m) => m.message_id), [ack3.message_id]);

  await call("leaveChat", b.socket.leaveChat(cb.id));
  const pl = await a.next("channelpresence", (e) => (e.leaves ?? []).length > 0);
  assert.deepEqual(pl.leaves.map((p) => p.user_id), [b.userId]);
  const err = await expectSocketError("write after leave", b.socket.writeChatMessage(cb.id, { late: true }), BAD_INPUT);
  assert.match(err.message, /join/i);
});

test("room chat: non-persistent messages are delivered but not stored; hidden members are not announced", async () => {
  const a = await newPlayer(client);
  const b = await newPlayer(client);
  const c = await newPlayer(client);
  const room = randomId("room");
  const ca = await call("joinChat a", a.socket.joinChat(room, 1, false, false));
  assert.ok(!ca.self.persistence);
  await call("joinChat b hidden", b.socket.joinChat(room, 1, false, true));
  // Barrier: c's visible join is the first presence event a gets.
  await call("joinChat c", c.socket.joinChat(room, 1, false, false));
  const ev = await a.next("channelpresence");
  assert.deepEqual(ev.joins.map((p) => p.user_id), [c.userId], "the hidden join was announced");

  const ack = await call("writeChatMessage", a.socket.writeChatMessage(ca.id, { ephemeral: true }));
  assert.equal(ack.persistent, false);
  const m = await b.next("channelmessage", (x) => x.message_id === ack.message_id);
  assert.equal(m.persistent, false);
  assert.deepEqual(m.content, { ephemeral: true });
  const list = await must("listChannelMessages", client.listChannelMessages(a.session, ca.id, 10));
  assert.equal(list.messages.length, 0);

  await expectSocketError("content not an object", a.socket.writeChatMessage(ca.id, "just a string"), BAD_INPUT);
});

// ------------------------------------------------------------------ direct messages

test("direct messages between two users", async () => {
  const a = await newPlayer(client);
  const b = await newPlayer(client);
  const [one, two] = [a.userId, b.userId].sort();
  const ca = await call("joinChat DM a", a.socket.joinChat(b.userId, 2, true, false));
  assert.equal(ca.id, `4.${one}.${two}.`);
  assert.equal(ca.user_id_one, one);
  assert.equal(ca.user_id_two, two);
  const cb = await call("joinChat DM b", b.socket.joinChat(a.userId, 2, true, false));
  assert.equal(cb.id, ca.id);
  assert.deepEqual((cb.presences ?? []).map((p) => p.user_id), [a.userId]);
  await a.next("channelpresence", (e) => (e.joins ?? []).some(byUser(b.userId)));

  const ack = await call("DM a→b", a.socket.writeChatMessage(ca.id, { text: "hi b" }));
  const atB = await b.next("channelmessage", (x) => x.message_id === ack.message_id);
  assert.deepEqual(atB.content, { text: "hi b" });
  assert.equal(atB.user_id_one, one);
  assert.equal(atB.user_id_two, two);
  const ack2 = await call("DM b→a", b.socket.writeChatMessage(cb.id, { text: "hi a" }));
  const atA = await a.next("channelmessage", (x) => x.message_id === ack2.message_id);
  assert.equal(atA.sender_id, b.userId);

  const list = await must("listChannelMessages DM", client.listChannelMessages(b.session, ca.id, 10, true));
  assert.deepEqual(list.messages.map((m) => m.content.text), ["hi b", "hi a"]);

  await expectSocketError("DM with an unknown user", a.socket.joinChat(randomUUID(), 2, true, false), BAD_INPUT);
});

test("joining a DM the other user is not in sends them a 'wants to chat' notification", async () => {
  const a = await newPlayer(client);
  const b = await newPlayer(client);
  await call("joinChat DM a", a.socket.joinChat(b.userId, 2, true, false));
  // Barrier: a notification sent after the join. The DM request must come first.
  await call("rpc send_notification", a.socket.rpc("clientrpc.send_notification", JSON.stringify({ user_id: b.userId, persistent: false })));
  const n = await b.next("notification");
  assert.equal(n.code, -1);
  assert.equal(n.subject, `${a.session.username} wants to chat`);
  assert.deepEqual(n.content, { username: a.session.username });
  assert.equal(n.sender_id, a.userId);
  assert.equal(n.persistent, true);
});

// ------------------------------------------------------------------ status

test("status: follow, come online, update, go invisible, unfollow", async () => {
  const a = await newPlayer(client, { createStatus: true });
  const { session: bSession } = await newUser(client);
  const c = await newPlayer(client, { createStatus: true });

  const st = await call("followUsers offline", a.socket.followUsers([bSession.user_id, c.userId]));
  assert.deepEqual((st.presences ?? []).map((p) => p.user_id), [c.userId], "only c is online");

  const b = await openSocket(client, bSession, { createStatus: true });
  const online = await a.next("statuspresence", (e) => (e.joins ?? []).some(byUser(b.userId)));
  assert.equal(online.joins.length, 1);

  await call("updateStatus", b.socket.updateStatus("hello-world"));
  const upd = await a.next("statuspresence", (e) => (e.joins ?? []).some((p) => p.user_id === b.userId && p.status === "hello-world"));
  for (const l of upd.leaves ?? []) assert.equal(l.user_id, b.userId);

  // A follower that arrives later sees the current status in the reply.
  const d = await newPlayer(client);
  const dst = await call("followUsers online", d.socket.followUsers([b.userId]));
  assert.deepEqual((dst.presences ?? []).map((p) => [p.user_id, p.status]), [[b.userId, "hello-world"]]);

  // No status at all: b appears offline.
  await call("updateStatus()", b.socket.updateStatus());
  const off = await a.next("statuspresence", (e) => (e.leaves ?? []).some(byUser(b.userId)) && !(e.joins ?? []).length);
  assert.equal(off.leaves.length, 1);

  // After unfollowing b, a hears of c but no longer of b (c's update is the barrier).
  const unf = await call("unfollowUsers", a.socket.unfollowUsers([b.userId]));
  assert.ok(unf.cid);
  const before = a.all("statuspresence").length;
  await call("updateStatus b again", b.socket.updateStatus("back"));
  await call("updateStatus c", c.socket.updateStatus("barrier"));
  const next = await a.next("statuspresence", (e) => (e.joins ?? []).some(byUser(c.userId)));
  assert.equal(next.joins[0].status, "barrier");
  assert.equal(a.all("statuspresence").length, before + 1, "a still heard of b after unfollowing");
});

test("status: followers see a disconnect as a leave", async () => {
  const a = await newPlayer(client);
  const b = await newPlayer(client, { createStatus: true });
  await call("followUsers", a.socket.followUsers([b.userId]));
  b.close();
  const ev = await a.next("statuspresence", (e) => (e.leaves ?? []).some(byUser(b.userId)));
  assert.equal(ev.leaves.length, 1);
});

// ------------------------------------------------------------------ matchmaker

/** Adds a ticket and returns its id. */
async function addTicket(s, query, min, max, strings, numbers) {
  const t = await call(`addMatchmaker(${query})`, s.socket.addMatchmaker(query, min, max, strings, numbers));
  assert.equal(typeof t.ticket, "string");
  assert.ok(t.ticket.length > 0);
  return t.ticket;
}

/** Checks a matchmaker_matched as nakama-js's tests do, plus the ticket and users. */
function checkMatched(m, s, ticket, userIds) {
  assert.equal(m.ticket, ticket);
  assert.equal(m.users.length, userIds.length);
  assert.deepEqual(m.users.map((u) => u.presence.user_id).sort(), [...userIds].sort());
  assert.equal(m.self.presence.user_id, s.userId);
  assert.equal(m.self.presence.username, s.session.username);
  assert.match(m.self.presence.session_id, /^[0-9a-f-]{36}$/);
}

test("matchmaker: add returns a ticket; remove is acknowledged; bad requests are BAD_INPUT", async () => {
  const s = await newPlayer(client);
  const t1 = await addTicket(s, `properties.a1:${hex()}`, 2, 2, { a1: "bar" });
  const t2 = await addTicket(s, `properties.a2:${hex()}`, 2, 2, { a2: "bar" });
  assert.notEqual(t1, t2);
  const removed = await call("removeMatchmaker", s.socket.removeMatchmaker(t2));
  assert.ok(removed.cid);
  await expectSocketError("remove twice", s.socket.removeMatchmaker(t2), BAD_INPUT);
  await expectSocketError("min < 2", s.socket.addMatchmaker("*", 1, 2), BAD_INPUT);
  await expectSocketError("min > max", s.socket.addMatchmaker("*", 3, 2), BAD_INPUT);
  // Nakama answers a query Bluge cannot parse with RUNTIME_EXCEPTION "Error adding to
  // matchmaker"; only the rejection itself is checked here.
  await assert.rejects(s.socket.addMatchmaker('properties.a:"unterminated', 2, 2), (e) => typeof e?.message === "string");
});

test("matchmaker: the Bluge queries nakama-js uses match, then the token joins a relayed match", async () => {
  const id = hex();
  const pairs = [
    // Each wants the other's value (properties.a3:bar / a3:baz).
    [[`properties.a3:bar +properties.id:${id}a`, { a3: "baz", id: `${id}a` }, {}], [`properties.a3:baz +properties.id:${id}a`, { a3: "bar", id: `${id}a` }, {}]],
    // A numeric range.
    [[`+properties.b1:>=10 +properties.b1:<=20 +properties.id:${id}b`, { id: `${id}b` }, { b1: 15 }], [`+properties.b1:>=10 +properties.b1:<=20 +properties.id:${id}b`, { id: `${id}b` }, { b1: 15 }]],
    // A range and a value.
    [[`+properties.c1:>=10 +properties.c1:<=20 +properties.c2:foo +properties.id:${id}c`, { c2: "foo", id: `${id}c` }, { c1: 15 }], [`+properties.c1:>=10 +properties.c1:<=20 +properties.c2:foo +properties.id:${id}c`, { c2: "foo", id: `${id}c` }, { c1: 12 }]],
  ];
  const waits = [];
  for (const [x, y] of pairs) {
    const sx = await newPlayer(client);
    const sy = await newPlayer(client);
    const tx = await addTicket(sx, x[0], 2, 2, x[1], x[2]);
    const ty = await addTicket(sy, y[0], 2, 2, y[1], y[2]);
    waits.push({ sx, sy, tx, ty, q: x[0] });
  }
  for (const { sx, sy, tx, ty, q } of waits) {
    const mx = await sx.next("matchmakermatched", () => true, 5000).catch((e) => assert.fail(`${q}: ${e.message}`));
    const my = await sy.next("matchmakermatched", () => true, 5000);
    checkMatched(mx, sx, tx, [sx.userId, sy.userId]);
    checkMatched(my, sy, ty, [sx.userId, sy.userId]);
    assert.equal(mx.match_id, undefined);
    assert.equal(typeof mx.token, "string");
    assert.equal(my.token, mx.token);
    const other = mx.users.find((u) => u.presence.user_id === sy.userId);
    assert.deepEqual(other.string_properties, pairs[waits.findIndex((w) => w.sx === sx)][1][1]);
  }
  // The first pair plays the relayed match its token names.
  const { sx, sy } = waits[0];
  const tok = (await sx.all("matchmakermatched"))[0].token;
  const jx = await call("joinMatch(token) x", sx.socket.joinMatch(null, tok));
  assert.match(jx.match_id, /\.$/);
  const jy = await call("joinMatch(token) y", sy.socket.joinMatch(null, tok));
  assert.equal(jy.match_id, jx.match_id);
  await sx.next("matchpresence", (e) => (e.joins ?? []).some(byUser(sy.userId)));
  await sy.socket.sendMatchState(jx.match_id, 7, "matched!");
  assert.equal(text((await sx.next("matchdata")).data), "matched!");
  await expectSocketError("joinMatch bad token", sx.socket.joinMatch(null, "not.a.token"), BAD_INPUT);
});

test("matchmaker: '*' matches anyone who accepts you", async () => {
  const id = hex();
  const a = await newPlayer(client);
  const b = await newPlayer(client);
  const ta = await addTicket(a, "*", 2, 2, { id });
  const tb = await addTicket(b, `+properties.id:${id}`, 2, 2, { id });
  checkMatched(await a.next("matchmakermatched"), a, ta, [a.userId, b.userId]);
  checkMatched(await b.next("matchmakermatched"), b, tb, [a.userId, b.userId]);
});

test("matchmaker: non-matching, removed and surplus tickets stay unmatched", async () => {
  const id = hex();
  // Both want bar, both offer baz. (No `+` clause here: next to one, a plain clause is
  // optional, as in Bluge.)
  const n1 = await newPlayer(client);
  const n2 = await newPlayer(client);
  await addTicket(n1, `properties.a5:bar${id}`, 2, 2, { a5: `baz${id}` });
  await addTicket(n2, `properties.a5:bar${id}`, 2, 2, { a5: `baz${id}` });
  // Out of range (25 is not in 10..20).
  const r1 = await newPlayer(client);
  const r2 = await newPlayer(client);
  await addTicket(r1, `+properties.b2:>=10 +properties.b2:<=20 +properties.id:${id}r`, 2, 2, { id: `${id}r` }, { b2: 25 });
  await addTicket(r2, `+properties.b2:>=10 +properties.b2:<=20 +properties.id:${id}r`, 2, 2, { id: `${id}r` }, { b2: 15 });
  // Removed before its partner arrives.
  const x1 = await newPlayer(client);
  const x2 = await newPlayer(client);
  const tx = await addTicket(x1, `properties.a4:bar${id}`, 2, 2, { a4: `bar${id}` });
  await call("removeMatchmaker", x1.socket.removeMatchmaker(tx));
  await addTicket(x2, `properties.a4:bar${id}`, 2, 2, { a4: `bar${id}` });
  // Three for a match of two: one is left over.
  const three = [await newPlayer(client), await newPlayer(client), await newPlayer(client)];
  for (const s of three) await addTicket(s, `properties.a6:bar +properties.id:${id}t`, 2, 2, { a6: "bar", id: `${id}t` });
  // Barrier: a pair added last that does match. Once it is matched, a matchmaking pass has
  // seen every ticket above.
  const b1 = await newPlayer(client);
  const b2 = await newPlayer(client);
  await addTicket(b1, `+properties.id:${id}b`, 2, 2, { id: `${id}b` });
  await addTicket(b2, `+properties.id:${id}b`, 2, 2, { id: `${id}b` });
  await b1.next("matchmakermatched");
  await b2.next("matchmakermatched");
  const matched = three.filter((s) => s.all("matchmakermatched").length > 0);
  if (matched.length < 2) {
    // The three's pair may form on the pass after the barrier's; wait for it.
    for (const s of three) if (!matched.includes(s)) await s.next("matchmakermatched", () => true, 3000).catch(() => {});
  }
  assert.equal(three.filter((s) => s.all("matchmakermatched").length > 0).length, 2, "exactly two of three matched");
  for (const s of [n1, n2, r1, r2, x1, x2]) {
    assert.deepEqual(s.all("matchmakermatched"), [], `${s.label} was matched`);
  }
});

test("matchmaker: register_matchmaker_matched turns 'mode: authoritative' into a match id", async () => {
  const id = hex();
  const a = await newPlayer(client);
  const b = await newPlayer(client);
  const ta = await addTicket(a, `properties.d1:foo +properties.id:${id}`, 2, 2, { d1: "foo", mode: "authoritative", id });
  const tb = await addTicket(b, `properties.d1:foo +properties.id:${id}`, 2, 2, { d1: "foo", mode: "authoritative", id });
  const ma = await a.next("matchmakermatched");
  const mb = await b.next("matchmakermatched");
  checkMatched(ma, a, ta, [a.userId, b.userId]);
  checkMatched(mb, b, tb, [a.userId, b.userId]);
  assert.equal(ma.token, undefined);
  assert.match(ma.match_id, /^[0-9a-f-]{36}\.compat1$/);
  assert.equal(mb.match_id, ma.match_id);
  const ja = await call("joinMatch a", a.socket.joinMatch(ma.match_id));
  assert.equal(ja.authoritative, true);
  assert.deepEqual(JSON.parse(ja.label), { mode: "matched", size: 2 });
  await call("joinMatch b", b.socket.joinMatch(mb.match_id));
  await b.socket.sendMatchState(ma.match_id, 3, "hi from b");
  for (const s of [a, b]) {
    const d = await s.next("matchdata", (x) => x.op_code === 103);
    assert.equal(text(d.data), "hi from b");
    assert.equal(d.presence.user_id, b.userId);
  }
});

// ------------------------------------------------------------------ notifications

test("notifications from nk.notification_send arrive on the socket; persisted ones are listed and deleted", async () => {
  const a = await newPlayer(client);
  const b = await newPlayer(client);
  // a's RPC notifies b.
  await call("rpc send_notification", a.socket.rpc("clientrpc.send_notification", JSON.stringify({ user_id: b.userId })));
  const n = await b.next("notification");
  assert.match(n.id, /^[0-9a-f-]{36}$/);
  assert.equal(n.subject, "You've unlocked level 100!");
  assert.deepEqual(n.content, { reward_coins: 1000 });
  assert.equal(n.code, 1);
  assert.equal(n.persistent, true);
  assert.ok(n.create_time);
  // Barrier: a notification to a itself. b got nothing more.
  await must("client.rpc send_notification", client.rpc(a.session, "clientrpc.send_notification", { user_id: a.userId, persistent: false }));
  const mine = await a.next("notification");
  assert.ok(!mine.persistent);
  assert.equal(b.all("notification").length, 1);

  // As nakama-js's test: two more, listed one at a time with the cacheable cursor.
  await must("rpc 2", client.rpc(b.session, "clientrpc.send_notification", { user_id: b.userId }));
  await must("rpc 3", client.rpc(b.session, "clientrpc.send_notification", { user_id: b.userId }));
  const page1 = await must("listNotifications 1", client.listNotifications(b.session, 1, ""));
  assert.equal(page1.notifications.length, 1);
  assert.equal(page1.notifications[0].id, n.id);
  assert.deepEqual(page1.notifications[0].content, { reward_coins: 1000 });
  assert.equal(page1.notifications[0].code, 1);
  assert.ok(page1.cacheable_cursor, "cacheable_cursor");
  const page2 = await must("listNotifications 2", client.listNotifications(b.session, 1, page1.cacheable_cursor));
  assert.equal(page2.notifications.length, 1);
  assert.notEqual(page2.notifications[0].id, n.id);
  assert.equal(page2.notifications[0].subject, "You've unlocked level 100!");

  const all = await must("listNotifications all", client.listNotifications(b.session, 100, ""));
  assert.equal(all.notifications.length, 3);
  // The non-persistent one was never stored.
  const aList = await must("listNotifications a", client.listNotifications(a.session, 100, ""));
  assert.equal(aList.notifications.length, 0);

  await must("deleteNotifications", client.deleteNotifications(b.session, all.notifications.map((x) => x.id)));
  const after = await must("listNotifications after delete", client.listNotifications(b.session, 100, ""));
  assert.equal(after.notifications.length, 0);
});

test("nk.notifications_send delivers a batch in one message", async () => {
  const a = await newPlayer(client);
  await call("rpc send_notifications", a.socket.rpc("clientrpc.send_notifications", JSON.stringify({ user_id: a.userId, count: 3 })));
  const got = [];
  for (let i = 0; i < 3; i++) got.push(await a.next("notification"));
  assert.deepEqual(got.map((n) => [n.code, n.subject, n.content.n]).sort(), [
    [101, "batch 1", 1],
    [102, "batch 2", 2],
    [103, "batch 3", 3],
  ]);
});

// ------------------------------------------------------------------ streams

test("stream data from nk.stream_user_join + nk.stream_send arrives as a plain string", async () => {
  const s = await newPlayer(client);
  const payload = JSON.stringify({ hello: "world" });
  const res = await call("rpc send_stream_data", s.socket.rpc("clientrpc.send_stream_data", payload));
  assert.deepEqual(JSON.parse(res.payload), { count: 1 });
  const d = await s.next("streamdata");
  assert.equal(d.data, payload);
  assert.equal(d.stream.mode, 20);
  assert.equal(d.stream.label, "compat stream");
  // A second member hears the next send, and the first hears of it joining.
  const t = await newPlayer(client);
  await call("rpc send_stream_data 2", t.socket.rpc("clientrpc.send_stream_data", "second"));
  assert.equal((await t.next("streamdata")).data, "second");
  assert.equal((await s.next("streamdata")).data, "second");
  const pe = await s.next("streampresence");
  assert.deepEqual(pe.joins.map((p) => p.user_id), [t.userId]);
});

// ------------------------------------------------------------------ authoritative matches

test("authoritative match from nk.match_create: join with metadata, data both ways, listMatches by label query", async () => {
  const a = await newPlayer(client);
  const b = await newPlayer(client);
  const tag = hex();
  const convo = [hex(), hex(), hex()];
  const label = JSON.stringify({ skill: 60, tag, convo_ids: convo });
  const res = await call("rpc create_authoritative_match", a.socket.rpc("clientrpc.create_authoritative_match", JSON.stringify({ label })));
  const { match_id } = JSON.parse(res.payload);
  assert.match(match_id, /^[0-9a-f-]{36}\.compat1$/);

  const ja = await call("joinMatch with metadata", a.socket.joinMatch(match_id, null, { key: "value" }));
  assert.equal(ja.match_id, match_id);
  assert.equal(ja.authoritative, true);
  assert.equal(ja.label, label);
  assert.equal(ja.self.user_id, a.userId);
  // match_join tells the joiner what its join attempt's metadata was.
  const welcome = JSON.parse(text((await a.next("matchdata", (d) => d.op_code === 1)).data));
  assert.deepEqual(welcome, { user_id: a.userId, node: "compat1", metadata: { key: "value" } });

  await expectSocketError("join rejected", b.socket.joinMatch(match_id, null, { deny: "yes" }), MATCH_JOIN_REJECTED).then((e) =>
    assert.equal(e.message, "denied by match.lua"),
  );
  const jb = await call("joinMatch b", b.socket.joinMatch(match_id));
  assert.deepEqual((jb.presences ?? []).map((p) => p.user_id), [a.userId]);
  const pj = await a.next("matchpresence", (e) => (e.joins ?? []).some(byUser(b.userId)));
  assert.equal(pj.match_id, match_id);

  // Client → match → every member (op + 100, sender attached), from both sides.
  await a.socket.sendMatchState(match_id, 5, "from a");
  await b.socket.sendMatchState(match_id, 6, new TextEncoder().encode("from b"));
  for (const s of [a, b]) {
    const da = await s.next("matchdata", (d) => d.op_code === 105);
    assert.equal(text(da.data), "from a");
    assert.equal(da.presence.user_id, a.userId);
    const db = await s.next("matchdata", (d) => d.op_code === 106);
    assert.equal(text(db.data), "from b");
    assert.equal(db.presence.user_id, b.userId);
  }

  // Listing, as nakama-js's tests do: without a query, with a range and with an array term.
  const plain = await must("listMatches", client.listMatches(a.session, 100, true));
  const listed = (plain.matches ?? []).find((m) => m.match_id === match_id);
  assert.ok(listed, `match not listed: ${JSON.stringify(plain)}`);
  assert.equal(listed.authoritative, true);
  assert.equal(listed.label, label);
  assert.equal(listed.size, 2);
  for (const q of [`+label.skill:>=50 +label.tag:${tag}`, `+label.convo_ids:${convo[1]} +label.tag:${tag}`]) {
    const r = await must(`listMatches ${q}`, client.listMatches(a.session, 1, true, "", 0, 100, q));
    assert.deepEqual((r.matches ?? []).map((m) => m.match_id), [match_id], q);
  }
  const none = await must("listMatches skill>=70", client.listMatches(a.session, 10, true, "", 0, 100, `+label.skill:>=70 +label.tag:${tag}`));
  assert.deepEqual(none.matches ?? [], []);
  const bySize = await must("listMatches max_size 1", client.listMatches(a.session, 10, true, "", 0, 1, `+label.tag:${tag}`));
  assert.deepEqual(bySize.matches ?? [], []);

  // A leave reaches the match (its member count) and the other member.
  await call("leaveMatch b", b.socket.leaveMatch(match_id));
  await a.next("matchpresence", (e) => (e.leaves ?? []).some(byUser(b.userId)));
  const sig = JSON.parse((await call("signal", a.socket.rpc("clientrpc.signal_match", JSON.stringify({ match_id, data: "count" })))).payload);
  assert.deepEqual(sig, { data: "count", members: 1 });

  // op 99 ends the match: it leaves the listing and can no longer be joined.
  await a.socket.sendMatchState(match_id, 99, "");
  const deadline = Date.now() + 5000;
  for (;;) {
    const r = await must("listMatches after end", client.listMatches(a.session, 10, true, "", 0, 100, `+label.tag:${tag}`));
    if ((r.matches ?? []).length === 0) break;
    assert.ok(Date.now() < deadline, "the ended match is still listed after 5 s");
    await new Promise((r2) => setTimeout(r2, 50));
  }
  await expectSocketError("join ended match", b.socket.joinMatch(match_id), MATCH_NOT_FOUND);
});
