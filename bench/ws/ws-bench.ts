/**
 * WebSocket bench: chat messages through the ws transport + relay + memory storage against a
 * bare `ws` echo server, with the same client harness, in the same run.
 *  1. peak: closed loop, `connections` × `window` messages in flight → messages/s, p50/p99;
 *  2. added latency: open loop at half the echo's peak rate against both → p99 difference
 *     (and again at half ca-chat's own peak);
 *  3. idle: RSS per authenticated idle connection at `idle` connections (and a bare ws server's).
 * Loopback only; every phase is bounded in time. Usage: npm run bench:ws [-- --idle 10000]
 * 10 000 idle connections need `ulimit -n` above ~10 100 (both ends are on this machine, in
 * two processes); the run reports how many it could open.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { machine, writeReadmeSection } from '../upload/report.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const CONNECTIONS = arg('connections', 50);
const WINDOW = arg('window', 8);
const WARMUP_MS = arg('warmup-ms', 2000);
const MEASURE_MS = arg('measure-ms', 5000);
const IDLE = arg('idle', 10_000);
const TEXT = 'Please find my GST return for last quarter attached; can you check the ITC?';

type Mode = 'ca' | 'echo' | 'transport';
interface Server {
  child: ChildProcess;
  url: string;
}

async function startServer(mode: Mode): Promise<Server> {
  const script = fileURLToPath(new URL('./ws-server.js', import.meta.url));
  // BENCH_SERVER_NODE_OPTIONS="--cpu-prof" profiles the server side.
  const extra = (process.env.BENCH_SERVER_NODE_OPTIONS ?? '').split(' ').filter(Boolean);
  const child = fork(script, [mode], { execArgv: ['--expose-gc', ...extra], stdio: 'inherit' });
  const [ready] = (await once(child, 'message')) as [{ port: number }];
  return { child, url: `ws://127.0.0.1:${ready.port}/ws` };
}

async function stopServer(server: Server): Promise<void> {
  server.child.send({ type: 'stop' });
  await once(server.child, 'exit');
}

interface Memory {
  rss: number;
  heapUsed: number;
  external: number;
}

async function rss(server: Server): Promise<Memory> {
  const reply = new Promise<Memory>((resolve) =>
    server.child.once('message', (m: Memory) => resolve(m)),
  );
  server.child.send({ type: 'rss' });
  return reply;
}

/** CPU time (user + system, µs) the server process has used so far. */
async function serverCpu(server: Server): Promise<number> {
  const reply = new Promise<number>((resolve) =>
    server.child.once('message', (m: { micros: number }) => resolve(m.micros)),
  );
  server.child.send({ type: 'cpu' });
  return reply;
}

/** One bench client: a socket, its chat, and the send times of its in-flight messages. */
interface Client {
  socket: WebSocket;
  chatId: string;
  inFlight: Map<string, bigint>;
  onAck: (latencyNs: number) => void;
}

let nextId = 0;

async function connect(url: string, withChat: boolean): Promise<Client> {
  const socket = new WebSocket(url, ['ca-chat.v1'], { perMessageDeflate: false });
  const client: Client = { socket, chatId: '', inFlight: new Map(), onAck: () => {} };
  let resolveReady: () => void;
  const ready = new Promise<void>((resolve) => (resolveReady = resolve));
  socket.on('message', (data) => {
    const frame = JSON.parse(String(data)) as {
      type: string;
      clientMsgId?: string;
      chatId?: string;
    };
    if (frame.type === 'message.ack') {
      const sentAt = client.inFlight.get(frame.clientMsgId!);
      if (sentAt === undefined) return;
      client.inFlight.delete(frame.clientMsgId!);
      client.onAck(Number(process.hrtime.bigint() - sentAt));
    } else if (frame.type === 'welcome') {
      if (!withChat) resolveReady();
      else socket.send(JSON.stringify({ type: 'chat.request', language: 'en', ref: 'bench' }));
    } else if (frame.type === 'chat.queued') client.chatId = frame.chatId!;
    else if (frame.type === 'chat.matched') resolveReady();
  });
  await once(socket, 'open');
  socket.send(JSON.stringify({ type: 'hello' }));
  await ready;
  return client;
}

/** The TCP socket under a `ws` client (a private field, fine for a bench). */
const tcpOf = (socket: WebSocket): { cork(): void; uncork(): void } =>
  (socket as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
const corked = new Set<WebSocket>();

function sendMessage(client: Client): void {
  const clientMsgId = `m${++nextId}`;
  client.inFlight.set(clientMsgId, process.hrtime.bigint());
  // Sends of one tick leave in one write: the harness must not be the bottleneck.
  if (!corked.has(client.socket)) {
    corked.add(client.socket);
    tcpOf(client.socket).cork();
    process.nextTick(() => {
      corked.delete(client.socket);
      tcpOf(client.socket).uncork();
    });
  }
  client.socket.send(
    JSON.stringify({ type: 'message', chatId: client.chatId, text: TEXT, clientMsgId }),
  );
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

interface LoadResult {
  messagesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Open loop only: share of the scheduled sends skipped because MAX_IN_FLIGHT were unanswered. */
  skipped?: number;
  /** Server CPU time (user + system) per message, µs: steadier than rates on a busy machine. */
  serverCpuUs?: number;
  /** The bench client's own CPU time per message, µs (it shares the machine's cores). */
  clientCpuUs?: number;
}

/** An open-loop run stops adding load past this many unanswered messages (the server can't keep up). */
const MAX_IN_FLIGHT = 5000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Closed loop: every client keeps WINDOW messages in flight. */
async function peak(clients: Client[], server: Server): Promise<LoadResult> {
  let measuring = false;
  const latencies: number[] = [];
  for (const client of clients) {
    client.onAck = (latencyNs) => {
      if (measuring) latencies.push(latencyNs);
      sendMessage(client);
    };
    for (let i = 0; i < WINDOW; i++) sendMessage(client);
  }
  await sleep(WARMUP_MS);
  const cpuBefore = await serverCpu(server);
  const ownBefore = process.cpuUsage();
  measuring = true;
  const started = process.hrtime.bigint();
  await sleep(MEASURE_MS);
  measuring = false;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const own = process.cpuUsage(ownBefore);
  const cpuUs = (await serverCpu(server)) - cpuBefore;
  const answered = latencies.length;
  for (const client of clients) client.onAck = () => {};
  await drain(clients);
  latencies.sort((a, b) => a - b);
  return {
    messagesPerSecond: answered / seconds,
    p50Ms: percentile(latencies, 50) / 1e6,
    p99Ms: percentile(latencies, 99) / 1e6,
    serverCpuUs: cpuUs / answered,
    clientCpuUs: (own.user + own.system) / answered,
  };
}

/** Open loop: sends at `rate` messages/s spread over the clients, whatever the answers do. */
async function steady(clients: Client[], rate: number): Promise<LoadResult> {
  const latencies: number[] = [];
  let measuring = false;
  for (const client of clients)
    client.onAck = (latencyNs) => measuring && latencies.push(latencyNs);
  let skipped = 0;
  const inFlight = (): number => clients.reduce((n, c) => n + c.inFlight.size, 0);
  const run = async (ms: number): Promise<number> => {
    const started = process.hrtime.bigint();
    let sent = 0;
    let turn = 0;
    for (;;) {
      const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
      if (elapsed * 1000 >= ms) break;
      const due = Math.max(0, Math.floor(elapsed * rate) - sent);
      const room = Math.max(0, MAX_IN_FLIGHT - inFlight());
      for (let i = 0; i < Math.min(due, room); i++) sendMessage(clients[turn++ % clients.length]!);
      if (measuring) skipped += due - Math.min(due, room);
      sent += due;
      await new Promise((resolve) => setImmediate(resolve));
    }
    return sent;
  };
  await run(WARMUP_MS);
  measuring = true;
  const scheduled = await run(MEASURE_MS);
  await drain(clients);
  measuring = false;
  latencies.sort((a, b) => a - b);
  return {
    messagesPerSecond: (scheduled - skipped) / (MEASURE_MS / 1000),
    p50Ms: percentile(latencies, 50) / 1e6,
    p99Ms: percentile(latencies, 99) / 1e6,
    skipped: scheduled === 0 ? 0 : skipped / scheduled,
  };
}

/** Waits (bounded) until every in-flight message was acknowledged. */
async function drain(clients: Client[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (clients.some((c) => c.inFlight.size > 0) && Date.now() < deadline) await sleep(10);
}

/** A server of `mode` under a closed-loop peak run (unless `withPeak` is false), then open-loop runs at `rates(peak)`. */
async function loadPhase(
  mode: Mode,
  rates: (peak: LoadResult | null) => number[],
  withPeak = true,
): Promise<{ peak: LoadResult | null; steady: LoadResult[] }> {
  const server = await startServer(mode);
  const clients = await Promise.all(
    Array.from({ length: CONNECTIONS }, () => connect(server.url, true)),
  );
  const peakResult = withPeak ? await peak(clients, server) : null;
  const steadyResults: LoadResult[] = [];
  for (const rate of rates(peakResult)) steadyResults.push(await steady(clients, rate));
  for (const client of clients) client.socket.terminate();
  await stopServer(server);
  return { peak: peakResult, steady: steadyResults };
}

async function idlePhase(
  count: number,
  mode: Mode = 'ca',
): Promise<{ bytesPerConnection: number; heapPerConnection: number; connections: number }> {
  const server = await startServer(mode);
  // One connection first so lazily built things (JIT, pools) are not counted per connection.
  const warm = await connect(server.url, false);
  const before = await rss(server);
  const sockets: WebSocket[] = [];
  const deadline = Date.now() + 60_000;
  for (let opened = 0; opened < count && Date.now() < deadline; opened += 500) {
    try {
      const batch = await Promise.all(
        Array.from({ length: Math.min(500, count - opened) }, () => connect(server.url, false)),
      );
      sockets.push(...batch.map((c) => c.socket));
    } catch (error) {
      // Usually EMFILE: `ulimit -n` must exceed the connection count in both processes.
      console.warn(`stopped opening connections at ${sockets.length}: ${(error as Error).message}`);
      break;
    }
  }
  const after = await rss(server);
  for (const socket of [warm.socket, ...sockets]) socket.terminate();
  await stopServer(server);
  return {
    bytesPerConnection: (after.rss - before.rss) / sockets.length,
    heapPerConnection:
      (after.heapUsed + after.external - before.heapUsed - before.external) / sockets.length,
    connections: sockets.length,
  };
}

const fmt = (r: LoadResult): string =>
  `${Math.round(r.messagesPerSecond).toLocaleString('en-US')} msg/s${(r.skipped ?? 0) >= 0.005 ? ` (${(r.skipped! * 100).toFixed(0)}% held back)` : ''}, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms${r.serverCpuUs === undefined ? '' : `, CPU per message: server ${r.serverCpuUs.toFixed(1)} µs, client ${r.clientCpuUs!.toFixed(1)} µs`}`;

const only = process.env.BENCH_ONLY;
if (process.env.BENCH_IDLE_ONLY) {
  const mode = process.env.BENCH_IDLE_ONLY as Mode;
  const result = await idlePhase(IDLE, mode);
  console.log(
    `${mode} idle: ${result.connections} connections, RSS ${(result.bytesPerConnection / 1024).toFixed(2)} KiB, JS heap+external ${(result.heapPerConnection / 1024).toFixed(2)} KiB each`,
  );
  process.exit(0);
}
if (only === 'ca' || only === 'transport' || only === 'echo') {
  console.log(`${only}: ${fmt((await loadPhase(only, () => [])).peak!)}`);
  process.exit(0);
}

const echo = await loadPhase('echo', (p) => [Math.round(p!.messagesPerSecond / 2)]);
const half = Math.round(echo.peak!.messagesPerSecond / 2);
const ca = await loadPhase('ca', (p) => [half, Math.round(p!.messagesPerSecond / 2)]);
const caHalf = Math.round(ca.peak!.messagesPerSecond / 2);
// The echo again, at the rate ca-chat itself sustains comfortably (half its own peak).
const echoAtCaHalf = await loadPhase('echo', () => [caHalf], false);
const transportOnly = await loadPhase('transport', (p) => [
  half,
  Math.round(p!.messagesPerSecond / 2),
]);
for (const [name, result] of [
  ['echo', echo],
  ['ca-chat', ca],
  ['transport', transportOnly],
] as const) {
  console.log(
    `${name} peak: ${fmt(result.peak!)}; open loop: ${result.steady.map(fmt).join(' | ')}`,
  );
}
const idle = await idlePhase(IDLE);
const idleEcho = await idlePhase(Math.min(IDLE, 5000), 'echo');
console.log(
  `idle: ${idle.connections} connections, RSS ${(idle.bytesPerConnection / 1024).toFixed(2)} KiB, JS ${(idle.heapPerConnection / 1024).toFixed(2)} KiB each`,
);

const echoPeak = echo.peak!.messagesPerSecond;
const ratio = ca.peak!.messagesPerSecond / echoPeak;
const transportRatio = transportOnly.peak!.messagesPerSecond / echoPeak;
const addedP99 = ca.steady[0]!.p99Ms - echo.steady[0]!.p99Ms;
const addedP99AtCaHalf = ca.steady[1]!.p99Ms - echoAtCaHalf.steady[0]!.p99Ms;
const kib = (bytes: number): string => `${(bytes / 1024).toFixed(2)} KiB`;
const rate = (n: number): string => n.toLocaleString('en-US');
const row = (name: string, r: LoadResult): string =>
  `| ${name} | ${rate(Math.round(r.messagesPerSecond))}${(r.skipped ?? 0) >= 0.005 ? ` (could not keep up: ${(r.skipped! * 100).toFixed(0)}% of sends held back)` : ''} | ${r.p50Ms.toFixed(2)} ms | ${r.p99Ms.toFixed(2)} ms |`;
const summary = [
  `Chat messages (\`message\` → \`message.ack\` after storage) through the ws transport + relay + memory storage + a CA channel that accepts and takes deliveries at once (so each message also yields a \`message.status\` frame), vs a bare \`ws\` server answering the same frames; the same client harness (${CONNECTIONS} connections, ${WINDOW} in flight each for the peak), server in a child process, loopback, ${MEASURE_MS / 1000} s measured after ${WARMUP_MS / 1000} s warm-up per run. "Transport alone" is the ws transport over a stand-in relay that answers at once, to tell the transport's cost from the relay's. Run with \`npm run bench:ws\`.`,
  '',
  '| | messages/s | p50 | p99 |',
  '|---|---|---|---|',
  row('echo, peak (closed loop)', echo.peak!),
  row('ca-chat, peak (closed loop)', ca.peak!),
  row('transport alone, peak (closed loop)', transportOnly.peak!),
  row(`echo at ${rate(half)}/s (open loop)`, echo.steady[0]!),
  row(`ca-chat at ${rate(half)}/s (open loop)`, ca.steady[0]!),
  row(`transport alone at ${rate(half)}/s (open loop)`, transportOnly.steady[0]!),
  row(`echo at ${rate(caHalf)}/s (open loop)`, echoAtCaHalf.steady[0]!),
  row(`ca-chat at ${rate(caHalf)}/s (open loop)`, ca.steady[1]!),
  '',
  `- Throughput: ca-chat ${ratio.toFixed(2)}× the echo's (target ≥ 0.85×: ${ratio >= 0.85 ? 'met' : 'missed'}); the transport alone ${transportRatio.toFixed(2)}×.`,
  `- p99 added latency at half the echo's peak (${rate(half)}/s): ${addedP99.toFixed(2)} ms (target ≤ 2 ms: ${addedP99 <= 2 ? 'met' : 'missed'}); at half ca-chat's own peak (${rate(caHalf)}/s): ${addedP99AtCaHalf.toFixed(2)} ms.`,
  `- Idle: ${rate(idle.connections)} connections after \`hello\` (each a new client identity): ${rate(Math.round(idle.bytesPerConnection))} B (${kib(idle.bytesPerConnection)}) server RSS each, JS heap + external ${kib(idle.heapPerConnection)}; a bare \`ws\` server: ${kib(idleEcho.bytesPerConnection)} RSS (JS ${kib(idleEcho.heapPerConnection)}) per connection. Target < 8 KB (8,000 B): ${idle.bytesPerConnection < 8000 ? 'met' : 'missed'}; RSS per connection varies by about ±1 KiB between runs.`,
  '',
  "Where the time goes (CPU profile of the ca-chat server over its peak and open-loop runs, `BENCH_SERVER_NODE_OPTIONS=\"--cpu-prof\"`, 2026-11-25, after the relay work below; shares of all samples, 11% of them idle): the garbage collector ~14%, socket writes (`writev` and Node streams) ~12%, this transport's own code (frame parsing, sends, dispatch) ~14%, relay plumbing (the chat lock, storage guards, outbox, plug-in calls with their timeouts, promise turns) ~19% plus ~7% in the microtask queue itself, the memory storage ~11% (most of it `appendMessage` keeping the per-chat idempotency index and the message log, which grow with every message), the `ws` library ~5%. No single cost dominates any more; what is left is one promise chain per message (store \u2192 outbox \u2192 channel \u2192 `message.status`) and the allocation behind it. Relay changes that took ca-chat from 32.6k to 62.3k messages/s (0.36\u00d7 \u2192 0.67\u00d7 the echo): the memory store copies records with typed per-record copies instead of a generic walk and keeps its idempotency and pending indexes without building key strings; storage guards, plug-in calls and relay operations return one promise instead of wrapping it in `async` functions and `Promise.race`; the chat lock allocates nothing when uncontended; a client message reads its chat once (under the lock) instead of twice; the outbox skips the empty direction and runs each chat's worker as one async function. In quiet runs the transport alone did 1.5\u20131.8\u00d7 the echo's messages/s, because it gathers the frames of one event-loop turn into one write (`cork`). Other processes on the machine swing single runs by 2\u00d7 or more. Tried on the transport side: that corking (transport alone from 0.55\u00d7 to 1.5\u20131.8\u00d7 the echo), per-connection state allocated lazily, shared socket handlers and an inline rate-limit bucket (JS heap per idle connection 4.4 \u2192 3.6 KiB). Tried in a second relay round and reverted, because neither paid 3% in an in-process loop (relay + memory storage + stand-in transport and channel, 50 chats \u00d7 8 in flight, about 100\u2013120k messages/s with runs \u00b110% apart; base and change alternated, four pairs each): one shared deadline timer per timeout duration for plug-in calls instead of a clock timer per call (+1.8% on average: \u22121.4% to +4.3%); skipping the `message.delivered` copy when nobody listens together with no `await` for an absent `beforeAppend` (no gain measurable). In that loop's profile `appendMessage` of the memory store is ~12% of samples by itself and the garbage collector ~17%: both grow with the per-chat message log and idempotency index, which the memory store keeps for the life of the chat.",
  '',
  `Machine: ${machine()}; client and server share its cores (load average ${loadavg()[0]!.toFixed(1)} at the end of the run). Measured ${new Date().toISOString().slice(0, 10)}.`,
];
console.log(`\n${summary.join('\n')}`);
await writeReadmeSection('ws', summary.join('\n'));
process.exit(0);
