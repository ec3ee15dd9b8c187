import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { Busboy } from '@fastify/busboy';
import { CaChatError } from '@ca-chat/core';
import type { Message, RelayApi } from '@ca-chat/core';
import { sanitizeFilename, sanitizeMime } from './filename.js';

export interface UploadResult {
  message: Message;
  duplicate: boolean;
  clientMsgId: string | null;
}

/** Text fields a file upload may carry, all before the file part. */
const FIELDS = new Set(['chatId', 'clientMsgId', 'text']);
const MAX_FIELD_BYTES = 64 * 1024;
const CLEANUP_WAIT_MS = 5000;
/**
 * Buffer of each stage between the socket and the BlobStore. Above the 16 KiB default so the
 * stages (parse, hash, disk write) overlap instead of handing over one socket read at a time;
 * bounded, so an upload still holds well under a megabyte.
 */
const STAGE_BUFFER_BYTES = 256 * 1024;

/**
 * Streams a `multipart/form-data` upload (fields `chatId`, optional `clientMsgId` and `text`,
 * then exactly one `file`) straight into `relay.sendClientFile`: nothing is buffered whole.
 *
 * The file's bytes flow into the relay as they arrive, but the relay's source only ends once
 * the whole body has been parsed and found valid; a second file, a late field, a truncated
 * body or a part past `maxFileBytes` destroys the source instead, so the BlobStore drops the
 * partial file and nothing is stored.
 */
export function receiveUpload(
  req: IncomingMessage,
  relay: RelayApi,
  clientId: string,
): Promise<UploadResult> {
  return new Promise<UploadResult>((resolve, reject) => {
    const maxFileBytes = relay.settings.maxFileBytes;
    const fields: Record<string, string> = {};
    const abort = new AbortController();
    let source: PassThrough | null = null;
    let fileEnded = false;
    let bodyParsed = false;
    let stored: { message: Message; duplicate: boolean } | null = null;
    let settled = false;
    /** The relay's write, while in flight: a failure is answered only after it cleaned up. */
    let storing: Promise<unknown> | null = null;

    const fail = (error: CaChatError): void => {
      if (settled) return;
      settled = true;
      req.unpipe(parser);
      source?.destroy(error);
      abort.abort(error);
      if (!storing) return reject(error);
      // So that "413, nothing stored" is true when the client reads the 413 (bounded wait).
      const timer = setTimeout(() => reject(error), CLEANUP_WAIT_MS);
      void storing.finally(() => {
        clearTimeout(timer);
        reject(error);
      });
    };
    const maybeEnd = (): void => {
      if (!settled && fileEnded && bodyParsed) source?.end();
    };
    const maybeResolve = (): void => {
      if (settled || !stored || !bodyParsed) return;
      settled = true;
      resolve({ ...stored, clientMsgId: fields.clientMsgId ?? null });
    };

    let parser: ReturnType<typeof Busboy>;
    try {
      parser = Busboy({
        headers: req.headers as Parameters<typeof Busboy>[0]['headers'],
        highWaterMark: STAGE_BUFFER_BYTES,
        fileHwm: STAGE_BUFFER_BYTES,
        // One over the limit so busboy's `limit` fires only for a file that is really too big.
        limits: {
          fileSize: maxFileBytes + 1,
          files: 1,
          fields: FIELDS.size,
          fieldSize: MAX_FIELD_BYTES,
          parts: FIELDS.size + 1,
          headerPairs: 16,
        },
      });
    } catch {
      reject(new CaChatError('malformed', 'malformed multipart Content-Type (boundary missing?)'));
      return;
    }

    parser.on('field', (name, value, _nameTruncated, valueTruncated) => {
      if (source) return fail(new CaChatError('invalid_input', 'fields must come before the file'));
      if (valueTruncated)
        return fail(new CaChatError('invalid_input', `field ${name} is too long`));
      if (FIELDS.has(name)) fields[name] = value;
    });

    parser.on('file', (name, stream, filename, _encoding, mimeType) => {
      stream.on('error', () => {});
      if (settled) return void stream.resume();
      if (name !== 'file') {
        stream.resume();
        return fail(
          new CaChatError(
            'invalid_input',
            `unexpected file field ${JSON.stringify(name)}; use "file"`,
          ),
        );
      }
      const chatId = fields.chatId;
      if (!chatId) {
        stream.resume();
        return fail(new CaChatError('invalid_input', 'the chatId field must come before the file'));
      }
      source = new PassThrough({ highWaterMark: STAGE_BUFFER_BYTES });
      // The relay may refuse before it reads a byte; the destroy in fail() must not throw then.
      source.on('error', () => {});
      stream.pipe(source, { end: false });
      stream.on('end', () => {
        fileEnded = true;
        maybeEnd();
      });
      stream.on('limit', () =>
        fail(
          new CaChatError('file_too_large', `file is larger than ${maxFileBytes} bytes`, {
            details: { maxBytes: maxFileBytes },
          }),
        ),
      );
      storing = relay
        .sendClientFile(clientId, {
          chatId,
          name: sanitizeFilename(filename),
          mime: sanitizeMime(mimeType),
          source,
          idempotencyKey: fields.clientMsgId ?? null,
          text: fields.text ?? null,
          signal: abort.signal,
        })
        .then(
          (result) => {
            // A duplicate (same clientMsgId) may be answered without reading: let the rest flow away.
            source?.resume();
            stored = result;
            maybeResolve();
          },
          (error: unknown) => {
            stream.resume();
            storing = null;
            fail(
              CaChatError.isInstance(error)
                ? error
                : CaChatError.wrap(error, 'internal', 'upload failed'),
            );
          },
        );
    });

    const tooMany = (): void =>
      fail(
        new CaChatError(
          'invalid_input',
          'send the fields chatId, clientMsgId, text and exactly one file',
        ),
      );
    parser.on('filesLimit', tooMany);
    parser.on('fieldsLimit', tooMany);
    parser.on('partsLimit', tooMany);
    parser.on('error', (error) =>
      fail(new CaChatError('malformed', 'malformed multipart body', { cause: error })),
    );
    parser.on('finish', () => {
      bodyParsed = true;
      if (!source) return fail(new CaChatError('invalid_input', 'the file field is missing'));
      maybeEnd();
      maybeResolve();
    });
    req.on('close', () => {
      if (!req.complete) fail(new CaChatError('invalid_input', 'upload aborted by the client'));
    });
    req.pipe(parser);
  });
}
