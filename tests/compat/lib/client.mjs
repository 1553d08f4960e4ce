// The official nakama-js client, set up for Node, plus small test helpers.

import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { WebSocket } from "ws";

// nakama-js expects a browser-like global WebSocket (Node 20 has none). fetch, btoa
// and atob are Node 20 globals. Set this before nakama-js is used.
globalThis.WebSocket = WebSocket;

// Imported after the global is in place (the package's ESM build: its "exports" map
// sends `import` to dist/nakama-js.esm.mjs).
const { Client, Session } = await import("@heroiclabs/nakama-js");

export { Client, Session };

export const SERVER_KEY = "defaultkey";

/** A nakama-js Client pointed at a server from startServer(). */
export function newClient(server, serverKey = SERVER_KEY) {
  return new Client(serverKey, server.host, String(server.port), false);
}

/** A random id with a readable prefix (custom ids must be 6-128 bytes, device ids 10-128). */
export function randomId(prefix = "id") {
  return `${prefix}-${randomUUID()}`;
}

/** A random lower-case username (Nakama usernames are at most 128 bytes). */
export function randomUsername(prefix = "u") {
  return `${prefix}${randomUUID().replaceAll("-", "").slice(0, 16)}`;
}

/** A random, valid email address. */
export function randomEmail() {
  return `${randomUUID()}@example.com`;
}

/** hex(md5(s)): the storage object version for a stored value string. */
export function md5Hex(s) {
  return createHash("md5").update(s, "utf8").digest("hex");
}

/** Creates a fresh user by custom id; returns { session, customId }. */
export async function newUser(client, { username, vars } = {}) {
  const customId = randomId("custom");
  const session = await must(
    `authenticateCustom(${customId}, create=true, username=${username})`,
    client.authenticateCustom(customId, true, username, vars),
  );
  return { session, customId };
}

/** Turns whatever nakama-js rejected with into readable text. */
export async function describeRejection(err) {
  if (err && typeof err.status === "number" && typeof err.text === "function") {
    let body = "";
    try {
      body = await err.text();
    } catch {
      body = "<body already read>";
    }
    return `HTTP ${err.status} ${err.url ?? ""} body=${body}`;
  }
  if (err instanceof Error) {
    // fetch failures hide the reason (ECONNREFUSED when the server died) in `cause`.
    const cause = err.cause ? ` (cause: ${err.cause.code ?? ""} ${err.cause.message ?? err.cause})` : "";
    return `${err.stack ?? err.message}${cause}`;
  }
  return typeof err === "string" ? err : JSON.stringify(err);
}

/**
 * Awaits a call that must succeed. nakama-js rejects with the raw fetch Response on a
 * non-2xx status; this turns that into an Error naming the call, status and body.
 */
export async function must(what, promise) {
  try {
    return await promise;
  } catch (err) {
    throw new Error(`${what} failed: ${await describeRejection(err)}`);
  }
}

/**
 * Awaits a call that must be rejected with HTTP `status` (nakama-js throws the fetch
 * Response). If `grpcCode` is given, the body must be the gateway error
 * {"code": grpcCode, "message": ...}. Returns { status, body, json }.
 */
export async function expectStatus(what, promise, status, grpcCode) {
  let result;
  let rejected = false;
  let err;
  try {
    result = await promise;
  } catch (e) {
    rejected = true;
    err = e;
  }
  if (!rejected) {
    assert.fail(
      `${what}: expected rejection with HTTP ${status}, but it succeeded with ${safeJson(result)}`,
    );
  }
  if (!(err && typeof err.status === "number" && typeof err.text === "function")) {
    assert.fail(
      `${what}: expected rejection with HTTP ${status}, got a non-HTTP error: ${await describeRejection(err)}`,
    );
  }
  const body = await err.text().catch(() => "");
  assert.equal(err.status, status, `${what}: expected HTTP ${status}, got ${err.status} body=${body}`);
  let json;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  if (grpcCode !== undefined) {
    assert.ok(
      json && typeof json === "object",
      `${what}: error body should be JSON {"code","message"}, got ${body}`,
    );
    assert.equal(json.code, grpcCode, `${what}: gRPC code in error body (body=${body})`);
    assert.equal(typeof json.message, "string", `${what}: error body needs a message (body=${body})`);
  }
  return { status: err.status, body, json };
}

function safeJson(v) {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

/** RFC 3339 UTC timestamp as the gateway emits it (no fraction when nanos = 0). */
export const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
