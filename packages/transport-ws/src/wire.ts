import { CaChatError } from '@ca-chat/core';
import type { FileRef, Logger, Message, Party } from '@ca-chat/core';
import type { ServerFrame, WireFile, WireMessage } from './protocol.js';

/** What a stored message and a relay `message` event have in common. */
export interface MessageLike {
  chatId: string;
  seq: number;
  from: Party;
  text?: string | null;
  file?: FileRef | null;
  at: number;
}

export function messageOf(message: Message): MessageLike {
  return {
    chatId: message.chatId,
    seq: message.seq,
    from: message.from,
    text: message.text,
    file: message.file,
    at: message.createdAt,
  };
}

/** The wire form of a message: absent fields omitted, files given a signed download URL. */
export function toWireMessage(
  message: MessageLike,
  fileUrl: (file: FileRef) => string,
): WireMessage {
  const wire: WireMessage = {
    type: 'message',
    chatId: message.chatId,
    seq: message.seq,
    from: message.from,
    at: message.at,
  };
  if (typeof message.text === 'string') wire.text = message.text;
  if (message.file) {
    const { id, name, mime, size, sha256 } = message.file;
    const file: WireFile = { id, name, mime, size, sha256, url: fileUrl(message.file) };
    wire.file = file;
  }
  return wire;
}

/**
 * The error a caller sees. A CaChatError passes its code and message through; anything
 * else is a bug or a plug-in failure whose details stay in the log.
 */
export function publicError(error: unknown, logger: Logger, context: object): CaChatError {
  if (CaChatError.isInstance(error)) {
    if (error.code === 'internal' || error.code === 'storage_error')
      logger.error({ ...context, err: error }, 'request failed');
    return error;
  }
  logger.error({ ...context, err: error }, 'unexpected error');
  return new CaChatError('internal', 'internal error');
}

export function errorFrame(error: CaChatError, ref?: string): ServerFrame {
  return {
    type: 'error',
    code: error.code,
    message: error.message,
    ...(ref === undefined ? {} : { ref }),
  };
}
