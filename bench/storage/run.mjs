// Storage benchmark for @ca-chat/storage-sqlite. Run: npm run bench:storage
//
//  1. throughput: durable appends/s, 100 concurrent writers each awaiting its ack, against
//     better-sqlite3 (WAL, synchronous=FULL) doing the same statements in transactions of 100;
//  2. recovery time and RSS of a fresh process opening 100k and 1M messages, after a clean
//     close and after a SIGKILL with a nearly full journal (the worst case);
//  3. the longest write pause while snapshots of the 1M database are written.
//
// The package's src is bundled with esbuild first (no build step needed). Environment:
// BENCH_SIZES (default "100000,1000000"), BENCH_THROUGHPUT (default 100000 messages).
// `node bench/storage/run.mjs bundle` only bundles (for profiling the bundle by hand).
import { execSync, spawn } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  openSync,
  closeSync,
  writeSync,
  fdatasyncSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const bundleDir = join(repoRoot, 'node_modules', '.cache', 'ca-chat-bench-storage');
const [, , mode = 'main', ...args] = process.argv;

const CHATS = 1000;
const WRITERS = 100;
const LOREM =
  'Please find attached the Form 16 and my bank statement for FY 2024-25; can we claim HRA and 80C together? ';

async function bundle() {
  const { build } = await import('esbuild');
  mkdirSync(bundleDir, { recursive: true });
  await build({
    entryPoints: {
      index: join(repoRoot, 'packages/storage-sqlite/src/index.ts'),
      'snapshot-worker': join(repoRoot, 'packages/storage-sqlite/src/snapshot-worker.js'),
    },
    outdir: bundleDir,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['sql.js'],
    logLevel: 'warning',
    plugins: [
      {
        name: 'ca-chat-core-src',
        setup(b) {
          b.onResolve({ filter: /^@ca-chat\/core$/ }, () => ({
            path: join(repoRoot, 'packages/core/src/index.ts'),
          }));
        },
      },
    ],
  });
  writeFileSync(join(bundleDir, 'package.json'), '{ "type": "module" }\n');
}

const loadStore = async () =>
  (await import(pathToFileURL(join(bundleDir, 'index.js')).href)).createSqliteStorage;

const chatOf = (i) => ({
  id: `chat-${i}`,
  clientId: `client-${i}`,
  caId: null,
  language: 'en',
  topic: null,
  state: 'waiting',
  endReason: null,
  createdAt: 1767225600000,
  matchedAt: null,
  endedAt: null,
});

const messageOf = (n, tag, chatOfMessage = (i) => i % CHATS) => ({
  chatId: `chat-${chatOfMessage(n)}`,
  from: n % 3 === 0 ? 'ca' : 'client',
  text: `${tag} ${n}: ${LOREM}`,
  file: null,
  createdAt: 1767225600000 + n,
  idempotencyKey: `${tag}-${n}`,
  delivery: {
    state: 'pending',
    peerMessageId: null,
    attempts: 0,
    nextAttemptAt: null,
    error: null,
  },
});

/** `count` appends by WRITERS concurrent writers, each awaiting its ack; returns per-append latencies (ms). */
async function appendMany(storage, start, count, tag, onAck, chatOfMessage) {
  let next = start;
  const end = start + count;
  const latencies = new Float64Array(count);
  const writer = async () => {
    while (next < end) {
      const n = next++;
      const t = performance.now();
      await storage.appendMessage(messageOf(n, tag, chatOfMessage));
      const ms = performance.now() - t;
      latencies[n - start] = ms;
      onAck?.(n, t, ms);
    }
  };
  await Promise.all(Array.from({ length: WRITERS }, writer));
  return latencies;
}

const logSink = (onMessage) => {
  const log = (level) => (obj, msg) => onMessage?.(level, msg, obj);
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
};

// ---- child processes

/** Opens an existing database and reports how long it took and the memory it needed. */
async function childRecover(file, verify = 'verify') {
  const createSqliteStorage = await loadStore();
  const started = performance.now();
  const storage = createSqliteStorage({ file, verifyOnOpen: verify === 'verify' });
  await storage.init();
  const ms = performance.now() - started;
  const rss = process.memoryUsage().rss;
  globalThis.gc?.();
  await new Promise((r) => setTimeout(r, 50));
  const rssAfterGc = process.memoryUsage().rss;
  const maxRss = process.resourceUsage().maxRSS * 1024;
  const { databaseBytes } = storage.stats();
  const messages = await storage.listPendingDeliveries({ limit: 1 });
  process.stdout.write(
    `${JSON.stringify({ ms, rss, rssAfterGc, maxRss, databaseBytes, sample: messages.length })}\n`,
  );
  process.exit(0); // no close: measure opening only, leave the files as they are
}

/**
 * Appends `count` more messages, then says so and waits to be SIGKILLed (journal left
 * unfolded). `journalMaxRecords` above `count` keeps a snapshot from folding them.
 */
async function childAppendThenHang(file, start, count, journalMaxRecords) {
  const createSqliteStorage = await loadStore();
  const storage = createSqliteStorage({ file, journalMaxRecords: Number(journalMaxRecords) });
  await storage.init();
  await appendMany(storage, Number(start), Number(count), 'extra');
  process.stdout.write('done\n');
  setInterval(() => {}, 60_000);
}

/** Opens and closes the database, folding whatever journal it has into the snapshot. */
async function childFold(file) {
  const createSqliteStorage = await loadStore();
  const storage = createSqliteStorage({ file });
  await storage.init();
  await storage.close();
  process.exit(0);
}

function runChild(childArgs, { killOn } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--expose-gc', fileURLToPath(import.meta.url), ...childArgs],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (killOn && out.includes(killOn)) child.kill('SIGKILL');
    });
    child.on('close', (code, signal) =>
      code === 0 || signal === 'SIGKILL'
        ? resolve(out)
        : reject(new Error(`child ${childArgs[0]} failed: ${code}`)),
    );
  });
}

// ---- phases

/** Durable appends through this store: WRITERS concurrent writers, each awaiting its ack. */
async function throughputOurs(file, total) {
  const createSqliteStorage = await loadStore();
  const storage = createSqliteStorage({ file });
  await storage.init();
  for (let i = 0; i < CHATS; i++) await storage.createChat(chatOf(i));
  const started = performance.now();
  const latencies = await appendMany(storage, 0, total, 'tp');
  const seconds = (performance.now() - started) / 1000;
  await storage.close();
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    appendsPerSecond: total / seconds,
    p50Ms: sorted[Math.floor(total * 0.5)],
    p99Ms: sorted[Math.floor(total * 0.99)],
    maxMs: sorted[total - 1],
  };
}

/** The same messages and statements through better-sqlite3 (WAL, synchronous=FULL), 100 per transaction. */
async function throughputBetterSqlite3(file, ddl, total) {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  for (const sql of ddl) db.exec(sql);
  const insertChat = db.prepare(
    'INSERT INTO chats (id, client_id, ca_id, language, topic, state, end_reason, created_at, matched_at, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  db.transaction(() => {
    for (let i = 0; i < CHATS; i++) insertChat.run(...Object.values(chatOf(i)));
  })();
  const findDuplicate = db.prepare(
    'SELECT seq FROM messages WHERE chat_id = ? AND from_party = ? AND idempotency_key = ?',
  );
  const nextSeq = db.prepare(
    'SELECT coalesce(max(seq), 0) + 1 AS seq FROM messages WHERE chat_id = ?',
  );
  const insert =
    db.prepare(`INSERT INTO messages (chat_id, seq, from_party, text, file_id, file_name, file_mime, file_size, file_sha256,
    created_at, idempotency_key, delivery_state, peer_message_id, attempts, next_attempt_at, delivery_error)
    VALUES (?, ?, ?, ?, NULL, NULL, NULL, NULL, NULL, ?, ?, ?, ?, ?, ?, ?)`);
  const batch = db.transaction((from, to) => {
    for (let n = from; n < to; n++) {
      const m = messageOf(n, 'tp');
      if (findDuplicate.get(m.chatId, m.from, m.idempotencyKey)) continue;
      const { seq } = nextSeq.get(m.chatId);
      const d = m.delivery;
      insert.run(
        m.chatId,
        seq,
        m.from,
        m.text,
        m.createdAt,
        m.idempotencyKey,
        d.state,
        d.peerMessageId,
        d.attempts,
        d.nextAttemptAt,
        d.error,
      );
    }
  });
  const started = performance.now();
  for (let n = 0; n < total; n += 100) batch(n, Math.min(total, n + 100));
  const seconds = (performance.now() - started) / 1000;
  db.close();
  return { appendsPerSecond: total / seconds };
}

/**
 * Alternates the two (ours, theirs, ours, …) with `sync` before each run, so neither pays
 * for the other's pending writeback (on ext4 an fsync also waits for other dirty data).
 * Reports each run and the medians.
 */
async function throughput(dir, total, rounds = 3) {
  const ours = [];
  const theirs = [];
  let ddl = null;
  for (let round = 0; round < rounds; round++) {
    execSync('sync');
    const file = join(dir, `throughput-${round}.db`);
    ours.push(await throughputOurs(file, total));
    if (ddl === null) {
      // better-sqlite3 gets the very same schema, copied from our snapshot.
      const { default: Database } = await import('better-sqlite3');
      const schema = new Database(file, { readonly: true });
      ddl = schema
        .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'")
        .all()
        .map((r) => r.sql);
      schema.close();
    }
    execSync('sync');
    theirs.push(await throughputBetterSqlite3(join(dir, `better-sqlite3-${round}.db`), ddl, total));
  }
  const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
  const oursRate = median(ours.map((r) => r.appendsPerSecond));
  const theirsRate = median(theirs.map((r) => r.appendsPerSecond));
  return {
    messages: total,
    writers: WRITERS,
    ours: { medianAppendsPerSecond: oursRate, runs: ours },
    betterSqlite3: {
      medianAppendsPerSecond: theirsRate,
      runs: theirs.map((r) => r.appendsPerSecond),
    },
    ratio: oursRate / theirsRate,
  };
}

async function buildDataset(dir, size) {
  const createSqliteStorage = await loadStore();
  const file = join(dir, `recovery-${size}.db`);
  const storage = createSqliteStorage({ file });
  await storage.init();
  for (let i = 0; i < CHATS; i++) await storage.createChat(chatOf(i));
  const started = performance.now();
  await appendMany(storage, 0, size, 'm');
  const buildSeconds = (performance.now() - started) / 1000;
  await storage.close();
  return { file, buildSeconds };
}

async function recovery(dir, size) {
  const { file, buildSeconds } = await buildDataset(dir, size);
  const fileBytes = statSync(file).size;
  const clean = JSON.parse(await runChild(['recover', file]));
  const cleanNoVerify = JSON.parse(await runChild(['recover', file, 'no-verify']));
  // Worst case: a crash just before the next snapshot, so start-up replays a full journal:
  // just under the default journalMaxRecords (25 000), and, for comparison with the figures
  // measured under the former default (50 000), 49 000 operations.
  const crashedAfter = async (journalOps, start) => {
    await runChild(['fold', file]);
    await runChild(
      ['append-then-hang', file, String(start), String(journalOps), String(journalOps + 1000)],
      { killOn: 'done' },
    );
    return { ...JSON.parse(await runChild(['recover', file])), journalOps };
  };
  const crashed = await crashedAfter(24_000, size);
  const crashedFormerDefault = await crashedAfter(49_000, size + 24_000);
  return {
    size,
    buildSeconds,
    fileBytes,
    clean,
    cleanNoVerify,
    crashed,
    crashedFormerDefault,
  };
}

/**
 * Writes into the biggest database with a small journal threshold, so several snapshots of
 * it run during the measurement. A 5 ms timer records every event-loop stall (its gap over
 * 5 ms) with whether a snapshot was running and the database size at that moment.
 */
async function pauses(file, startAt, { retention = false } = {}) {
  const createSqliteStorage = await loadStore();
  const windows = [];
  let open = null;
  const storage = createSqliteStorage({
    file,
    journalMaxRecords: 40_000,
    logger: logSink((level, msg, obj) => {
      if (msg === 'snapshot started') open = { start: performance.now(), end: null };
      if (msg === 'snapshot written' && open) {
        windows.push({ ...open, end: performance.now(), ms: obj.ms, bytes: obj.bytes });
        open = null;
      }
      if (level === 'error') console.error(msg, obj);
    }),
  });
  await storage.init();
  // Retention: delete the oldest 30 % of chats first, so new messages reuse their pages
  // and sql.js's in-memory file does not grow (no growth copies) during the measurement.
  const deleted = retention ? 300 : 0;
  for (let i = 0; i < deleted; i++) await storage.deleteChat(`chat-${i}`);
  const bytesBefore = storage.stats().databaseBytes;
  const stalls = [];
  // Where each stall went, from the main thread's /proc schedstat (Linux): time it ran
  // (our own work, GC included), time it sat runnable waiting for a CPU (contention), and
  // the rest: asleep or blocked (waiting on GC helper threads, page faults, locks).
  const schedPath = `/proc/self/task/${process.pid}/schedstat`;
  const sched = () => {
    try {
      return readFileSync(schedPath, 'utf8').split(' ').map(Number);
    } catch {
      return null;
    }
  };
  const gcs = [];
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push({ start: e.startTime, ms: e.duration });
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  let last = performance.now();
  let lastSched = sched();
  const timer = setInterval(() => {
    const now = performance.now();
    const stall = now - last - 5;
    const nowSched = sched();
    if (stall > 2) {
      const ranMs = nowSched && lastSched ? (nowSched[0] - lastSched[0]) / 1e6 : null;
      const runQueueMs = nowSched && lastSched ? (nowSched[1] - lastSched[1]) / 1e6 : null;
      stalls.push({
        at: now,
        ms: stall,
        inSnapshot: open !== null,
        databaseBytes: storage.stats().databaseBytes,
        ranMs,
        runQueueMs,
        from: last,
      });
    }
    last = now;
    lastSched = nowSched;
  }, 5);
  const acks = [];
  const started = performance.now();
  await appendMany(
    storage,
    startAt,
    160_000,
    retention ? 'r' : 'p',
    (n, t, ms) => acks.push([t, ms]),
    (i) => deleted + (i % (CHATS - deleted)),
  );
  const bytesAfter = storage.stats().databaseBytes;
  const seconds = (performance.now() - started) / 1000;
  clearInterval(timer);
  gcObserver.disconnect();
  await storage.close();
  const inWindow = (t) => windows.some((w) => t >= w.start && t <= w.end);
  const max = (list) => list.reduce((a, b) => Math.max(a, b), 0);
  const during = acks.filter(([t]) => inWindow(t)).map(([, ms]) => ms);
  const outside = acks.filter(([t]) => !inWindow(t)).map(([, ms]) => ms);
  const round = (x) => Math.round(x * 10) / 10;
  // For scale: what one export of this database costs when done on the calling thread.
  const { default: initSqlJs } = await import('sql.js');
  const SQL = await initSqlJs();
  const db = new SQL.Database(readFileSync(file));
  const t = performance.now();
  const exported = db.export();
  const exportMs = performance.now() - t;
  db.close();
  return {
    retention,
    databaseMBBefore: Math.round(bytesBefore / 1e6),
    databaseMBAfter: Math.round(bytesAfter / 1e6),
    appends: acks.length,
    appendsPerSecond: acks.length / seconds,
    snapshots: windows.map((w) => ({ ms: w.ms, bytes: w.bytes })),
    appendsDuringSnapshots: during.length,
    maxAppendLatencyDuringSnapshotMs: round(max(during)),
    maxAppendLatencyOutsideMs: round(max(outside)),
    maxStallDuringSnapshotMs: round(max(stalls.filter((s) => s.inSnapshot).map((s) => s.ms))),
    maxStallOutsideMs: round(max(stalls.filter((s) => !s.inSnapshot).map((s) => s.ms))),
    worstStalls: stalls
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 8)
      .map((s) => ({
        ms: round(s.ms),
        inSnapshot: s.inSnapshot,
        databaseMB: round(s.databaseBytes / 1e6),
        ranMs: s.ranMs === null ? null : round(s.ranMs),
        runQueueMs: s.runQueueMs === null ? null : round(s.runQueueMs),
        gcMs: round(
          gcs
            .filter((g) => g.start + g.ms >= s.from && g.start <= s.at)
            .reduce((sum, g) => sum + g.ms, 0),
        ),
      })),
    loadAverage: loadavg()[0],
    mainThreadExportWouldBlockMs: round(exportMs),
    exportedBytes: exported.length,
  };
}

function fsyncLatency(dir) {
  const fd = openSync(join(dir, 'fsync-probe'), 'w');
  const block = Buffer.alloc(4096, 1);
  const times = [];
  for (let i = 0; i < 200; i++) {
    writeSync(fd, block);
    const t = performance.now();
    fdatasyncSync(fd);
    times.push(performance.now() - t);
  }
  closeSync(fd);
  times.sort((a, b) => a - b);
  return { p50Ms: times[100], p99Ms: times[198] };
}

async function main() {
  await bundle();
  const sizes = (process.env.BENCH_SIZES ?? '100000,1000000').split(',').map(Number);
  const throughputMessages = Number(process.env.BENCH_THROUGHPUT ?? 100_000);
  const dir = mkdtempSync(join(tmpdir(), 'ca-chat-bench-'));
  const machine = {
    nproc: cpus().length,
    cpu: cpus()[0]?.model,
    node: process.version,
    tmpdir: tmpdir(),
    fdatasync: fsyncLatency(dir),
  };
  console.error('machine', machine);
  const results = { machine, at: new Date().toISOString() };
  try {
    results.throughput = await throughput(dir, throughputMessages);
    console.error('throughput', results.throughput);
    results.recovery = [];
    for (const size of sizes) {
      const r = await recovery(dir, size);
      console.error('recovery', r);
      results.recovery.push(r);
    }
    const biggest = results.recovery.at(-1);
    const file = join(dir, `recovery-${biggest.size}.db`);
    results.pauses = await pauses(file, biggest.size + 99_000);
    console.error('pauses (growing)', results.pauses);
    results.pausesSteady = await pauses(file, biggest.size + 400_000, { retention: true });
    console.error('pauses (steady size)', results.pausesSteady);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(join(repoRoot, 'bench/results'), { recursive: true });
  writeFileSync(
    join(repoRoot, 'bench/results/storage.json'),
    `${JSON.stringify(results, null, 2)}\n`,
  );
  console.log(JSON.stringify(results, null, 2));
}

if (mode === 'bundle') await bundle();
else if (mode === 'recover') await childRecover(args[0], args[1]);
else if (mode === 'append-then-hang') await childAppendThenHang(args[0], args[1], args[2], args[3]);
else if (mode === 'fold') await childFold(args[0]);
else await main();
