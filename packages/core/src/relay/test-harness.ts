/**
 * Shared set-up for the relay's own tests (not part of the package's API): a relay on the
 * in-memory store, a real file-system blob store in a temp folder, a manual clock and the
 * recording doubles.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CA, Chat, Client } from '../domain.js';
import { createFsBlobStore } from '../fs-blob-store.js';
import type { Logger } from '../logger.js';
import { createMemoryStorage } from '../memory-storage.js';
import type { CARegistration } from '../relay-api.js';
import type { Relay, RelayOptions } from '../relay-options.js';
import type { Storage } from '../storage.js';
import { createManualClock, type ManualClock } from '../testing/manual-clock.js';
import {
  createRecordingChannel,
  createRecordingTransport,
  type RecordingChannel,
  type RecordingTransport,
} from '../testing/recording-doubles.js';
import { createRelay } from './create-relay.js';

export interface Harness {
  relay: Relay;
  storage: Storage;
  blobDir: string;
  clock: ManualClock;
  channel: RecordingChannel;
  transport: RecordingTransport;
  logged: { level: string; obj: object; msg?: string }[];
  addCA(profile?: Partial<CARegistration>): Promise<CA>;
  addClient(): Promise<Client>;
  /** A CA and a client in an active chat (the CA accepted). */
  activeChat(language?: string): Promise<{ ca: CA; client: Client; chat: Chat }>;
  blobFiles(): Promise<string[]>;
  /** A second relay on the same storage, blobs and clock (for restart tests). */
  restart(options?: Omit<HarnessOptions, 'storage' | 'blobDir' | 'clock'>): Promise<Harness>;
  /** Error-level log entries (plug-in failures, thrown listeners…). */
  errors(): { obj: object; msg?: string }[];
  close(): Promise<void>;
}

export interface HarnessOptions extends RelayOptions {
  storage?: Storage;
  blobDir?: string;
  clock?: ManualClock;
}

export async function createHarness(options: HarnessOptions = {}): Promise<Harness> {
  const {
    storage = createMemoryStorage(),
    blobDir: givenDir,
    clock = createManualClock(),
    ...relayOptions
  } = options;
  const blobDir = givenDir ?? (await mkdtemp(join(tmpdir(), 'ca-chat-relay-')));
  const channel = createRecordingChannel('test');
  const transport = createRecordingTransport();
  const logged: Harness['logged'] = [];
  const logger: Logger = {
    debug: (obj, msg) => logged.push({ level: 'debug', obj, ...(msg ? { msg } : {}) }),
    info: (obj, msg) => logged.push({ level: 'info', obj, ...(msg ? { msg } : {}) }),
    warn: (obj, msg) => logged.push({ level: 'warn', obj, ...(msg ? { msg } : {}) }),
    error: (obj, msg) => logged.push({ level: 'error', obj, ...(msg ? { msg } : {}) }),
  };
  const relay = createRelay({
    storage,
    blobs: createFsBlobStore({ dir: blobDir }),
    transports: [transport],
    channels: [channel],
    options: { registrationMode: 'open', clock, logger, ...relayOptions },
  });
  await relay.start();
  let externalIds = 0;
  const harness: Harness = {
    relay,
    storage,
    blobDir,
    clock,
    channel,
    transport,
    logged,
    async addCA(profile = {}) {
      const n = ++externalIds;
      return relay.registerCA({
        channel: 'test',
        externalId: `ca-${n}`,
        address: `chat-${n}`,
        name: `CA ${n}`,
        membershipNo: String(200000 + n),
        languages: ['en'],
        ...profile,
      });
    },
    async addClient() {
      return (await relay.createClient()).client;
    },
    async activeChat(language = 'en') {
      const ca = await harness.addCA();
      const client = await harness.addClient();
      const { chat } = await relay.requestChat(client.id, { language });
      await relay.acceptOffer(ca.id, chat.id);
      return { ca, client, chat };
    },
    async blobFiles() {
      return (await readdir(blobDir).catch(() => [])).filter((f) => !f.startsWith('.'));
    },
    async restart(next = {}) {
      await relay.stop();
      return createHarness({ storage, blobDir, clock, ...relayOptions, ...next });
    },
    errors: () => logged.filter((l) => l.level === 'error'),
    async close() {
      await relay.stop();
      if (!givenDir) await rm(blobDir, { recursive: true, force: true });
    },
  };
  return harness;
}
