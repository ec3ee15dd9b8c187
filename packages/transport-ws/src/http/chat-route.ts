import type { IncomingMessage, ServerResponse } from 'node:http';
import { CaChatError } from '@ca-chat/core';
import type { Message } from '@ca-chat/core';
import type { TransportContext } from '../context.js';
import type { StoredMessageBody } from '../protocol.js';
import { messageOf, toWireMessage } from '../wire.js';
import { authenticateRequest } from './auth.js';
import { readJsonBody } from './body.js';
import { receiveUpload } from './multipart-upload.js';
import { sendJson } from './responses.js';

const MAX_ID_LENGTH = 128;

function textInput(body: unknown): { chatId: string; text: string; clientMsgId: string | null } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new CaChatError('invalid_input', 'body must be a JSON object');
  const { chatId, text, clientMsgId } = body as Record<string, unknown>;
  if (typeof chatId !== 'string' || chatId === '' || chatId.length > MAX_ID_LENGTH)
    throw new CaChatError('invalid_input', 'chatId must be a non-empty string');
  if (typeof text !== 'string') throw new CaChatError('invalid_input', 'text must be a string');
  if (
    clientMsgId !== undefined &&
    clientMsgId !== null &&
    (typeof clientMsgId !== 'string' || clientMsgId === '' || clientMsgId.length > MAX_ID_LENGTH)
  ) {
    throw new CaChatError(
      'invalid_input',
      `clientMsgId must be a string of 1–${MAX_ID_LENGTH} characters`,
    );
  }
  return { chatId, text, clientMsgId: (clientMsgId as string | null | undefined) ?? null };
}

/**
 * `POST /chat`: a JSON text message or a multipart file upload. Answers 201 with the stored
 * message and shows it to the client's open WebSocket connections too.
 */
export async function handleChatPost(
  ctx: TransportContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const clientId = await authenticateRequest(ctx, req);
  const relay = ctx.relay();
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  let stored: { message: Message; duplicate: boolean; clientMsgId: string | null };
  if (type === 'application/json') {
    const input = textInput(await readJsonBody(req, ctx.options.maxJsonBodyBytes));
    stored = {
      ...(await relay.sendClientMessage(clientId, input)),
      clientMsgId: input.clientMsgId,
    };
  } else if (type === 'multipart/form-data') {
    stored = await receiveUpload(req, relay, clientId);
  } else {
    throw new CaChatError(
      'invalid_input',
      'Content-Type must be application/json or multipart/form-data',
      { details: { httpStatus: 415 } },
    );
  }
  const wire = toWireMessage(messageOf(stored.message), ctx.fileUrl);
  if (!stored.duplicate) ctx.broadcast(clientId, wire);
  const { type: _type, ...message } = wire;
  const body: StoredMessageBody = {
    ...message,
    clientMsgId: stored.clientMsgId,
    duplicate: stored.duplicate,
  };
  sendJson(res, 201, body);
}
