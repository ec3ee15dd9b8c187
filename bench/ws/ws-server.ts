/**
 * The server side of the ws bench, in a child process (its own core and RSS).
 * `ca`: ws transport + relay + memory storage + a CA channel that accepts every offer and
 * takes every delivery at once. `echo`: a bare `ws` server answering the same frames with
 * the smallest valid reply (parse + stringify), the baseline.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { WebSocketServer } from 'ws';
import { createFsBlobStore, createMemoryStorage, createRelay } from '@ca-chat/core';
import type { CAChannel, RelayApi } from '@ca-chat/core';
import { createWsTransport } from '@ca-chat/transport-ws';

const mode = process.argv[2] as 'ca' | 'echo' | 'transport';
const send = (message: object): void => void process.send!(message);
const unlimited = { ratePerSecond: 1e9, burst: 1e9 };

function acceptingChannel(): CAChannel {
  let relay: RelayApi | null = null;
  return {
    name: 'bench',
    async start(r) {
      relay = r;
    },
    async stop() {},
    async sendOffer(ca, offer) {
      setImmediate(() => void relay?.acceptOffer(ca.id, offer.chatId).catch(() => {}));
      return null;
    },
    async closeOffer() {},
    async chatMatched() {},
    async deliverMessage() {
      return { peerMessageId: null };
    },
    async chatEnded() {},
    async notify() {},
  };
}

/** The ws transport with its limits out of the way (the bench is one address, flat out). */
const benchTransport = (): ReturnType<typeof createWsTransport> =>
  createWsTransport({
    host: '127.0.0.1',
    port: 0,
    rateLimit: unlimited,
    ipLimits: {
      newIdentities: unlimited,
      chatRequests: unlimited,
      httpRequests: unlimited,
      maxTrackedIps: 10,
    },
    maxConnections: 50_000,
  });

async function startCa(): Promise<number> {
  const transport = benchTransport();
  const channel = acceptingChannel();
  const relay = createRelay({
    storage: createMemoryStorage(),
    blobs: createFsBlobStore({ dir: `/tmp/ca-chat-ws-bench-${process.pid}` }),
    transports: [transport],
    channels: [channel],
    options: { registrationMode: 'open', languages: ['en'], maxOpenChatsPerClient: 3 },
  });
  await relay.start();
  // 50 chats per CA is the relay's cap: enough CAs for every bench connection.
  for (let i = 0; i < 10; i++) {
    await relay.registerCA({
      channel: 'bench',
      externalId: `${i}`,
      address: `${i}`,
      name: `Bench CA ${i}`,
      membershipNo: `${123450 + i}`,
      languages: ['en'],
      maxChats: 50,
    });
  }
  return transport.address()!.port;
}

/**
 * The transport alone: a stand-in relay that answers at once from a counter, to tell the
 * transport's own cost apart from the relay's and storage's.
 */
async function startTransportOnly(): Promise<number> {
  const transport = benchTransport();
  let clients = 0;
  let chats = 0;
  const seqs = new Map<string, number>();
  const now = Date.now();
  const stub = {
    settings: {
      registrationMode: 'open',
      languages: ['en'],
      topics: [],
      maxTextLength: 8000,
      maxFileBytes: 1e9,
    },
    async createClient() {
      const id = `c${++clients}`;
      return {
        client: { id, tokenHash: '', name: null, language: null, createdAt: now },
        token: `${id}.secret`,
      };
    },
    clientConnected() {},
    clientDisconnected() {},
    async listClientChats() {
      return [];
    },
    async requestChat(clientId: string) {
      const chat = {
        id: `chat${++chats}`,
        clientId,
        caId: null,
        language: 'en',
        topic: null,
        state: 'waiting',
        endReason: null,
        createdAt: now,
        matchedAt: null,
        endedAt: null,
      };
      seqs.set(chat.id, 0);
      setImmediate(
        () =>
          void transport.deliver(clientId, {
            type: 'chat.matched',
            chatId: chat.id,
            ca: { name: 'Bench CA', languages: ['en'] },
          }),
      );
      return { chat, position: 1, noCaForLanguage: false, message: null };
    },
    async sendClientMessage(
      _clientId: string,
      input: { chatId: string; text: string; clientMsgId?: string | null },
    ) {
      const seq = (seqs.get(input.chatId) ?? 0) + 1;
      seqs.set(input.chatId, seq);
      const message = {
        chatId: input.chatId,
        seq,
        from: 'client',
        text: input.text,
        file: null,
        createdAt: now,
        idempotencyKey: input.clientMsgId ?? null,
        delivery: {
          state: 'pending',
          peerMessageId: null,
          attempts: 0,
          nextAttemptAt: null,
          error: null,
        },
      };
      return { message, duplicate: false };
    },
  };
  await transport.start(stub as unknown as RelayApi);
  return transport.address()!.port;
}

async function startEcho(): Promise<number> {
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: false,
    handleProtocols: () => 'ca-chat.v1',
  });
  let clients = 0;
  let chats = 0;
  wss.on('connection', (socket) => {
    let seq = 0;
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data)) as {
        type: string;
        clientMsgId?: string;
        chatId?: string;
        ref?: string;
      };
      if (frame.type === 'hello')
        socket.send(
          JSON.stringify({ type: 'welcome', clientId: `c${++clients}`, token: 'x', chats: [] }),
        );
      else if (frame.type === 'chat.request') {
        // The shape of the relay's chat ids (29 characters): short ids would be interned by
        // JSON.parse on every message, which ca-chat's are not.
        const chatId = `${Date.now().toString(36).padStart(9, '0')}${(++chats).toString(36).padStart(4, '0')}${randomBytes(8).toString('hex')}`;
        socket.send(JSON.stringify({ type: 'chat.queued', chatId, position: 1, ref: frame.ref }));
        socket.send(
          JSON.stringify({
            type: 'chat.matched',
            chatId,
            ca: { name: 'Bench CA', languages: ['en'] },
          }),
        );
      } else if (frame.type === 'message')
        socket.send(
          JSON.stringify({
            type: 'message.ack',
            chatId: frame.chatId,
            clientMsgId: frame.clientMsgId,
            seq: ++seq,
          }),
        );
    });
  });
  await new Promise((resolve) => wss.once('listening', resolve));
  return (wss.address() as AddressInfo).port;
}

if (process.env.BENCH_STALLS) watchStalls(Number(process.env.BENCH_STALLS));
const allocations = process.env.BENCH_ALLOC ? await sampleAllocations() : null;

/**
 * Diagnostics (BENCH_ALLOC=file): samples every allocation, short-lived ones included, and
 * writes the profile (a `.heapprofile`, for DevTools) when the bench stops the server.
 */
async function sampleAllocations(): Promise<() => Promise<void>> {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: Number(process.env.BENCH_ALLOC_INTERVAL ?? 1024),
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  return async () => {
    const { profile } = await session.post('HeapProfiler.stopSampling');
    writeFileSync(process.env.BENCH_ALLOC!, JSON.stringify(profile));
  };
}

/**
 * Diagnostics (BENCH_STALLS=ms): prints every event-loop stall longer than `ms` and every
 * garbage collection longer than 1 ms, with times since start, to tell the tail's causes apart.
 */
function watchStalls(threshold: number): void {
  const start = performance.now();
  let last = start;
  let lastCpu = process.cpuUsage();
  setInterval(() => {
    const now = performance.now();
    const cpu = process.cpuUsage();
    if (now - last > threshold) {
      // CPU time of the whole process (GC helper threads included) over the stall.
      const used = (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000;
      console.error(
        `stall ${(now - last).toFixed(1)} ms at ${((performance.timeOrigin + last) % 100_000) | 0} (epoch ms mod 1e5), process CPU ${used.toFixed(1)} ms`,
      );
    }
    last = now;
    lastCpu = cpu;
  }, 1).unref();
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries())
      if (entry.duration > 1)
        console.error(
          `gc ${(entry.detail as { kind: number }).kind} ${entry.duration.toFixed(1)} ms at ${((performance.timeOrigin + entry.startTime) % 100_000) | 0}`,
        );
  }).observe({ entryTypes: ['gc'] });
}

const port =
  mode === 'ca'
    ? await startCa()
    : mode === 'transport'
      ? await startTransportOnly()
      : await startEcho();
// The bench process is gone (it failed, or was killed): no server is left behind.
process.on('disconnect', () => process.exit(0));
process.on('message', (message: { type: string }) => {
  if (message.type === 'rss') {
    globalThis.gc?.();
    globalThis.gc?.();
    const usage = process.memoryUsage();
    send({
      type: 'rss',
      rss: usage.rss,
      heapUsed: usage.heapUsed,
      external: usage.external + usage.arrayBuffers,
    });
  } else if (message.type === 'cpu') {
    const usage = process.cpuUsage();
    // Read and write system calls so far (Linux), to tell syscall costs from the rest.
    let syscalls = { reads: NaN, writes: NaN };
    try {
      const io = readFileSync('/proc/self/io', 'utf8');
      syscalls = {
        reads: Number(/syscr: (\d+)/.exec(io)?.[1]),
        writes: Number(/syscw: (\d+)/.exec(io)?.[1]),
      };
    } catch {
      // Not Linux: no counts.
    }
    send({ type: 'cpu', micros: usage.user + usage.system, ...syscalls });
  } else if (message.type === 'stop') {
    if (allocations) void allocations().then(() => process.exit(0));
    else process.exit(0);
  }
});
send({ type: 'ready', port });
