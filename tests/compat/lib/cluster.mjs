// Starts a real multi-node Shoal cluster on loopback for compat tests: n1 first, the others
// seeded at n1's cluster port, all spawned before any is waited for, then waits until every node reports the same leader and
// all members ready (polling the console, never a bare sleep).

import { startServer } from "./server.mjs";

const SECRET = "compat-secret";

async function clusterStatus(server) {
  const auth = Buffer.from("admin:password").toString("base64");
  try {
    const r = await fetch(`http://${server.host}:${server.consolePort}/v2/console/cluster`, {
      headers: { Authorization: `Basic ${auth}` },
      signal: AbortSignal.timeout(2000),
    });
    return r.ok ? await r.json() : null;
  } catch {
    return null;
  }
}

/** options.extraArgs: more flags for every node (e.g. ["--runtime.path", dir]). */
export async function startCluster(n = 3, { extraArgs = [] } = {}) {
  const common = ["--cluster.bootstrap_expect", String(n), "--cluster.secret", SECRET, ...extraArgs];
  // A cluster node serves clients only once a leader is elected: spawn all, then wait.
  const servers = [await startServer({ name: "n1", extraArgs: common, wait: false })];
  const seed = `127.0.0.1:${servers[0].clusterPort}`;
  for (let i = 2; i <= n; i++) {
    servers.push(await startServer({ name: `n${i}`, extraArgs: [...common, "--cluster.seeds", seed], wait: false }));
  }
  try {
    await Promise.all(servers.map((s) => s.ready));
  } catch (err) {
    await Promise.all(servers.map((s) => s.stop()));
    throw err;
  }
  const deadline = Date.now() + 60_000;
  for (;;) {
    const statuses = await Promise.all(servers.map(clusterStatus));
    const leaders = new Set(statuses.map((s) => s?.leader));
    const allReady = statuses.every((s) => s && s.leader && s.nodes.filter((m) => m.ready).length === n);
    if (allReady && leaders.size === 1) break;
    if (Date.now() > deadline) {
      const logs = servers.map((s) => `--- ${s.args[1]} ---\n${s.logs()}`).join("\n");
      await Promise.all(servers.map((s) => s.stop()));
      throw new Error(`cluster did not become ready in 60 s: ${JSON.stringify(statuses)}\n${logs}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    servers,
    stop: () => Promise.all(servers.map((s) => s.stop())),
  };
}
