/**
 * Upload bench: 1 GiB (generated, never on disk on the client side) through `POST /chat`
 * into the fs blob store, against a plain `req.pipe(fs.createWriteStream())` handler, in
 * the same run. Reports throughput, the ratio, and the server's RSS growth.
 * Usage: npm run bench:upload [-- --mib 1024 --rounds 2]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machine, writeReadmeSection } from './report.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const totalMiB = arg('mib', 1024);
const rounds = arg('rounds', 3);
const CHUNK = 1024 * 1024;
const chunk = randomBytes(CHUNK);
const boundary = 'ca-chat-bench-boundary';

interface Server {
  child: ChildProcess;
  port: number;
  token: string;
  chatId: string;
}

function ask<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve) => {
    const onMessage = (message: { type: string }): void => {
      if (message.type !== type) return;
      child.off('message', onMessage);
      resolve(message as T);
    };
    child.on('message', onMessage);
    child.send({ type });
  });
}

async function startServer(mode: 'ca' | 'plain'): Promise<Server> {
  const script = fileURLToPath(new URL('./upload-server.js', import.meta.url));
  const dir = join(tmpdir(), `ca-chat-upload-bench-${mode}-${process.pid}`);
  // BENCH_SERVER_NODE_OPTIONS="--cpu-prof" profiles the server side.
  const extra = (process.env.BENCH_SERVER_NODE_OPTIONS ?? '').split(' ').filter(Boolean);
  const child = fork(script, [mode, dir], {
    execArgv: ['--expose-gc', ...extra],
    stdio: 'inherit',
  });
  const [ready] = (await once(child, 'message')) as [
    { port: number; token: string; chatId: string },
  ];
  return { child, ...ready };
}

async function stop(server: Server): Promise<void> {
  const stopped = new Promise<void>((resolve) =>
    server.child.on('message', (m: { type: string }) => m.type === 'stopped' && resolve()),
  );
  server.child.send({ type: 'stop' });
  await stopped;
  await once(server.child, 'exit').catch(() => {});
}

/** Streams the multipart body with backpressure; resolves with seconds from first byte to the response. */
async function upload(server: Server, mode: 'ca' | 'plain'): Promise<number> {
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="chatId"\r\n\r\n${server.chatId}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const length = head.length + totalMiB * CHUNK + tail.length;
  const started = process.hrtime.bigint();
  const req = request({
    host: '127.0.0.1',
    port: server.port,
    method: 'POST',
    path: mode === 'ca' ? '/chat' : '/upload',
    headers: {
      'Content-Type': `multipart/form-data; boundary=${boundary}`,
      'Content-Length': length,
      ...(server.token ? { Authorization: `Bearer ${server.token}` } : {}),
    },
  });
  const response = once(req, 'response') as Promise<[import('node:http').IncomingMessage]>;
  req.write(head);
  for (let i = 0; i < totalMiB; i++) {
    if (!req.write(chunk)) await once(req, 'drain');
  }
  req.end(tail);
  const [res] = await response;
  let body = '';
  for await (const part of res) body += part;
  if (res.statusCode !== 201) throw new Error(`${mode} upload answered ${res.statusCode}: ${body}`);
  return Number(process.hrtime.bigint() - started) / 1e9;
}

const results: Record<'ca' | 'plain', { seconds: number[]; rssGrowth: number[] }> = {
  ca: { seconds: [], rssGrowth: [] },
  plain: { seconds: [], rssGrowth: [] },
};
for (let round = 0; round < rounds; round++) {
  for (const mode of ['plain', 'ca'] as const) {
    const server = await startServer(mode);
    await ask(server.child, 'reset');
    const seconds = await upload(server, mode);
    const stats = await ask<{ baselineRss: number; maxRss: number }>(server.child, 'stats');
    await stop(server);
    results[mode].seconds.push(seconds);
    results[mode].rssGrowth.push(stats.maxRss - stats.baselineRss);
    console.log(
      `round ${round + 1} ${mode.padEnd(5)} ${(totalMiB / seconds).toFixed(0)} MiB/s  rss +${((stats.maxRss - stats.baselineRss) / 2 ** 20).toFixed(1)} MiB`,
    );
  }
}

const best = (mode: 'ca' | 'plain'): number => totalMiB / Math.min(...results[mode].seconds);
const caMiBs = best('ca');
const plainMiBs = best('plain');
const ratio = caMiBs / plainMiBs;
const rssMiB = Math.max(...results.ca.rssGrowth) / 2 ** 20;
const summary = [
  `Upload of ${totalMiB} MiB (generated) through \`POST /chat\` (multipart, @fastify/busboy → relay → fs blob store with SHA-256) vs a plain \`req.pipe(fs.createWriteStream())\` handler; server in a child process, best of ${rounds} rounds each, loopback. Run with \`npm run bench:upload\`.`,
  '',
  '| | throughput | server RSS growth (max) |',
  '|---|---|---|',
  `| ca-chat \`POST /chat\` | ${caMiBs.toFixed(0)} MiB/s | ${rssMiB.toFixed(1)} MiB |`,
  `| plain pipe to disk | ${plainMiBs.toFixed(0)} MiB/s | ${(Math.max(...results.plain.rssGrowth) / 2 ** 20).toFixed(1)} MiB |`,
  '',
  `Each round (MiB/s): ca-chat ${results.ca.seconds.map((x) => (totalMiB / x).toFixed(0)).join(', ')}; plain ${results.plain.seconds.map((x) => (totalMiB / x).toFixed(0)).join(', ')} — the disk (page cache writeback) makes single runs vary a lot.`,
  '',
  `Ratio ${ratio.toFixed(2)}× (target ≥ 0.8×: ${ratio >= 0.8 ? 'met' : 'missed'}); RSS growth ${rssMiB.toFixed(1)} MiB (target < 64 MiB: ${rssMiB < 64 ? 'met' : 'missed'}).`,
  '',
  `Machine: ${machine()}; load average ${loadavg()[0]!.toFixed(1)} at the end of the run. Measured ${new Date().toISOString().slice(0, 10)}. The RSS growth is mostly garbage (socket chunks) awaiting collection: the plain pipe grows as much.`,
];
console.log(`\n${summary.join('\n')}`);
await writeReadmeSection('upload', summary.join('\n'));
