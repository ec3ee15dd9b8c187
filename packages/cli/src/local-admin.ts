import { createFsBlobStore, createRelay, silentLogger } from '@ca-chat/core';
import { createSqliteStorage } from '@ca-chat/storage-sqlite';
import { relayAdminBackend, type AdminBackend } from './admin-backend.js';
import type { DataDirLayout } from './data-dir.js';

/**
 * Admin operations with the server stopped: opens the data dir's store directly (its lock
 * file refuses if a server holds it). Nobody is notified on Telegram or in a browser; they
 * see the new state when the server runs again.
 */
export async function openLocalAdmin(layout: DataDirLayout): Promise<AdminBackend> {
  const storage = createSqliteStorage({ file: layout.database });
  const relay = createRelay({
    storage,
    blobs: createFsBlobStore({ dir: layout.files }),
    transports: [],
    channels: [],
    options: { logger: silentLogger },
  });
  await relay.start();
  return relayAdminBackend(relay, 'local', () => relay.stop({ drainTimeoutMs: 0 }));
}
