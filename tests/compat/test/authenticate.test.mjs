// Authentication through nakama-js: custom, device, email; create flag, username,
// session vars, server key, and the error statuses of NAKAMA-SURFACE §3.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { startServer } from "../lib/server.mjs";
import {
  expectStatus,
  must,
  newClient,
  randomEmail,
  randomId,
  randomUsername,
} from "../lib/client.mjs";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let server;
let client;

before(async () => {
  server = await startServer();
  client = newClient(server);
});

after(async () => {
  await server?.stop();
});

describe("authenticateCustom", () => {
  test("creates a user the first time and finds it the second time", async () => {
    const id = randomId("custom");
    const first = await must("first authenticateCustom", client.authenticateCustom(id, true));
    assert.equal(first.created, true, "first authenticate should report created=true");
    assert.match(first.user_id ?? "", UUID, "session.user_id (jwt uid) should be a UUID");
    assert.equal(typeof first.username, "string", "session.username (jwt usn) should be set");
    assert.ok(first.username.length > 0, "a generated username should not be empty");
    assert.ok(first.token.split(".").length === 3, "token should be a JWT");
    assert.ok(first.refresh_token.split(".").length === 3, "refresh_token should be a JWT");
    assert.ok(
      first.expires_at > Date.now() / 1000 + 3600,
      `token exp should honour --session.token_expiry_sec 7200 (exp=${first.expires_at})`,
    );

    const second = await must("second authenticateCustom", client.authenticateCustom(id, true));
    assert.equal(second.created, false, "second authenticate should not report created");
    assert.equal(second.user_id, first.user_id, "same custom id should give the same user");
    assert.equal(second.username, first.username, "same user should keep its username");
  });

  test("create defaults to true when omitted", async () => {
    const id = randomId("custom");
    const s = await must("authenticateCustom without create", client.authenticateCustom(id));
    assert.equal(s.created, true, "create should default to true");
  });

  test("vars given at authenticate come back in session.vars", async () => {
    const id = randomId("custom");
    const vars = { platform: "node", level: "7" };
    const s = await must(
      "authenticateCustom with vars",
      client.authenticateCustom(id, true, undefined, vars),
    );
    assert.deepEqual(s.vars, vars, "session.vars (jwt vrs) should equal the vars sent");
  });

  test("create=false for an unknown id is rejected with 404", async () => {
    await expectStatus(
      "authenticateCustom(unknown, create=false)",
      client.authenticateCustom(randomId("custom"), false),
      404,
      5,
    );
  });

  test("create=false for a known id logs in", async () => {
    const id = randomId("custom");
    const created = await must("create", client.authenticateCustom(id, true));
    const again = await must("login", client.authenticateCustom(id, false));
    assert.equal(again.user_id, created.user_id, "create=false should find the existing user");
    assert.equal(again.created, false, "create=false login should not report created");
  });

  test("a custom id shorter than 6 bytes is rejected with 400", async () => {
    await expectStatus(
      "authenticateCustom('abc')",
      client.authenticateCustom("abc", true),
      400,
      3,
    );
  });

  test("an empty custom id is rejected with 400", async () => {
    await expectStatus("authenticateCustom('')", client.authenticateCustom("", true), 400, 3);
  });

  test("username param is honoured and a taken username gives 409", async () => {
    const username = randomUsername("auth");
    const first = await must(
      "authenticateCustom with username",
      client.authenticateCustom(randomId("custom"), true, username),
    );
    assert.equal(first.username, username, "session.username should be the requested username");

    await expectStatus(
      "second new user asking for the same username",
      client.authenticateCustom(randomId("custom"), true, username),
      409,
      6,
    );
  });

  test("a wrong server key is rejected with 401", async () => {
    const bad = newClient(server, "badkey");
    await expectStatus(
      "authenticateCustom with server key 'badkey'",
      bad.authenticateCustom(randomId("custom"), true),
      401,
      16,
    );
  });
});

describe("authenticateDevice", () => {
  test("creates a user the first time and finds it the second time", async () => {
    const id = randomId("device");
    const first = await must("first authenticateDevice", client.authenticateDevice(id, true));
    assert.equal(first.created, true, "first authenticateDevice should report created=true");
    assert.match(first.user_id ?? "", UUID, "session.user_id should be a UUID");

    const second = await must("second authenticateDevice", client.authenticateDevice(id, true));
    assert.equal(second.created, false, "second authenticateDevice should not report created");
    assert.equal(second.user_id, first.user_id, "same device id should give the same user");
  });

  test("vars and username are honoured", async () => {
    const username = randomUsername("dev");
    const vars = { k: "v" };
    const s = await must(
      "authenticateDevice with username and vars",
      client.authenticateDevice(randomId("device"), true, username, vars),
    );
    assert.equal(s.username, username, "session.username");
    assert.deepEqual(s.vars, vars, "session.vars");
  });

  test("create=false for an unknown device is rejected with 404", async () => {
    await expectStatus(
      "authenticateDevice(unknown, create=false)",
      client.authenticateDevice(randomId("device"), false),
      404,
      5,
    );
  });

  test("a device id shorter than 10 bytes is rejected with 400", async () => {
    await expectStatus(
      "authenticateDevice('short')",
      client.authenticateDevice("short", true),
      400,
      3,
    );
  });
});

describe("authenticateEmail", () => {
  test("creates a user the first time and finds it the second time", async () => {
    const email = randomEmail();
    const password = "correct-horse-battery";
    const first = await must(
      "first authenticateEmail",
      client.authenticateEmail(email, password, true),
    );
    assert.equal(first.created, true, "first authenticateEmail should report created=true");

    const second = await must(
      "second authenticateEmail",
      client.authenticateEmail(email, password, true),
    );
    assert.equal(second.created, false, "second authenticateEmail should not report created");
    assert.equal(second.user_id, first.user_id, "same email should give the same user");

    const login = await must(
      "authenticateEmail create=false",
      client.authenticateEmail(email, password, false),
    );
    assert.equal(login.user_id, first.user_id, "create=false should find the same user");
  });

  test("vars given at authenticate come back in session.vars", async () => {
    const vars = { region: "eu" };
    const s = await must(
      "authenticateEmail with vars",
      client.authenticateEmail(randomEmail(), "password123", true, undefined, vars),
    );
    assert.deepEqual(s.vars, vars, "session.vars");
  });

  test("a wrong password is rejected with 401", async () => {
    const email = randomEmail();
    await must("create email user", client.authenticateEmail(email, "password123", true));
    await expectStatus(
      "authenticateEmail with wrong password",
      client.authenticateEmail(email, "wrong-password", false),
      401,
      16,
    );
    await expectStatus(
      "authenticateEmail with wrong password and create=true",
      client.authenticateEmail(email, "wrong-password", true),
      401,
      16,
    );
  });

  test("create=false for an unknown email is rejected with 404", async () => {
    await expectStatus(
      "authenticateEmail(unknown, create=false)",
      client.authenticateEmail(randomEmail(), "password123", false),
      404,
      5,
    );
  });

  test("a password shorter than 8 characters is rejected with 400", async () => {
    await expectStatus(
      "authenticateEmail with 3-char password",
      client.authenticateEmail(randomEmail(), "abc", true),
      400,
      3,
    );
  });
});
