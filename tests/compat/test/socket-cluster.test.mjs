// The realtime socket across a three-node cluster, through nakama-js: two players on
// different nodes chat, follow each other's status, are matched by the matchmaker and play
// an authoritative Lua match that a third node runs; then that node dies and both are told.
// Nodes load modules/test/compat_socket (as test/socket.test.mjs does).

import assert from "node:assert/strict";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { after, afterEach, before, test } from "node:test";

import { startCluster } from "../lib/cluster.mjs";
import { must, newClient, newUser, randomId } from "../lib/client.mjs";
import { call, closeSockets, expectSocketError, newPlayer, openSocket, text } from "../lib/socket.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.join(here, "..", "..", "..", "modules", "test", "compat_socket");

let cluster;
let clients;

before(async () => {
  cluster = await startCluster(3, {
    extraArgs: ["--runtime.path", fixtures, "--matchmaker.interval_sec", "1"],
  });
  clients = cluster.servers.map((s) => newClient(s));
});

afterEach(() => closeSockets());

after(async () => {
  closeSockets();
  await cluster?.stop();
});

const hex = () => randomUUID().replaceAll("-", "");
const byUser = (id) => (p) => p.user_id === id;

/**
 * Across nodes, presences replicate asynchronously: a joiner learns of a member on another
 * node either from its join reply or, if that member's presence had not reached the
 * joiner's node yet, from the presence event that follows. Either is fine; waits for one.
 */
async function learnsOf(s, reply, event, userId) {
  if ((reply.presences ?? []).some(byUser(userId))) return;
  await s.next(event, (e) => (e.joins ?? []).some(byUser(userId)));
}

/** Player a on node 1, player b on node 2. */
async function twoPlayers(opts = {}) {
  const a = await newPlayer(clients[0], { ...opts, label: "a@n1" });
  const b = await newPlayer(clients[1], { ...opts, label: "b@n2" });
  return { a, b };
}

test("chat across nodes: presences, messages both ways, history read through a third node", async () => {
  const { a, b } = await twoPlayers();
  const room = randomId("room");
  const ca = await call("joinChat a@n1", a.socket.joinChat(room, 1, true, false));
  const cb = await call("joinChat b@n2", b.socket.joinChat(room, 1, true, false));
  assert.equal(cb.id, ca.id);
  await learnsOf(b, cb, "channelpresence", a.userId);
  await a.next("channelpresence", (e) => (e.joins ?? []).some(byUser(b.userId)));

  const ack1 = await call("a writes", a.socket.writeChatMessage(ca.id, { from: "a" }));
  const ack2 = await call("b writes", b.socket.writeChatMessage(cb.id, { from: "b" }));
  for (const s of [a, b]) {
    assert.deepEqual((await s.next("channelmessage", (m) => m.message_id === ack1.message_id)).content, { from: "a" });
    assert.deepEqual((await s.next("channelmessage", (m) => m.message_id === ack2.message_id)).content, { from: "b" });
  }
  await call("b updates", b.socket.updateChatMessage(cb.id, ack2.message_id, { from: "b", edited: true }));
  const edited = await a.next("channelmessage", (m) => m.message_id === ack2.message_id && m.code === 1);
  assert.deepEqual(edited.content, { from: "b", edited: true });

  const list = await must("listChannelMessages via n3", clients[2].listChannelMessages(a.session, ca.id, 10, true));
  assert.deepEqual(list.messages.map((m) => m.content), [{ from: "a" }, { from: "b", edited: true }]);

  await call("b leaves", b.socket.leaveChat(cb.id));
  await a.next("channelpresence", (e) => (e.leaves ?? []).some(byUser(b.userId)));
});

test("status across nodes: follow each other, online, updates, offline", async () => {
  const a = await newPlayer(clients[0], { createStatus: true, label: "a@n1" });
  const { session: bSession } = await newUser(clients[1]);
  await call("a follows b", a.socket.followUsers([bSession.user_id]));
  const b = await openSocket(clients[1], bSession, { createStatus: true, label: "b@n2" });
  await a.next("statuspresence", (e) => (e.joins ?? []).some(byUser(b.userId)));
  const st = await call("b follows a", b.socket.followUsers([a.userId]));
  await learnsOf(b, st, "statuspresence", a.userId);

  await call("b status", b.socket.updateStatus("on n2"));
  await a.next("statuspresence", (e) => (e.joins ?? []).some((p) => p.user_id === b.userId && p.status === "on n2"));
  await call("a status", a.socket.updateStatus("on n1"));
  await b.next("statuspresence", (e) => (e.joins ?? []).some((p) => p.user_id === a.userId && p.status === "on n1"));

  b.close();
  await a.next("statuspresence", (e) => (e.leaves ?? []).some(byUser(b.userId)));
});

test("the matchmaker matches players on different nodes; the token's relayed match spans them", async () => {
  const { a, b } = await twoPlayers();
  const id = hex();
  const ta = await call("a ticket", a.socket.addMatchmaker(`+properties.id:${id} +properties.skill:>=10`, 2, 2, { id }, { skill: 12 }));
  const tb = await call("b ticket", b.socket.addMatchmaker(`+properties.id:${id} +properties.skill:<=20`, 2, 2, { id }, { skill: 18 }));
  const ma = await a.next("matchmakermatched");
  const mb = await b.next("matchmakermatched");
  assert.equal(ma.ticket, ta.ticket);
  assert.equal(mb.ticket, tb.ticket);
  assert.equal(ma.token, mb.token);
  assert.equal(ma.match_id, undefined);
  assert.deepEqual(ma.users.map((u) => u.presence.user_id).sort(), [a.userId, b.userId].sort());
  assert.equal(ma.self.presence.user_id, a.userId);
  assert.equal(mb.self.presence.user_id, b.userId);
  assert.deepEqual(ma.users.find((u) => u.presence.user_id === b.userId).numeric_properties, { skill: 18 });

  const ja = await call("a joins by token", a.socket.joinMatch(null, ma.token));
  const jb = await call("b joins by token", b.socket.joinMatch(null, mb.token));
  assert.equal(jb.match_id, ja.match_id);
  assert.match(ja.match_id, /\.$/);
  await learnsOf(b, jb, "matchpresence", a.userId);
  await a.next("matchpresence", (e) => (e.joins ?? []).some(byUser(b.userId)));
  await a.socket.sendMatchState(ja.match_id, 1, "a to b");
  assert.equal(text((await b.next("matchdata")).data), "a to b");
  await b.socket.sendMatchState(jb.match_id, 2, "b to a");
  const back = await a.next("matchdata");
  assert.equal(back.op_code, 2);
  assert.equal(text(back.data), "b to a");
  assert.equal(back.presence.user_id, b.userId);
});

test("an authoritative match created through node 3 is played from nodes 1 and 2; killing node 3 tells both", async () => {
  const { a, b } = await twoPlayers();
  const tag = hex();
  const label = JSON.stringify({ tag, mode: "cluster" });
  // The RPC runs on node 3, so nk.match_create starts the match there.
  const res = await must("create_authoritative_match via n3", clients[2].rpc(a.session, "clientrpc.create_authoritative_match", { label }));
  const matchId = res.payload.match_id;
  assert.match(matchId, /^[0-9a-f-]{36}\.n3$/);

  // Listed from node 1 by a label query, though it runs on node 3.
  const listed = await must("listMatches via n1", clients[0].listMatches(a.session, 10, true, "", 0, 100, `+label.tag:${tag}`));
  assert.deepEqual((listed.matches ?? []).map((m) => m.match_id), [matchId]);

  const ja = await call("a joins", a.socket.joinMatch(matchId, null, { seat: "1" }));
  assert.equal(ja.authoritative, true);
  assert.equal(ja.label, label);
  const wa = JSON.parse(text((await a.next("matchdata", (d) => d.op_code === 1)).data));
  assert.deepEqual(wa, { user_id: a.userId, node: "n1", metadata: { seat: "1" } });
  const jb = await call("b joins", b.socket.joinMatch(matchId, null, { seat: "2" }));
  await learnsOf(b, jb, "matchpresence", a.userId);
  const wb = JSON.parse(text((await b.next("matchdata", (d) => d.op_code === 1)).data));
  assert.deepEqual(wb, { user_id: b.userId, node: "n2", metadata: { seat: "2" } });
  await a.next("matchpresence", (e) => (e.joins ?? []).some(byUser(b.userId)));

  // Data both ways through the match on node 3: each message comes back to both (op + 100).
  await a.socket.sendMatchState(matchId, 10, "move a");
  await b.socket.sendMatchState(matchId, 20, "move b");
  for (const s of [a, b]) {
    const da = await s.next("matchdata", (d) => d.op_code === 110);
    assert.equal(text(da.data), "move a");
    assert.equal(da.presence.user_id, a.userId);
    const db = await s.next("matchdata", (d) => d.op_code === 120);
    assert.equal(text(db.data), "move b");
    assert.equal(db.presence.user_id, b.userId);
  }
  const sig = await must("signal via n2", clients[1].rpc(b.session, "clientrpc.signal_match", { match_id: matchId, data: "who" }));
  assert.deepEqual(sig.payload, { data: "who", members: 2 });

  // The match's node dies: both members hear that everyone left, within 5 s.
  const killedAt = Date.now();
  await cluster.servers[2].kill("SIGKILL");
  // Each is told that both members left (its own leave included), however the two nodes'
  // views of the loss interleave.
  const leftUsers = (events) => new Set(events.filter((e) => e.match_id === matchId).flatMap((e) => (e.leaves ?? []).map((p) => p.user_id)));
  const bothLeft = (events) => leftUsers(events).has(a.userId) && leftUsers(events).has(b.userId);
  await Promise.all([a.until("matchpresence", bothLeft, 5000), b.until("matchpresence", bothLeft, 5000)]);
  const elapsed = Date.now() - killedAt;
  assert.ok(elapsed <= 5000, `told after ${elapsed} ms`);
  // A rejoin finds no match (rtapi MATCH_NOT_FOUND).
  await expectSocketError("rejoin after the kill", a.socket.joinMatch(matchId), 4);
  // The match is gone from the listing of the surviving nodes.
  const after = await must("listMatches via n1 after the kill", clients[0].listMatches(a.session, 10, true, "", 0, 100, `+label.tag:${tag}`));
  assert.deepEqual(after.matches ?? [], []);
});
