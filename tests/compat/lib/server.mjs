// Starts and stops a real `shoal` process for one test file.
//
//   const server = await startServer();       // in before()
//   ... new Client("defaultkey", server.host, String(server.port), false) ...
//   await server.kill("SIGKILL"); await server.start();   // durability tests
//   await server.stop();                       // in after()
//
// Binary: $SHOAL_BIN, else ${CARGO_TARGET_DIR:-$HOME/.cache/shoal-target}/debug/shoal.
// Set SHOAL_COMPAT_LOG=1 to also copy the server's output to this process's stderr.

import { spawn } from "node:child_process";
import dgram from "node:dgram";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const HOST = "127.0.0.1";
const READY_POLL_MS = 50;
const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 5_000;
const LOG_LIMIT = 64 * 1024;

/** Path of the shoal binary under test. */
export function shoalBin() {
  if (process.env.SHOAL_BIN) return path.resolve(process.env.SHOAL_BIN);
  const targetDir =
    process.env.CARGO_TARGET_DIR || path.join(os.homedir(), ".cache", "shoal-target");
  return path.resolve(targetDir, "debug", "shoal");
}

// Every live child, so that they die with the test process whatever happens.
const live = new Set();
let exitHooksInstalled = false;

function installExitHooks() {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on("exit", () => {
    for (const child of live) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
  });
  // Signals skip the "exit" event unless we turn them into an exit.
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]]) {
    process.once(signal, () => process.exit(code));
  }
}

/** A free TCP port on 127.0.0.1 (held open until release()). */
function holdTcpPort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen({ host: HOST, port: 0, exclusive: true }, () => {
      const { port } = srv.address();
      resolve({ port, release: () => new Promise((r) => srv.close(() => r())) });
    });
  });
}

/** A port free for both UDP (QUIC) and TCP on 127.0.0.1 (held open until release()). */
async function holdUdpPort() {
  for (let attempt = 0; attempt < 20; attempt++) {
    const sock = dgram.createSocket("udp4");
    sock.unref();
    const port = await new Promise((resolve, reject) => {
      sock.once("error", reject);
      sock.bind({ address: HOST, port: 0, exclusive: true }, () => resolve(sock.address().port));
    });
    const release = () => new Promise((r) => sock.close(() => r()));
    // The cluster port is QUIC (UDP); make sure TCP on it is free too in case the
    // server binds something there as well.
    const tcpFree = await new Promise((resolve) => {
      const probe = net.createServer();
      probe.once("error", () => resolve(false));
      probe.listen({ host: HOST, port, exclusive: true }, () => probe.close(() => resolve(true)));
    });
    if (tcpFree) return { port, release };
    await release();
  }
  throw new Error("could not find a port free for both UDP and TCP");
}

/** Three distinct free ports: socket (TCP), console (TCP), cluster (UDP). */
async function pickPorts() {
  // Hold all three at once so they are distinct, then release them together.
  const held = [await holdTcpPort(), await holdTcpPort(), await holdUdpPort()];
  await Promise.all(held.map((h) => h.release()));
  const [socket, console_, cluster] = held.map((h) => h.port);
  return { socket, console: console_, cluster };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Keeps the last LOG_LIMIT bytes of a child's output. */
class LogTail {
  constructor() {
    this.chunks = [];
    this.size = 0;
    this.dropped = 0;
  }
  push(buf) {
    this.chunks.push(buf);
    this.size += buf.length;
    while (this.size > LOG_LIMIT && this.chunks.length > 1) {
      const first = this.chunks.shift();
      this.size -= first.length;
      this.dropped += first.length;
    }
    if (this.size > LOG_LIMIT) {
      const only = this.chunks[0];
      const cut = only.length - LOG_LIMIT;
      this.chunks[0] = only.subarray(cut);
      this.size -= cut;
      this.dropped += cut;
    }
  }
  text() {
    const body = Buffer.concat(this.chunks).toString("utf8");
    return this.dropped ? `[... ${this.dropped} earlier bytes dropped ...]\n${body}` : body;
  }
}

/**
 * Starts a shoal node on fresh ports and a fresh data dir and waits until
 * GET /healthcheck answers 200.
 *
 * options.name      node name (default "compat1")
 * options.extraArgs more CLI flags, e.g. ["--runtime.path", dir]
 * options.env       extra environment variables for the child
 * options.wait      false: return once spawned; `server.ready` settles when it serves
 */
export async function startServer(options = {}) {
  installExitHooks();
  const bin = shoalBin();
  if (!fs.existsSync(bin)) {
    throw new Error(
      `shoal binary not found at ${bin}; build it (cargo build -p shoal-node --bin shoal) or set SHOAL_BIN`,
    );
  }
  const ports = await pickPorts();
  const dataDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), "shoal-compat-"));
  const args = [
    "--name", options.name ?? "compat1",
    "--data_dir", dataDir,
    "--socket.port", String(ports.socket),
    "--console.port", String(ports.console),
    "--cluster.port", String(ports.cluster),
    "--session.token_expiry_sec", "7200",
    "--session.refresh_token_expiry_sec", "86400",
    "--logger.level", "warn",
    ...(options.extraArgs ?? []),
  ];

  const server = {
    host: HOST,
    port: ports.socket,
    consolePort: ports.console,
    clusterPort: ports.cluster,
    dataDir,
    bin,
    args,
    proc: null,
    /** Last 64 KB of the current (or last) process's stdout+stderr. */
    logs: () => (server._log ? server._log.text() : ""),
    baseUrl: `http://${HOST}:${ports.socket}`,
    _log: null,
    _exited: null,
    _killedOnPurpose: false,

    /**
     * Spawns the process (same ports, same data dir) and waits for readiness; with
     * wait=false it returns at once and `server.ready` settles when it serves (a cluster
     * node serves only once its peers are up and a leader is elected).
     */
    async start(wait = true) {
      if (server.proc && server.proc.exitCode === null && server.proc.signalCode === null) {
        throw new Error("shoal is already running");
      }
      const log = new LogTail();
      server._log = log;
      server._killedOnPurpose = false;
      const child = spawn(bin, args, {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, RUST_BACKTRACE: "1", ...(options.env ?? {}) },
      });
      server.proc = child;
      live.add(child);
      const echo = process.env.SHOAL_COMPAT_LOG ? process.stderr : null;
      // Both pipes must be drained or the child blocks once a pipe buffer fills.
      for (const stream of [child.stdout, child.stderr]) {
        stream.on("data", (buf) => {
          log.push(buf);
          if (echo) echo.write(buf);
        });
      }
      server._exited = new Promise((resolve) => {
        child.once("exit", (code, signal) => {
          live.delete(child);
          // If something inherited the pipes (a grandchild), they never close and would
          // keep this test process alive: give them a moment to drain, then drop them.
          setTimeout(() => {
            child.stdout?.destroy();
            child.stderr?.destroy();
          }, 500).unref();
          resolve({ code, signal });
        });
      });
      let spawnError = null;
      child.once("error", (err) => {
        spawnError = err;
      });
      server.ready = waitReady(server, () => spawnError);
      // Not awaited yet when wait=false: keep an early failure from being "unhandled".
      server.ready.catch(() => {});
      if (wait) await server.ready;
      return server;
    },

    /** Sends `signal` and waits for the process to exit. Keeps the data dir. */
    async kill(signal = "SIGTERM") {
      const child = server.proc;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      server._killedOnPurpose = true;
      child.kill(signal);
      return server._exited;
    },

    /** kill(signal) then start() again on the same ports and data dir. */
    async restart(signal = "SIGKILL") {
      await server.kill(signal);
      return server.start();
    },

    /** SIGTERM, SIGKILL after 5 s if still alive, then removes the data dir. */
    async stop() {
      const child = server.proc;
      if (child && !server._killedOnPurpose && (child.exitCode !== null || child.signalCode !== null)) {
        // It died during the tests: that explains the failures, so show why.
        process.stderr.write(
          `\nshoal (pid ${child.pid}) exited during the tests ` +
            `(code ${child.exitCode}, signal ${child.signalCode}); last output:\n${server.logs()}\n`,
        );
      }
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = sleep(STOP_GRACE_MS).then(() => "timeout");
        const outcome = await Promise.race([server._exited, timer]);
        if (outcome === "timeout") {
          child.kill("SIGKILL");
          await server._exited;
        }
      }
      await fs.promises.rm(dataDir, { recursive: true, force: true });
    },
  };

  try {
    await server.start(options.wait ?? true);
  } catch (err) {
    await server.kill("SIGKILL").catch(() => {});
    await fs.promises.rm(dataDir, { recursive: true, force: true }).catch(() => {});
    throw err;
  }
  return server;
}

/** Polls GET /healthcheck every 50 ms until 200; fails fast if the process exits. */
async function waitReady(server, spawnError) {
  const url = `${server.baseUrl}/healthcheck`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastProblem = "no attempt yet";
  let exit = null;
  server._exited.then((e) => {
    exit = e;
  });
  for (;;) {
    if (spawnError()) {
      throw new Error(`could not spawn ${server.bin}: ${spawnError().message}`);
    }
    if (exit) {
      throw new Error(
        `shoal exited before becoming ready (code ${exit.code}, signal ${exit.signal})\n` +
          `command: ${server.bin} ${server.args.join(" ")}\n` +
          `--- output ---\n${server.logs()}`,
      );
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer().catch(() => {});
      if (res.status === 200) return;
      lastProblem = `HTTP ${res.status}`;
    } catch (err) {
      lastProblem = err?.cause?.code ?? err?.message ?? String(err);
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `shoal not ready after ${READY_TIMEOUT_MS / 1000} s (GET ${url}: ${lastProblem})\n` +
          `command: ${server.bin} ${server.args.join(" ")}\n` +
          `--- output ---\n${server.logs()}`,
      );
    }
    await sleep(READY_POLL_MS);
  }
}
