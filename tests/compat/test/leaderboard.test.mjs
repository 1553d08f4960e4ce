// Leaderboards and tournaments through nakama-js, against a node loaded with
// modules/test/leaderboards (boards and tournaments created at module load).

import assert from "node:assert/strict";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";

import { startServer } from "../lib/server.mjs";
import { expectStatus, must, newClient, newUser } from "../lib/client.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const modules = path.join(here, "..", "..", "..", "modules", "test", "leaderboards");

let server;
let client;

before(async () => {
  server = await startServer({ extraArgs: ["--runtime.path", modules] });
  client = newClient(server);
});

after(async () => {
  await server?.stop();
});

test("writeLeaderboardRecord, listLeaderboardRecords and around-owner agree on ranks", async () => {
  const users = [];
  for (let i = 0; i < 4; i++) users.push((await newUser(client)).session);
  // Scores ascend with i on a desc board: the last user ranks first. A unique offset keeps
  // this test independent of other writes to the board.
  const base = 1000000 + Math.floor(Math.random() * 1000) * 10;
  for (let i = 0; i < users.length; i++) {
    const rec = await must("writeLeaderboardRecord", client.writeLeaderboardRecord(users[i], "scores", { score: base + i, subscore: 1, metadata: { n: i } }));
    assert.equal(rec.score, base + i);
    assert.equal(rec.num_score, 1);
    assert.deepEqual(rec.metadata, { n: i });
  }
  const top = await must("listLeaderboardRecords", client.listLeaderboardRecords(users[0], "scores", undefined, 4));
  assert.deepEqual(top.records.map((r) => r.owner_id), [...users].reverse().map((s) => s.user_id));
  assert.deepEqual(top.records.map((r) => r.rank), [1, 2, 3, 4]);
  const mine = await must("listLeaderboardRecords owners", client.listLeaderboardRecords(users[0], "scores", [users[0].user_id]));
  assert.equal(mine.owner_records[0].rank, 4);
  const around = await must(
    "listLeaderboardRecordsAroundOwner",
    client.listLeaderboardRecordsAroundOwner(users[0], "scores", users[1].user_id, 3),
  );
  assert.deepEqual(around.records.map((r) => r.rank), [2, 3, 4]);
  assert.ok(Number(around.rank_count) >= 4);
  // An authoritative board refuses client writes with 403.
  await expectStatus("writeLeaderboardRecord official", client.writeLeaderboardRecord(users[0], "official", { score: 1 }), 403, 7);
});

test("tournaments: listTournaments, joinTournament, writeTournamentRecord, listTournamentRecords", async () => {
  const { session } = await newUser(client);
  const list = await must("listTournaments", client.listTournaments(session, 0, 127, undefined, undefined, 10));
  const ids = list.tournaments.map((t) => t.id);
  assert.ok(ids.includes("open") && ids.includes("cup"), JSON.stringify(ids));
  const open = list.tournaments.find((t) => t.id === "open");
  assert.equal(open.category, 5);
  assert.equal(open.can_enter, true);
  assert.equal(await must("joinTournament", client.joinTournament(session, "open")), true);
  const rec = await must("writeTournamentRecord", client.writeTournamentRecord(session, "open", { score: 3 }));
  assert.equal(rec.score, 3);
  const again = await must("writeTournamentRecord incr", client.writeTournamentRecord(session, "open", { score: 4 }));
  assert.equal(again.score, 7, "the open tournament increments");
  const records = await must("listTournamentRecords", client.listTournamentRecords(session, "open", [session.user_id], 10));
  assert.equal(records.owner_records[0].score, 7);
  await expectStatus("writeTournamentRecord future", client.writeTournamentRecord(session, "future", { score: 1 }), 400, 9);
});
