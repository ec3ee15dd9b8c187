import type { Readable } from 'node:stream';
import type { FileRecord, FileRef, Party } from '../domain.js';
import { CaChatError } from '../errors.js';
import type { FileUpload, RelayApi } from '../relay-api.js';
import { clientChat, storeMessage, writableCAChat, writableClientChat } from './access.js';
import type { RelayContext } from './context.js';
import { newId } from './identities.js';
import {
  optionalKey,
  SAFE_ID,
  validateFileName,
  validateMime,
  validateText,
} from './validation.js';

export type Files = Pick<RelayApi, 'sendClientFile' | 'sendCAFile' | 'openFile' | 'getClientFile'>;

/**
 * Files travel like messages: the bytes stream into the BlobStore (size-limited, hashed),
 * then a file record and a file message are stored and the outbox delivers it.
 */
export function createFiles(ctx: RelayContext): Files {
  const { storage, blobs } = ctx;

  const validateUpload = (
    upload: FileUpload,
  ): { name: string; mime: string; caption: string | null; key: string | null } => {
    if (typeof upload !== 'object' || upload === null)
      throw new CaChatError('invalid_input', 'expected a file upload');
    if (typeof upload.source !== 'object' || upload.source === null)
      throw new CaChatError('invalid_input', 'the upload has no data');
    return {
      name: validateFileName(upload.name),
      mime: validateMime(upload.mime),
      caption:
        upload.text === undefined || upload.text === null || upload.text === ''
          ? null
          : validateText(upload.text, ctx.config.maxTextLength),
      key: optionalKey(upload.idempotencyKey, 'idempotencyKey'),
    };
  };

  const store = async (
    from: Exclude<Party, 'system'>,
    upload: FileUpload,
    meta: ReturnType<typeof validateUpload>,
  ): Promise<{
    message: Awaited<ReturnType<RelayApi['sendClientFile']>>['message'];
    duplicate: boolean;
  }> => {
    const id = newId();
    let info: { size: number; sha256: string };
    try {
      info = await blobs.put(id, upload.source, {
        maxBytes: ctx.config.maxFileBytes,
        ...(upload.signal ? { signal: upload.signal } : {}),
      });
    } catch (error) {
      destroy(upload.source);
      throw error;
    }
    const file: FileRef = {
      id,
      name: meta.name,
      mime: meta.mime,
      size: info.size,
      sha256: info.sha256,
    };
    const record: FileRecord = { ...file, chatId: upload.chatId, from, createdAt: ctx.clock.now() };
    try {
      const result = await storeMessage(ctx, {
        chatId: upload.chatId,
        from,
        text: meta.caption,
        file,
        idempotencyKey: meta.key,
        allowWaiting: from === 'client',
        beforeAppend: () => storage.createFile(record),
      });
      if (result.duplicate) {
        // A retried upload: the first copy is the message's; these bytes belong to nobody.
        // (Its metadata record stays until the chat is deleted by retention.)
        await blobs.delete(id).catch((e) => ctx.reportError(e, { op: 'blobs.delete', fileId: id }));
      } else {
        ctx.emit('file.stored', record);
      }
      return { message: result.message, duplicate: result.duplicate };
    } catch (error) {
      // The chat ended (or storage failed) while the bytes streamed in: keep nothing.
      await blobs.delete(id).catch((e) => ctx.reportError(e, { op: 'blobs.delete', fileId: id }));
      throw error;
    }
  };

  return {
    async sendClientFile(clientId, upload) {
      const meta = validateUpload(upload);
      await writableClientChat(ctx, clientId, upload.chatId);
      return store('client', upload, meta);
    },

    async sendCAFile(caId, upload) {
      const meta = validateUpload(upload);
      await writableCAChat(ctx, caId, upload.chatId);
      return store('ca', upload, meta);
    },

    async openFile(fileId, range) {
      const file =
        typeof fileId === 'string' && SAFE_ID.test(fileId) ? await storage.getFile(fileId) : null;
      if (!file) throw new CaChatError('not_found', 'no such file');
      if (range !== undefined) {
        const { start, end } = range;
        const bad =
          !Number.isInteger(start) ||
          start < 0 ||
          (end !== undefined && (!Number.isInteger(end) || end < start));
        if (bad) throw new CaChatError('invalid_input', 'invalid byte range');
      }
      const stream = await blobs.get(fileId, range);
      return { file, stream };
    },

    async getClientFile(clientId, fileId) {
      const file =
        typeof fileId === 'string' && SAFE_ID.test(fileId) ? await storage.getFile(fileId) : null;
      if (!file) throw new CaChatError('not_found', 'no such file');
      try {
        await clientChat(ctx, clientId, file.chatId);
      } catch {
        // Same answer as a missing file: nobody learns which file ids exist.
        throw new CaChatError('not_found', 'no such file');
      }
      return file;
    },
  };
}

function destroy(source: Readable | AsyncIterable<Uint8Array>): void {
  const stream = source as Partial<Readable>;
  if (typeof stream.destroy === 'function' && !stream.destroyed) stream.destroy();
}
