import type { IncomingMessage } from 'node:http';
import { CaChatError } from '@ca-chat/core';
import type { TransportContext } from '../context.js';

/** The client behind a request: the embedder's `authenticate` hook first, then `Authorization: Bearer`. */
export async function authenticateRequest(
  ctx: TransportContext,
  req: IncomingMessage,
): Promise<string> {
  const relay = ctx.relay();
  if (ctx.options.authenticate) {
    const identity = await ctx.options.authenticate(req);
    if (identity)
      return (await relay.ensureClient(identity.clientId, { name: identity.name ?? null })).id;
  }
  const header = req.headers.authorization;
  if (header === undefined)
    throw new CaChatError('unauthorized', 'missing Authorization: Bearer <token>');
  const match = /^Bearer\s+(\S{1,512})\s*$/i.exec(header);
  if (!match) throw new CaChatError('unauthorized', 'Authorization must be Bearer <token>');
  const client = await relay.authenticateClient(match[1]!);
  if (!client) throw new CaChatError('unauthorized', 'unknown or revoked token');
  return client.id;
}
