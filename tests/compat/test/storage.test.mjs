// Storage through nakama-js: versions, OCC, permissions, listing with cursors, delete
// (NAKAMA-SURFACE §9).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { startServer } from "../lib/server.mjs";
import {
  RFC3339_UTC,
  expectStatus,
  md5Hex,
  must,
  newClient,
  newUser,
  randomId,
} from "../lib/client.mjs";

let server;
let client;

before(async () => {
  server = await startServer();
  client = newClient(server);
});

after(async () => {
  await server?.stop();
});

/** A fresh collection name per test, so tests never see each other's objects. */
const newCollection = () => randomId("col");

/** Reads one object of `owner` as `session`; returns the object or undefined. */
async function readOne(session, collection, key, ownerId) {
  const res = await must(
    `readStorageObjects(${collection}/${key} of ${ownerId})`,
    client.readStorageObjects(session, {
      object_ids: [{ collection, key, user_id: ownerId }],
    }),
  );
  assert.ok(Array.isArray(res.objects), "readStorageObjects result should have objects[]");
  assert.ok(res.objects.length <= 1, `at most one object expected: ${JSON.stringify(res.objects)}`);
  return res.objects[0];
}

/** Writes one object; returns its ack. */
async function writeOne(session, object) {
  const res = await must(
    `writeStorageObjects(${object.collection}/${object.key})`,
    client.writeStorageObjects(session, [object]),
  );
  assert.equal(res.acks?.length, 1, `one ack expected: ${JSON.stringify(res)}`);
  return res.acks[0];
}

describe("write and read", () => {
  test("acks carry version = hex(md5(stored JSON string)); read returns value and default permissions", async () => {
    const { session } = await newUser(client);
    const collection = newCollection();
    const a = { collection, key: "alpha", value: { hello: "world", n: 1, nested: { ok: true } } };
    const b = { collection, key: "beta", value: { list: [1, 2, 3] } };
    const res = await must("writeStorageObjects(2 objects)", client.writeStorageObjects(session, [a, b]));
    assert.equal(res.acks?.length, 2, `two acks expected: ${JSON.stringify(res)}`);

    // Acks come back in request order.
    for (const [i, obj] of [a, b].entries()) {
      const ack = res.acks[i];
      assert.equal(ack.collection, collection, `ack[${i}].collection`);
      assert.equal(ack.key, obj.key, `ack[${i}].key`);
      assert.equal(ack.user_id, session.user_id, `ack[${i}].user_id should be the caller`);
      assert.equal(
        ack.version,
        md5Hex(JSON.stringify(obj.value)),
        `ack[${i}].version should be hex md5 of ${JSON.stringify(obj.value)}`,
      );
    }

    const read = await must(
      "readStorageObjects(2 objects)",
      client.readStorageObjects(session, {
        object_ids: [
          { collection, key: "alpha", user_id: session.user_id },
          { collection, key: "beta", user_id: session.user_id },
        ],
      }),
    );
    assert.equal(read.objects.length, 2, `both objects should be read: ${JSON.stringify(read)}`);
    const byKey = Object.fromEntries(read.objects.map((o) => [o.key, o]));
    for (const obj of [a, b]) {
      const got = byKey[obj.key];
      assert.ok(got, `object ${obj.key} missing from read: ${JSON.stringify(read)}`);
      assert.deepEqual(got.value, obj.value, `${obj.key}.value round-trips`);
      assert.equal(got.collection, collection, `${obj.key}.collection`);
      assert.equal(got.user_id, session.user_id, `${obj.key}.user_id`);
      assert.equal(got.version, md5Hex(JSON.stringify(obj.value)), `${obj.key}.version`);
      assert.equal(got.permission_read, 1, `${obj.key}.permission_read defaults to 1`);
      assert.equal(got.permission_write, 1, `${obj.key}.permission_write defaults to 1`);
      assert.match(got.create_time ?? "", RFC3339_UTC, `${obj.key}.create_time`);
      assert.match(got.update_time ?? "", RFC3339_UTC, `${obj.key}.update_time`);
    }
  });

  test("reading a missing object returns no objects (no error)", async () => {
    const { session } = await newUser(client);
    const got = await readOne(session, newCollection(), "nope", session.user_id);
    assert.equal(got, undefined, "missing object should be silently left out");
  });

  test("a last-write-wins write replaces the value and the version", async () => {
    const { session } = await newUser(client);
    const collection = newCollection();
    await writeOne(session, { collection, key: "k", value: { v: 1 } });
    const ack = await writeOne(session, { collection, key: "k", value: { v: 2 } });
    assert.equal(ack.version, md5Hex(JSON.stringify({ v: 2 })), "version after overwrite");
    const got = await readOne(session, collection, "k", session.user_id);
    assert.deepEqual(got?.value, { v: 2 }, "value after overwrite");
  });

  test("a value that is not a JSON object is rejected with 400", async () => {
    const { session } = await newUser(client);
    // nakama-js JSON.stringifies value; an array is valid JSON but not an object.
    await expectStatus(
      "writeStorageObjects(value = [1,2])",
      client.writeStorageObjects(session, [{ collection: newCollection(), key: "k", value: [1, 2] }]),
      400,
      3,
    );
  });
});

describe("optimistic concurrency", () => {
  test("version '*' creates only if absent", async () => {
    const { session } = await newUser(client);
    const collection = newCollection();
    const ack = await writeOne(session, { collection, key: "k", value: { a: 1 }, version: "*" });
    assert.equal(ack.version, md5Hex(JSON.stringify({ a: 1 })), "version of the '*' insert");

    await expectStatus(
      "write with version '*' on an existing object",
      client.writeStorageObjects(session, [{ collection, key: "k", value: { a: 2 }, version: "*" }]),
      400,
      3,
    );
    const got = await readOne(session, collection, "k", session.user_id);
    assert.deepEqual(got?.value, { a: 1 }, "rejected write must not change the value");
  });

  test("a stale version is rejected; the current version succeeds and changes the version", async () => {
    const { session } = await newUser(client);
    const collection = newCollection();
    const v1 = (await writeOne(session, { collection, key: "k", value: { step: 1 } })).version;
    const v2 = (await writeOne(session, { collection, key: "k", value: { step: 2 } })).version;
    assert.notEqual(v1, v2, "different values should give different versions");

    await expectStatus(
      "write with a stale version",
      client.writeStorageObjects(session, [{ collection, key: "k", value: { step: 3 }, version: v1 }]),
      400,
      3,
    );

    const ack = await writeOne(session, { collection, key: "k", value: { step: 3 }, version: v2 });
    assert.equal(ack.version, md5Hex(JSON.stringify({ step: 3 })), "version after the OCC write");
    assert.notEqual(ack.version, v2, "OCC write should change the version");
    const got = await readOne(session, collection, "k", session.user_id);
    assert.deepEqual(got?.value, { step: 3 }, "value after the OCC write");
    assert.equal(got?.version, ack.version, "read version equals ack version");
  });

  test("a specific version on a missing object is rejected", async () => {
    const { session } = await newUser(client);
    await expectStatus(
      "write with a version to a missing object",
      client.writeStorageObjects(session, [
        { collection: newCollection(), key: "k", value: { a: 1 }, version: md5Hex("{}") },
      ]),
      400,
      3,
    );
  });

  test("a batch with one rejected write writes nothing", async () => {
    const { session } = await newUser(client);
    const collection = newCollection();
    await writeOne(session, { collection, key: "exists", value: { a: 1 } });
    await expectStatus(
      "batch write where the second op fails its '*' check",
      client.writeStorageObjects(session, [
        { collection, key: "fresh", value: { b: 1 } },
        { collection, key: "exists", value: { a: 2 }, version: "*" },
      ]),
      400,
      3,
    );
    const fresh = await readOne(session, collection, "fresh", session.user_id);
    assert.equal(fresh, undefined, "a batch is one transaction: the good op must not be written");
  });
});

describe("permissions", () => {
  test("permission_read 2 is readable by another user, 1 is not, 0 not even by the owner", async () => {
    const owner = await newUser(client);
    const other = await newUser(client);
    const collection = newCollection();
    const res = await must(
      "write objects with read 0/1/2",
      client.writeStorageObjects(owner.session, [
        { collection, key: "public", value: { p: 2 }, permission_read: 2, permission_write: 1 },
        { collection, key: "private", value: { p: 1 }, permission_read: 1, permission_write: 1 },
        { collection, key: "hidden", value: { p: 0 }, permission_read: 0, permission_write: 1 },
      ]),
    );
    assert.equal(res.acks?.length, 3, "three acks");

    const pub = await readOne(other.session, collection, "public", owner.session.user_id);
    assert.ok(pub, "a read=2 object should be readable by another user");
    assert.deepEqual(pub.value, { p: 2 }, "public value");
    assert.equal(pub.permission_read, 2, "public permission_read");
    assert.equal(pub.user_id, owner.session.user_id, "public object's user_id is the owner");

    const priv = await readOne(other.session, collection, "private", owner.session.user_id);
    assert.equal(priv, undefined, "a read=1 object should be left out for another user");
    const privOwn = await readOne(owner.session, collection, "private", owner.session.user_id);
    assert.deepEqual(privOwn?.value, { p: 1 }, "a read=1 object should be readable by its owner");

    const hiddenOther = await readOne(other.session, collection, "hidden", owner.session.user_id);
    assert.equal(hiddenOther, undefined, "a read=0 object should be left out for another user");
    const hiddenOwn = await readOne(owner.session, collection, "hidden", owner.session.user_id);
    assert.equal(hiddenOwn, undefined, "a read=0 object should be left out even for its owner");
  });

  test("one read with mixed permissions returns only the readable objects", async () => {
    const owner = await newUser(client);
    const other = await newUser(client);
    const collection = newCollection();
    await must(
      "write",
      client.writeStorageObjects(owner.session, [
        { collection, key: "a", value: { x: 1 }, permission_read: 2 },
        { collection, key: "b", value: { x: 2 }, permission_read: 1 },
      ]),
    );
    const res = await must(
      "read both as another user",
      client.readStorageObjects(other.session, {
        object_ids: [
          { collection, key: "a", user_id: owner.session.user_id },
          { collection, key: "b", user_id: owner.session.user_id },
        ],
      }),
    );
    assert.deepEqual(res.objects.map((o) => o.key), ["a"], "only the public object");
  });

  test("permission_write 0: created by the client, then client writes and deletes are rejected", async () => {
    const { session } = await newUser(client);
    const collection = newCollection();
    const ack = await writeOne(session, {
      collection,
      key: "locked",
      value: { v: 1 },
      permission_read: 1,
      permission_write: 0,
    });
    assert.equal(ack.version, md5Hex(JSON.stringify({ v: 1 })), "version of the write=0 object");
    const got = await readOne(session, collection, "locked", session.user_id);
    assert.equal(got?.permission_write, 0, "stored permission_write 0");

    await expectStatus(
      "second client write to a write=0 object",
      client.writeStorageObjects(session, [{ collection, key: "locked", value: { v: 2 } }]),
      400,
      3,
    );
    await expectStatus(
      "client delete of a write=0 object",
      client.deleteStorageObjects(session, { object_ids: [{ collection, key: "locked" }] }),
      400,
      3,
    );
    const still = await readOne(session, collection, "locked", session.user_id);
    assert.deepEqual(still?.value, { v: 1 }, "the write=0 object is unchanged");
  });

  test("invalid permission values are rejected with 400", async () => {
    const { session } = await newUser(client);
    await expectStatus(
      "permission_read 3",
      client.writeStorageObjects(session, [
        { collection: newCollection(), key: "k", value: {}, permission_read: 3 },
      ]),
      400,
      3,
    );
    await expectStatus(
      "permission_write 2",
      client.writeStorageObjects(session, [
        { collection: newCollection(), key: "k", value: {}, permission_write: 2 },
      ]),
      400,
      3,
    );
  });
});

describe("list", () => {
  test("own listing returns own readable objects", async () => {
    const { session } = await newUser(client);
    const collection = newCollection();
    await must(
      "write 3 objects",
      client.writeStorageObjects(session, [
        { collection, key: "a", value: { n: 1 }, permission_read: 1 },
        { collection, key: "b", value: { n: 2 }, permission_read: 2 },
        { collection, key: "z", value: { n: 0 }, permission_read: 0 },
      ]),
    );
    const list = await must(
      "listStorageObjects(own, limit 10)",
      client.listStorageObjects(session, collection, session.user_id, 10),
    );
    const keys = list.objects.map((o) => o.key).sort();
    assert.deepEqual(keys, ["a", "b"], "own listing: read>=1 objects only (read=0 is never listed)");
    for (const o of list.objects) {
      assert.equal(o.user_id, session.user_id, `${o.key}.user_id`);
      assert.equal(o.collection, collection, `${o.key}.collection`);
      assert.equal(o.version, md5Hex(JSON.stringify(o.value)), `${o.key}.version`);
    }
    assert.ok(!list.cursor, `no more pages: cursor should be empty, got ${JSON.stringify(list.cursor)}`);
  });

  test("a cursor pages through 3 objects with limit 1", async () => {
    const { session } = await newUser(client);
    const collection = newCollection();
    await must(
      "write 3 objects",
      client.writeStorageObjects(session, [
        { collection, key: "k2", value: { i: 2 } },
        { collection, key: "k1", value: { i: 1 } },
        { collection, key: "k3", value: { i: 3 } },
      ]),
    );
    const keys = [];
    const cursors = [];
    let cursor;
    for (let page = 0; page < 10; page++) {
      const res = await must(
        `listStorageObjects page ${page} (limit 1, cursor ${cursor})`,
        client.listStorageObjects(session, collection, session.user_id, 1, cursor),
      );
      assert.ok(res.objects.length <= 1, `page ${page} should hold at most 1 object`);
      keys.push(...res.objects.map((o) => o.key));
      cursors.push(res.cursor);
      cursor = res.cursor;
      if (!cursor) break;
    }
    assert.deepEqual(keys, ["k1", "k2", "k3"], `keys across pages in order (cursors ${JSON.stringify(cursors)})`);
    assert.ok(!cursor, "the last page should have an empty cursor");
    assert.equal(cursors.filter(Boolean).length, 2, `exactly 2 non-empty cursors: ${JSON.stringify(cursors)}`);
  });

  test("listing another user's collection returns only their public objects", async () => {
    const owner = await newUser(client);
    const other = await newUser(client);
    const collection = newCollection();
    await must(
      "write mixed objects",
      client.writeStorageObjects(owner.session, [
        { collection, key: "pub1", value: { a: 1 }, permission_read: 2 },
        { collection, key: "priv", value: { a: 2 }, permission_read: 1 },
        { collection, key: "pub2", value: { a: 3 }, permission_read: 2 },
        { collection, key: "hid", value: { a: 4 }, permission_read: 0 },
      ]),
    );
    const list = await must(
      "listStorageObjects(other user's, limit 10)",
      client.listStorageObjects(other.session, collection, owner.session.user_id, 10),
    );
    assert.deepEqual(
      list.objects.map((o) => o.key),
      ["pub1", "pub2"],
      "only read=2 objects, ordered by key",
    );
    for (const o of list.objects) {
      assert.equal(o.user_id, owner.session.user_id, `${o.key}.user_id is the owner`);
      assert.equal(o.permission_read, 2, `${o.key}.permission_read`);
    }
  });
});

describe("delete", () => {
  test("deleteStorageObjects removes the object", async () => {
    const { session } = await newUser(client);
    const collection = newCollection();
    await writeOne(session, { collection, key: "gone", value: { a: 1 } });
    const ok = await must(
      "deleteStorageObjects",
      client.deleteStorageObjects(session, { object_ids: [{ collection, key: "gone" }] }),
    );
    assert.equal(ok, true, "deleteStorageObjects should resolve true");
    const got = await readOne(session, collection, "gone", session.user_id);
    assert.equal(got, undefined, "deleted object should not be read back");
    const list = await must(
      "list after delete",
      client.listStorageObjects(session, collection, session.user_id, 10),
    );
    assert.deepEqual(list.objects, [], "deleted object should not be listed");
  });

  test("a conditional delete with a wrong version is rejected; the right version deletes", async () => {
    const { session } = await newUser(client);
    const collection = newCollection();
    const ack = await writeOne(session, { collection, key: "k", value: { a: 1 } });
    await expectStatus(
      "delete with a wrong version",
      client.deleteStorageObjects(session, {
        object_ids: [{ collection, key: "k", version: md5Hex("not it") }],
      }),
      400,
      3,
    );
    assert.ok(await readOne(session, collection, "k", session.user_id), "object survives the rejected delete");
    await must(
      "delete with the right version",
      client.deleteStorageObjects(session, { object_ids: [{ collection, key: "k", version: ack.version }] }),
    );
    assert.equal(await readOne(session, collection, "k", session.user_id), undefined, "object deleted");
  });

  test("deleting a missing object is rejected with 400", async () => {
    const { session } = await newUser(client);
    await expectStatus(
      "delete a missing object",
      client.deleteStorageObjects(session, { object_ids: [{ collection: newCollection(), key: "none" }] }),
      400,
      3,
    );
  });

  test("a user cannot delete another user's object (deletes only ever target the caller's own)", async () => {
    const owner = await newUser(client);
    const other = await newUser(client);
    const collection = newCollection();
    await writeOne(owner.session, { collection, key: "mine", value: { a: 1 }, permission_read: 2 });
    // The delete request has no user_id: it addresses the caller's own (missing) object.
    await expectStatus(
      "other user deleting 'mine'",
      client.deleteStorageObjects(other.session, { object_ids: [{ collection, key: "mine" }] }),
      400,
      3,
    );
    assert.ok(
      await readOne(owner.session, collection, "mine", owner.session.user_id),
      "owner's object survives",
    );
  });
});
