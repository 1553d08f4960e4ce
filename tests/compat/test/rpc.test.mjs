// RPCs and hooks through nakama-js, against a node loaded with the seed modules
// (tests/../modules/test/seeds) plus a level-setting RPC for the before hook.

import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";

import { startServer } from "../lib/server.mjs";
import { expectStatus, must, newClient, newUser } from "../lib/client.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const seeds = path.join(here, "..", "..", "..", "modules", "test", "seeds");

let server;
let client;
let modulesDir;

before(async () => {
  modulesDir = fs.mkdtempSync(path.join(os.tmpdir(), "shoal-compat-modules-"));
  for (const f of ["custom_rpc.lua", "limit_friends.lua", "add_reward.lua"]) {
    fs.copyFileSync(path.join(seeds, f), path.join(modulesDir, f));
  }
  fs.writeFileSync(
    path.join(modulesDir, "set_level.lua"),
    "local nk = require('nakama')\nnk.register_rpc(function(context, payload)\n  nk.account_update_id(context.user_id, {level = tonumber(payload)})\n  return '{}'\nend, 'set_level')\n",
  );
  server = await startServer({ extraArgs: ["--runtime.path", modulesDir] });
  client = newClient(server);
});

after(async () => {
  await server?.stop();
  fs.rmSync(modulesDir, { recursive: true, force: true });
});

test("client.rpc sends a JSON payload and parses the JSON result", async () => {
  const { session } = await newUser(client);
  const res = await must("rpc custom_rpc_func_id", client.rpc(session, "custom_rpc_func_id", { hello: "world", n: 3 }));
  assert.deepEqual(res.payload, { hello: "world", n: 3 });
});

test("an unknown RPC is 404", async () => {
  const { session } = await newUser(client);
  await expectStatus("rpc nope", client.rpc(session, "nope", {}), 404);
});

test("a before hook guards addFriends and an after hook follows it", async () => {
  const a = await newUser(client);
  const b = await newUser(client);
  await must("set_level 5", client.rpc(a.session, "set_level", 5));
  await expectStatus("addFriends at level 5", client.addFriends(a.session, [b.session.user_id]), 500);
  await must("set_level 12", client.rpc(a.session, "set_level", 12));
  await must("addFriends at level 12", client.addFriends(a.session, [b.session.user_id]));
  const list = await must("listFriends", client.listFriends(b.session));
  assert.equal(list.friends[0].user.id, a.session.user_id);
  // add_reward runs after the response: poll for its storage write.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await client.readStorageObjects(a.session, {
      object_ids: [{ collection: "rewards", key: "reward", user_id: a.session.user_id }],
    });
    if (r.objects.length === 1) break;
    assert.ok(Date.now() < deadline, "the after hook never wrote the reward");
    await new Promise((res) => setTimeout(res, 50));
  }
});
