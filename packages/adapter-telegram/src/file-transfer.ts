import { CaChatError, type CA, type FileRef } from '@ca-chat/core';
import type { Message } from 'telegraf/types';
import { describeError, relayOf, type ChannelContext } from './channel-context.js';
import type { ChatId } from './telegram-calls.js';
import { chat as texts, formatMb } from './texts.js';

/** Telegram's longest caption, in characters. */
export const MAX_CAPTION_CHARS = 1024;

type FileMessage = Message.DocumentMessage | Message.PhotoMessage;

/**
 * A CA's document or photo → the client: `getFile`, then the bytes streamed from Telegram's
 * file URL straight into `relay.sendCAFile` (the relay's BlobStore hashes and size-limits
 * them; nothing is buffered whole). Problems are told to the CA; nothing half-stored remains.
 */
export async function forwardCAFile(
  ctx: ChannelContext,
  ca: CA,
  chatId: string,
  message: FileMessage,
): Promise<void> {
  const relay = relayOf(ctx);
  const { calls, api, queue, options } = ctx;
  const tgChatId = message.chat.id;
  const described = describeFile(message);
  const limit = Math.min(options.maxDownloadBytes, relay.settings.maxFileBytes);

  if (described.size !== null && described.size > options.maxDownloadBytes) {
    await calls.send(
      tgChatId,
      texts.fileTooBig(formatMb(described.size), formatMb(options.maxDownloadBytes)),
    );
    return;
  }
  if (described.size !== null && described.size > relay.settings.maxFileBytes) {
    await calls.send(tgChatId, texts.fileOverRelayLimit(formatMb(relay.settings.maxFileBytes)));
    return;
  }

  let filePath: string | undefined;
  try {
    const file = await queue.call({
      run: (signal) => api.call('getFile', { file_id: described.fileId }, { signal }),
    });
    filePath = file?.file_path;
  } catch (error) {
    const description = String(
      (CaChatError.isInstance(error) && (error.details as { description?: string })?.description) ||
        '',
    );
    if (/too big/i.test(description)) {
      const size = described.size ?? options.maxDownloadBytes + 1;
      await calls.send(
        tgChatId,
        texts.fileTooBig(formatMb(size), formatMb(options.maxDownloadBytes)),
      );
      return;
    }
    ctx.logger.warn({ err: error, chatId }, 'getFile failed');
    await calls.send(tgChatId, texts.fileFailed);
    return;
  }
  if (!filePath) {
    await calls.send(tgChatId, texts.fileFailed);
    return;
  }

  try {
    const body = await api.download(filePath, { timeoutMs: options.transferTimeoutMs });
    await relay.sendCAFile(ca.id, {
      chatId,
      name: described.name,
      mime: described.mime,
      source: limited(body, limit, ctx),
      idempotencyKey: String(message.message_id),
      text: message.caption ?? null,
    });
  } catch (error) {
    if (CaChatError.is(error, 'file_too_large')) {
      await calls.send(
        tgChatId,
        texts.fileTooBig(formatMb(described.size ?? limit + 1), formatMb(limit)),
      );
      return;
    }
    ctx.logger.warn({ err: error, chatId }, 'forwarding a CA file failed');
    await calls.send(
      tgChatId,
      CaChatError.is(error, 'telegram_error')
        ? texts.fileFailed
        : texts.sendFailed(describeError(error)),
    );
  }
}

/** The bytes of a download, cut off past `maxBytes` and with errors scrubbed of the token. */
async function* limited(
  body: AsyncIterable<Uint8Array>,
  maxBytes: number,
  ctx: ChannelContext,
): AsyncGenerator<Uint8Array> {
  let total = 0;
  try {
    for await (const chunk of body) {
      total += chunk.length;
      if (total > maxBytes)
        throw new CaChatError('file_too_large', `file is larger than ${maxBytes} bytes`);
      yield chunk;
    }
  } catch (error) {
    if (CaChatError.isInstance(error)) throw error;
    throw new CaChatError(
      'telegram_error',
      `file download failed: ${ctx.scrubber.text(describeRaw(error))}`,
      {
        retryable: true,
        cause: ctx.scrubber.error(error),
      },
    );
  }
}

const describeRaw = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);

function describeFile(message: FileMessage): {
  fileId: string;
  size: number | null;
  name: string;
  mime: string;
} {
  if ('document' in message) {
    const d = message.document;
    return {
      fileId: d.file_id,
      size: d.file_size ?? null,
      name: d.file_name?.trim() || `document-${message.message_id}`,
      mime: d.mime_type || 'application/octet-stream',
    };
  }
  // Telegram sends each photo in several sizes; the last is the largest.
  const largest = [...message.photo]
    .sort((a, b) => (a.file_size ?? a.width * a.height) - (b.file_size ?? b.width * b.height))
    .at(-1)!;
  return {
    fileId: largest.file_id,
    size: largest.file_size ?? null,
    name: `photo-${message.message_id}.jpg`,
    mime: 'image/jpeg',
  };
}

/**
 * A client's file → the CA as a document, streamed from the BlobStore (reopened on every
 * attempt, since a failed upload has consumed the stream). Over Telegram's upload limit it
 * fails with a non-retryable `file_too_large`, so the relay marks it failed and tells the client.
 */
export function sendFileToCA(
  ctx: ChannelContext,
  tgChatId: ChatId,
  file: FileRef,
  caption: string,
  orderKey: string,
): Promise<Message.DocumentMessage> {
  const { options, queue, api } = ctx;
  if (file.size > options.maxUploadBytes) {
    return Promise.reject(
      new CaChatError(
        'file_too_large',
        `the file is ${formatMb(file.size)} MB; Telegram bots can send at most ${formatMb(options.maxUploadBytes)} MB`,
        {
          details: { size: file.size, maxBytes: options.maxUploadBytes },
        },
      ),
    );
  }
  const relay = relayOf(ctx);
  return queue.call({
    chatId: tgChatId,
    orderKey,
    run: async (signal) => {
      const { stream } = await relay.openFile(file.id);
      try {
        return await api.call(
          'sendDocument',
          {
            chat_id: tgChatId,
            document: { source: stream, filename: safeFileName(file.name) },
            ...(caption ? { caption } : {}),
          },
          { signal, timeoutMs: options.transferTimeoutMs },
        );
      } finally {
        stream.destroy();
      }
    },
  }) as Promise<Message.DocumentMessage>;
}

/** telegraf writes the name into a quoted header parameter as is. */
function safeFileName(name: string): string {
  const cleaned = name.replace(/["\\\r\n]/g, '_').trim();
  return cleaned || 'file';
}
