import { CaChatError } from '@ca-chat/core';
import type { ClientChatSummary } from '@ca-chat/core';
import type { TransportContext } from '../context.js';
import type { ClientFrame, ServerFrame, WireChatSummary } from '../protocol.js';
import { errorFrame, messageOf, publicError, toWireMessage } from '../wire.js';
import { CloseCode, type Connection, type FrameRunner } from './connection.js';
import { parseClientFrame } from './parse-frame.js';

/** Messages fetched per storage read while replaying a chat. */
const RESUME_PAGE = 200;

/**
 * Handles every text frame of a connection: parsing, rate limiting, `hello`, and the
 * translation of each frame into one relay call. A refused frame gets an `error` frame and
 * changes nothing (the relay guarantees that for its own failures).
 */
export function createFrameHandler(ctx: TransportContext) {
  const { options } = ctx;

  async function hello(
    connection: Connection,
    frame: Extract<ClientFrame, { type: 'hello' }>,
  ): Promise<void> {
    if (connection.clientId !== null)
      throw new CaChatError('invalid_input', 'hello was already received');
    const relay = ctx.relay();
    let clientId: string;
    let token: string | null = null;
    if (connection.identity) {
      const client = await relay.ensureClient(connection.identity.clientId, {
        name: connection.identity.name ?? null,
      });
      clientId = client.id;
    } else if (frame.token) {
      const client = await relay.authenticateClient(frame.token);
      if (!client) throw new CaChatError('unauthorized', 'unknown or revoked token');
      clientId = client.id;
      token = frame.token;
    } else {
      if (!options.allowNewIdentities) throw new CaChatError('unauthorized', 'a token is required');
      if (!ctx.ipLimits.newIdentities.take(connection.ip, options.clock.now())) {
        throw new CaChatError(
          'rate_limited',
          'too many new identities from this address; try again later',
        );
      }
      const credentials = await relay.createClient();
      clientId = credentials.client.id;
      token = credentials.token;
    }
    if (connection.closed) return;
    if (ctx.registry.count(clientId) >= options.maxConnectionsPerClient) {
      connection.send(
        errorFrame(
          new CaChatError('rate_limited', 'too many connections for this client'),
          frame.ref,
        ),
      );
      connection.close(CloseCode.policy, 'too many connections for this client');
      return;
    }
    // Registered before the chats are listed: events from here on are held until `welcome`
    // and sent after it, so nothing falls between the listing and the first live event.
    ctx.registry.bind(connection, clientId);
    if (connection.helloTimer !== null) {
      options.clock.clearTimeout(connection.helloTimer);
      connection.helloTimer = null;
    }
    let chats: ClientChatSummary[];
    try {
      chats = await relay.listClientChats(clientId);
    } catch (error) {
      // Bound but never welcomed would hold its events forever: close instead.
      connection.close(CloseCode.internal, 'could not load your chats; reconnect');
      throw error;
    }
    const resumable = chats
      .filter((chat) => chat.state !== 'ended' && chat.lastSeq > 0)
      .map((chat) => chat.chatId);
    connection.welcome(
      { type: 'welcome', clientId, token, chats: chats.map(wireSummary) },
      resumable,
      options.resumeWindowMs,
      (callback, ms) => {
        options.clock.setTimeout(callback, ms);
      },
    );
  }

  async function resume(
    connection: Connection,
    clientId: string,
    chatId: string,
    afterSeq: number,
  ): Promise<void> {
    const relay = ctx.relay();
    connection.holdChat(chatId, true);
    let sentUpTo = afterSeq;
    try {
      for (;;) {
        const page = await relay.getClientMessages(clientId, chatId, {
          afterSeq: sentUpTo,
          limit: RESUME_PAGE,
        });
        for (const message of page) {
          sentUpTo = message.seq;
          // Sent even if this connection had it: the client asked for it explicitly.
          connection.markSeq(chatId, message.seq);
          if (!connection.send(toWireMessage(messageOf(message), ctx.fileUrl))) return;
        }
        if (page.length < RESUME_PAGE) break;
      }
      // Catching up includes learning that the chat ended while the client was away.
      const chat = await relay.getChat(chatId);
      if (chat?.state === 'ended' && chat.endReason)
        connection.send({ type: 'chat.ended', chatId, reason: chat.endReason });
    } finally {
      connection.releaseChat(chatId, sentUpTo);
    }
  }

  async function dispatch(connection: Connection, frame: ClientFrame): Promise<void> {
    if (frame.type === 'hello') return hello(connection, frame);
    if (frame.type === 'ping') {
      connection.send({ type: 'pong', ...(frame.ref === undefined ? {} : { ref: frame.ref }) });
      return;
    }
    const clientId = connection.clientId;
    if (clientId === null) throw new CaChatError('unauthorized', 'send hello first');
    const relay = ctx.relay();
    const ref = frame.ref === undefined ? {} : { ref: frame.ref };
    switch (frame.type) {
      case 'chat.request': {
        if (!ctx.ipLimits.chatRequests.take(connection.ip, options.clock.now())) {
          throw new CaChatError(
            'rate_limited',
            'too many chat requests from this address; try again later',
          );
        }
        const result = await relay.requestChat(clientId, {
          language: frame.language,
          topic: frame.topic ?? null,
          text: frame.text ?? null,
          clientMsgId: frame.clientMsgId ?? null,
        });
        // The relay already told every connection `chat.queued`; this copy carries the `ref`
        // so the requesting tab can match the answer to its request.
        connection.send({
          type: 'chat.queued',
          chatId: result.chat.id,
          position: result.position,
          ...(result.noCaForLanguage ? { noCaForLanguage: true } : {}),
          ...ref,
        });
        if (result.message) {
          connection.markSeq(result.chat.id, result.message.seq);
          if (frame.clientMsgId) {
            connection.send({
              type: 'message.ack',
              chatId: result.chat.id,
              clientMsgId: frame.clientMsgId,
              seq: result.message.seq,
            });
          }
          ctx.broadcast(
            clientId,
            toWireMessage(messageOf(result.message), ctx.fileUrl),
            connection,
          );
        }
        return;
      }
      case 'message': {
        // The frame has the shape of the relay's input (chatId, text, clientMsgId).
        const { message, duplicate } = await relay.sendClientMessage(clientId, frame);
        connection.markSeq(frame.chatId, message.seq);
        const ack: Extract<ServerFrame, { type: 'message.ack' }> = {
          type: 'message.ack',
          chatId: frame.chatId,
          clientMsgId: frame.clientMsgId,
          seq: message.seq,
        };
        if (frame.ref !== undefined) ack.ref = frame.ref;
        connection.send(ack);
        // The client's other tabs see what this one sent.
        if (!duplicate && ctx.registry.count(clientId) > 1) {
          ctx.broadcast(clientId, toWireMessage(messageOf(message), ctx.fileUrl), connection);
        }
        return;
      }
      case 'typing':
        await relay.clientTyping(clientId, frame.chatId);
        return;
      case 'chat.end':
        // The relay tells every connection `chat.ended`; only a failure needs an answer here.
        await relay.endChatByClient(clientId, frame.chatId);
        return;
      case 'resume':
        return resume(connection, clientId, frame.chatId, frame.afterSeq);
    }
  }

  const runner: FrameRunner = {
    run: dispatch,
    fail(connection, frame, error) {
      const failure = publicError(error, options.logger, {
        frame: frame.type,
        clientId: connection.clientId,
      });
      ctx.rejected(failure.code);
      const ref = frame.ref ?? (frame.type === 'message' ? frame.clientMsgId : undefined);
      connection.send(errorFrame(failure, ref));
    },
  };

  return function handleFrame(connection: Connection, raw: string): void {
    connection.alive = true;
    if (!connection.takeToken(options.clock.now())) {
      ctx.rejected('rate_limited');
      connection.send(errorFrame(new CaChatError('rate_limited', 'too many frames; slow down')));
      return;
    }
    const parsed = parseClientFrame(raw);
    if (!parsed.ok) {
      ctx.rejected(parsed.error.code);
      connection.send(errorFrame(parsed.error, parsed.ref));
      return;
    }
    const frame = parsed.frame;
    try {
      options.metrics.frameReceived?.(frame.type);
    } catch {
      // Metrics never break the transport.
    }
    connection.enqueue(frame, runner);
  };
}

export function wireSummary(chat: ClientChatSummary): WireChatSummary {
  const summary: WireChatSummary = {
    chatId: chat.chatId,
    state: chat.state,
    language: chat.language,
    topic: chat.topic,
    lastSeq: chat.lastSeq,
  };
  if (chat.ca) summary.ca = chat.ca;
  if (chat.position !== null) summary.position = chat.position;
  return summary;
}
