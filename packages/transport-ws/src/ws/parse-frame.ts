import { CaChatError } from '@ca-chat/core';
import type { ClientFrame } from '../protocol.js';

const MAX_ID_LENGTH = 128;
const MAX_TOKEN_LENGTH = 512;
const MAX_TOPIC_LENGTH = 64;
const MAX_LANGUAGE_LENGTH = 16;

type Fields = Record<string, unknown>;

const KNOWN_TYPES = new Set<string>([
  'hello',
  'chat.request',
  'message',
  'typing',
  'chat.end',
  'resume',
  'ping',
] satisfies ClientFrame['type'][]);

function invalid(message: string): CaChatError {
  return new CaChatError('invalid_input', message);
}

function id(frame: Fields, key: string): string {
  const value = frame[key];
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ID_LENGTH) {
    throw invalid(`${key} must be a non-empty string of at most ${MAX_ID_LENGTH} characters`);
  }
  return value;
}

function optionalString(frame: Fields, key: string, maxLength: number): string | null {
  const value = frame[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length > maxLength) {
    throw invalid(`${key} must be a string of at most ${maxLength} characters`);
  }
  return value;
}

/** The `ref` of a frame, if it has a usable one (so even a refused frame's error can carry it). */
export function frameRef(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const ref = (value as Fields).ref ?? (value as Fields).clientMsgId;
  return typeof ref === 'string' && ref.length > 0 && ref.length <= MAX_ID_LENGTH ? ref : undefined;
}

export type ParsedFrame =
  { ok: true; frame: ClientFrame } | { ok: false; error: CaChatError; ref?: string };

/**
 * Turns a text frame into a ClientFrame, or an error: `malformed` (not JSON / not an object),
 * `unknown_type`, or `invalid_input` (a field of the wrong type or size), with the frame's
 * `ref` when it had one. Text length rules belong to the relay (`text_too_long`,
 * `empty_text`); only the type is checked here.
 */
export function parseClientFrame(raw: string): ParsedFrame {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { ok: false, error: new CaChatError('malformed', 'frame is not valid JSON') };
  }
  try {
    return { ok: true, frame: toClientFrame(value) };
  } catch (error) {
    const ref = frameRef(value);
    return { ok: false, error: error as CaChatError, ...(ref === undefined ? {} : { ref }) };
  }
}

function toClientFrame(value: unknown): ClientFrame {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CaChatError('malformed', 'frame must be a JSON object');
  }
  const frame = value as Fields;
  if (typeof frame.type !== 'string') throw new CaChatError('malformed', 'frame has no type');
  if (!KNOWN_TYPES.has(frame.type)) {
    throw new CaChatError(
      'unknown_type',
      `unknown frame type ${JSON.stringify(frame.type.slice(0, 64))}`,
    );
  }
  const refValue = frame.ref;
  if (refValue !== undefined && (typeof refValue !== 'string' || refValue.length > MAX_ID_LENGTH)) {
    throw invalid(`ref must be a string of at most ${MAX_ID_LENGTH} characters`);
  }
  const ref = refValue === undefined ? {} : { ref: refValue };

  switch (frame.type) {
    case 'hello':
      return { type: 'hello', token: optionalString(frame, 'token', MAX_TOKEN_LENGTH), ...ref };
    case 'chat.request': {
      const language = frame.language;
      if (
        typeof language !== 'string' ||
        language.length === 0 ||
        language.length > MAX_LANGUAGE_LENGTH
      ) {
        throw invalid('language must be a language tag such as "en"');
      }
      const text = frame.text;
      if (text !== undefined && text !== null && typeof text !== 'string')
        throw invalid('text must be a string');
      return {
        type: 'chat.request',
        language,
        topic: optionalString(frame, 'topic', MAX_TOPIC_LENGTH),
        text: (text as string | null | undefined) ?? null,
        clientMsgId: optionalString(frame, 'clientMsgId', MAX_ID_LENGTH),
        ...ref,
      };
    }
    case 'message': {
      const chatId = id(frame, 'chatId');
      if (typeof frame.text !== 'string') throw invalid('text must be a string');
      // The most frequent frame: built without spreading `ref` (one object fewer).
      const message: Extract<ClientFrame, { type: 'message' }> = {
        type: 'message',
        chatId,
        text: frame.text,
        clientMsgId: id(frame, 'clientMsgId'),
      };
      if (refValue !== undefined) message.ref = refValue as string;
      return message;
    }
    case 'typing':
      return { type: 'typing', chatId: id(frame, 'chatId'), ...ref };
    case 'chat.end':
      return { type: 'chat.end', chatId: id(frame, 'chatId'), ...ref };
    case 'resume': {
      const afterSeq = frame.afterSeq ?? 0;
      if (typeof afterSeq !== 'number' || !Number.isSafeInteger(afterSeq) || afterSeq < 0) {
        throw invalid('afterSeq must be a non-negative integer');
      }
      return { type: 'resume', chatId: id(frame, 'chatId'), afterSeq, ...ref };
    }
    case 'ping':
      return { type: 'ping', ...ref };
    default:
      throw new CaChatError(
        'unknown_type',
        `unknown frame type ${JSON.stringify(frame.type.slice(0, 64))}`,
      );
  }
}
