// nakama-js realtime sockets for the compat tests: connect with the default text adapter
// (`client.createSocket(false, false)`), record every pushed message, and wait for them
// with timeouts instead of sleeping.
//
//   const s = await openSocket(client, session);          // socket.connect(session, false)
//   await s.socket.joinChat(...);
//   const msg = await s.next("channelmessage", (m) => m.content.n === 1);
//   await closeSockets();                                  // in afterEach()

import assert from "node:assert/strict";
import { createHash } from "node:crypto";

import { newUser } from "./client.mjs";

/** The pushed-message handlers of nakama-js's DefaultSocket, without the "on". */
export const EVENTS = [
  "notification",
  "matchdata",
  "matchpresence",
  "matchmakerticket",
  "matchmakermatched",
  "statuspresence",
  "streampresence",
  "streamdata",
  "channelmessage",
  "channelpresence",
  "disconnect",
  "error",
];

/** How long next() waits by default. */
export const EVENT_TIMEOUT_MS = 5000;

const open = new Set();

/**
 * A connected nakama-js socket plus a log of what it was pushed. Every `on<event>` handler
 * of the socket is replaced by one that appends to the log, so tests never miss an event
 * that arrives before they start waiting.
 */
export class RecordedSocket {
  constructor(socket, session, label) {
    this.socket = socket;
    this.session = session;
    this.label = label;
    /** name → [{ value, used }] in arrival order. */
    this.log = new Map(EVENTS.map((e) => [e, []]));
    this.waiters = [];
    this.watchers = new Set();
    for (const name of EVENTS) {
      socket[`on${name}`] = (value) => this._push(name, value);
    }
  }

  _push(name, value) {
    const entry = { value, used: false };
    this.log.get(name).push(entry);
    for (const w of this.watchers) w();
    for (const w of this.waiters) {
      if (w.name === name && !entry.used && w.pred(value)) {
        entry.used = true;
        w.resolve(value);
        this.waiters = this.waiters.filter((x) => x !== w);
        return;
      }
    }
  }

  /** Every `name` event so far (used or not) that satisfies pred. */
  all(name, pred = () => true) {
    return this.log.get(name).filter((e) => pred(e.value)).map((e) => e.value);
  }

  /**
   * The first `name` event not yet returned by next() that satisfies pred, waiting up to
   * timeoutMs for it to arrive. Rejects with what did arrive if it never does.
   */
  next(name, pred = () => true, timeoutMs = EVENT_TIMEOUT_MS) {
    assert.ok(this.log.has(name), `unknown socket event ${name}`);
    const found = this.log.get(name).find((e) => !e.used && pred(e.value));
    if (found) {
      found.used = true;
      return Promise.resolve(found.value);
    }
    return new Promise((resolve, reject) => {
      const w = { name, pred };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        const got = this.all(name).map((v) => safeJson(v)).join("\n  ");
        reject(
          new Error(
            `${this.label}: no matching on${name} within ${timeoutMs} ms; received so far:\n  ${got || "(none)"}`,
          ),
        );
      }, timeoutMs);
      w.resolve = (v) => {
        clearTimeout(timer);
        resolve(v);
      };
      this.waiters.push(w);
    });
  }

  /**
   * Waits until cond(all `name` events so far) is true (checked now and on each arrival);
   * resolves with those events. Rejects after timeoutMs with what did arrive.
   */
  until(name, cond, timeoutMs = EVENT_TIMEOUT_MS) {
    assert.ok(this.log.has(name), `unknown socket event ${name}`);
    if (cond(this.all(name))) return Promise.resolve(this.all(name));
    return new Promise((resolve, reject) => {
      const watch = () => {
        if (!cond(this.all(name))) return;
        clearTimeout(timer);
        this.watchers.delete(watch);
        resolve(this.all(name));
      };
      const timer = setTimeout(() => {
        this.watchers.delete(watch);
        const got = this.all(name).map((v) => safeJson(v)).join("\n  ");
        reject(new Error(`${this.label}: on${name} events never satisfied the condition within ${timeoutMs} ms; received:\n  ${got || "(none)"}`));
      }, timeoutMs);
      this.watchers.add(watch);
    });
  }

  get userId() {
    return this.session.user_id;
  }

  close() {
    open.delete(this);
    try {
      this.socket.disconnect(false);
    } catch {
      // already closed
    }
  }
}

/**
 * Creates a socket with nakama-js's defaults (text adapter, no SSL, not verbose), connects
 * it with `socket.connect(session, createStatus)` and starts recording its events.
 * The connect timeout is shortened from 30 s so a failed connect does not hold the
 * process open.
 */
export async function openSocket(client, session, { createStatus = false, label } = {}) {
  const socket = client.createSocket(false, false);
  const rec = new RecordedSocket(socket, session, label ?? `socket(${session.username ?? session.user_id})`);
  try {
    await socket.connect(session, createStatus, 5000);
  } catch (err) {
    throw new Error(`${rec.label}: socket.connect failed: ${describeSocketError(err)}`);
  }
  open.add(rec);
  return rec;
}

/** Disconnects every socket openSocket() made and that is still open. */
export function closeSockets() {
  for (const s of [...open]) s.close();
}

/**
 * Awaits a socket call that must be answered with an error envelope; checks its code
 * (rtapi.Error.Code) and returns the error `{code, message}`.
 */
export async function expectSocketError(what, promise, code) {
  let result;
  try {
    result = await promise;
  } catch (err) {
    assert.ok(err && typeof err === "object" && !(err instanceof Error), `${what}: expected an error envelope, got ${describeSocketError(err)}`);
    // Code 0 (RUNTIME_EXCEPTION) is omitted from the JSON.
    assert.equal(err.code ?? 0, code, `${what}: error code (error=${safeJson(err)})`);
    assert.equal(typeof err.message, "string", `${what}: error message (error=${safeJson(err)})`);
    return err;
  }
  assert.fail(`${what}: expected an error envelope with code ${code}, got ${safeJson(result)}`);
}

/** Turns a socket rejection (an error envelope, a timeout string, an Event) into text. */
export function describeSocketError(err) {
  if (err instanceof Error) return err.stack ?? err.message;
  if (typeof err === "string") return err;
  if (err && typeof err === "object" && "type" in err && "target" in err) {
    return `WebSocket ${err.type}${err.message ? `: ${err.message}` : ""}`;
  }
  return safeJson(err);
}

/** Awaits a socket call that must succeed, naming it if it does not. */
export async function call(what, promise) {
  try {
    return await promise;
  } catch (err) {
    throw new Error(`${what} failed: ${describeSocketError(err)}`);
  }
}

/** Match data bytes (nakama-js gives a Uint8Array) as text. */
export function text(data) {
  return data ? new TextDecoder().decode(data) : "";
}

function safeJson(v) {
  try {
    return JSON.stringify(v, (_, x) => (x instanceof Uint8Array ? `<bytes ${new TextDecoder().decode(x)}>` : x));
  } catch {
    return String(v);
  }
}

/**
 * A fresh user (custom id) with a connected, recording socket:
 * `{ session, socket, next, all, close, userId }` (a RecordedSocket).
 */
export async function newPlayer(client, { createStatus = false, label, username } = {}) {
  const { session } = await newUser(client, { username });
  return openSocket(client, session, { createStatus, label: label ?? `socket(${session.username})` });
}

/** A Nakama-style name-derived relayed match id: UUIDv5(NamespaceDNS, name) + ".". */
export function namedMatchId(name) {
  const ns = Buffer.from("6ba7b8109dad11d180b400c04fd430c8", "hex");
  const h = createHash("sha1").update(ns).update(name, "utf8").digest().subarray(0, 16);
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.toString("hex");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}.`;
}
