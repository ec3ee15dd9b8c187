import type { Chat, EndReason } from '../domain.js';
import { CaChatError } from '../errors.js';
import { matchTimerKey, type RelayContext } from './context.js';
import { tellCA, tellClient } from './plugins.js';

export interface ChatLifecycle {
  /**
   * Ends an open chat: both sides are told, open offers withdrawn, the CA freed and offered
   * the queue. Null when the chat does not exist, already ended, or (with `onlyIfWaiting`)
   * was matched meanwhile.
   */
  end(
    chatId: string,
    reason: EndReason,
    options?: { onlyIfWaiting?: boolean },
  ): Promise<Chat | null>;
  endByClient(clientId: string, chatId: string): Promise<Chat>;
  endByCA(caId: string, chatId: string): Promise<Chat>;
  endByAdmin(chatId: string): Promise<Chat>;
  clientConnected(clientId: string): void;
  clientDisconnected(clientId: string): void;
  /** Something was said in (or a CA joined) the chat: its idle timeout starts again. */
  activity(chatId: string): void;
  /**
   * At start: no client is connected to a fresh process, so every open chat's client gets
   * its grace period, as if it had just disconnected (coming back cancels it). Without this
   * a chat whose client never returned after a restart stayed open, holding a CA's slot.
   * Idle timeouts of open chats count from the start.
   */
  resume(): Promise<void>;
}

const graceTimerKey = (chatId: string): string => `grace:${chatId}`;
const idleTimerKey = (chatId: string): string => `idle:${chatId}`;

export function createChatLifecycle(ctx: RelayContext): ChatLifecycle {
  const { storage, clock } = ctx;
  /** Transports (of possibly several) that currently hold a connection of the client. */
  const connections = new Map<string, number>();
  /** Chats whose grace period runs, by client. */
  const graceChats = new Map<string, Set<string>>();
  /**
   * chatId → when something last happened in it, for the chats whose idle timer runs. The
   * timer is set once per timeout, not per message: when it fires early it waits out the rest.
   */
  const lastActivity = new Map<string, number>();
  const idleTimeoutMs = ctx.config.idleChatTimeoutMs;

  const end: ChatLifecycle['end'] = async (chatId, reason, options = {}) => {
    const result = await ctx.chatLocks.run(chatId, async () => {
      const before = await storage.getChat(chatId);
      if (!before || before.state === 'ended') return null;
      if (options.onlyIfWaiting && before.state !== 'waiting') return null;
      const ended = await storage.endChat(chatId, reason, clock.now());
      if (!ended) return null;
      // Cached copies of this chat in the outbox are out of date (and its deliveries may change).
      ctx.modules.outbox.touched();
      ctx.timers.clear(matchTimerKey(chatId));
      ctx.timers.clear(graceTimerKey(chatId));
      graceChats.get(ended.clientId)?.delete(chatId);
      if (lastActivity.delete(chatId)) ctx.timers.clear(idleTimerKey(chatId));
      await ctx.modules.offers.closeAll(ended, 'withdrawn', 'withdrawn');
      if (before.state === 'waiting') {
        // Nobody ever joined: what the client wrote can't be delivered to anyone.
        for (const m of await storage.listMessages(chatId)) {
          if (m.from !== 'client' || m.delivery.state !== 'pending') continue;
          const error = 'the chat ended before a CA joined';
          await storage.updateDelivery(chatId, m.seq, {
            ...m.delivery,
            state: 'failed',
            nextAttemptAt: null,
            error,
          });
          ctx.emit(
            'message.failed',
            { ...m, delivery: { ...m.delivery, state: 'failed', nextAttemptAt: null, error } },
            ended,
            error,
          );
        }
      }
      return { before, ended };
    });
    if (!result) return null;
    const { before, ended } = result;
    ctx.modules.queue.forget(chatId);
    const ca = ended.caId ? await storage.getCA(ended.caId) : null;
    await Promise.all([
      tellClient(ctx, ended.clientId, { type: 'chat.ended', chatId, reason }),
      ca
        ? tellCA(ctx, ca, 'chatEnded', (channel) => channel.chatEnded(ca, ended, reason))
        : undefined,
    ]);
    ctx.emit('chat.ended', ended, reason);
    ctx.tasks.run('after chat end', async () => {
      ctx.modules.outbox.kick(chatId);
      if (before.state === 'waiting') await ctx.modules.queue.refresh(ended.language);
      if (ca) await ctx.modules.matching.caFreed(ca.id);
    });
    return ended;
  };

  const requireOpenChat = async (chatId: string, owns: (chat: Chat) => boolean): Promise<Chat> => {
    const chat = typeof chatId === 'string' ? await storage.getChat(chatId) : null;
    if (!chat) throw new CaChatError('unknown_chat', 'no such chat');
    if (!owns(chat)) throw new CaChatError('not_your_chat', 'this is not your chat');
    if (chat.state === 'ended') throw new CaChatError('chat_ended', 'this chat has ended');
    return chat;
  };

  const endOrFail = async (chatId: string, reason: EndReason): Promise<Chat> => {
    const ended = await end(chatId, reason);
    if (!ended) throw new CaChatError('chat_ended', 'this chat has ended');
    return ended;
  };

  const startGrace = (clientId: string, chatIds: Iterable<string>): void => {
    let chats = graceChats.get(clientId);
    if (!chats) graceChats.set(clientId, (chats = new Set()));
    for (const chatId of chatIds) {
      chats.add(chatId);
      ctx.timers.set(graceTimerKey(chatId), ctx.config.clientGraceMs, () =>
        graceExpired(clientId, chatId),
      );
    }
  };

  const armIdle = (chatId: string, delayMs: number): void =>
    ctx.timers.set(idleTimerKey(chatId), delayMs, () => idleCheck(chatId));

  const idleCheck = async (chatId: string): Promise<void> => {
    const chat = await storage.getChat(chatId);
    if (!chat || chat.state === 'ended') {
      lastActivity.delete(chatId);
      return;
    }
    const quietFor = clock.now() - (lastActivity.get(chatId) ?? 0);
    // Still waiting for a CA (the match timeout rules that), or spoken in since: wait on.
    if (chat.state === 'waiting') return armIdle(chatId, idleTimeoutMs);
    if (quietFor < idleTimeoutMs) return armIdle(chatId, idleTimeoutMs - quietFor);
    await end(chatId, 'timeout');
  };

  const activity = (chatId: string): void => {
    if (idleTimeoutMs === 0) return;
    const armed = lastActivity.has(chatId);
    lastActivity.set(chatId, clock.now());
    if (!armed) armIdle(chatId, idleTimeoutMs);
  };

  const graceExpired = async (clientId: string, chatId: string): Promise<void> => {
    graceChats.get(clientId)?.delete(chatId);
    if ((connections.get(clientId) ?? 0) > 0) return;
    await end(chatId, 'client_gone');
  };

  return {
    end,
    activity,

    async endByClient(clientId, chatId) {
      await requireOpenChat(chatId, (chat) => chat.clientId === clientId);
      return endOrFail(chatId, 'client_ended');
    },

    async endByCA(caId, chatId) {
      const ca = typeof caId === 'string' ? await storage.getCA(caId) : null;
      if (!ca) throw new CaChatError('ca_not_registered', 'this CA is not registered');
      await requireOpenChat(chatId, (chat) => chat.caId === caId);
      return endOrFail(chatId, 'ca_ended');
    },

    async endByAdmin(chatId) {
      await requireOpenChat(chatId, () => true);
      return endOrFail(chatId, 'admin');
    },

    clientConnected(clientId) {
      if (typeof clientId !== 'string') return;
      connections.set(clientId, (connections.get(clientId) ?? 0) + 1);
      for (const chatId of graceChats.get(clientId) ?? []) ctx.timers.clear(graceTimerKey(chatId));
      graceChats.delete(clientId);
      ctx.emit('client.connected', clientId);
      // Messages that waited for the client to come back.
      ctx.modules.outbox.kick();
    },

    clientDisconnected(clientId) {
      if (typeof clientId !== 'string') return;
      const left = Math.max(0, (connections.get(clientId) ?? 0) - 1);
      if (left > 0) {
        connections.set(clientId, left);
        return;
      }
      connections.delete(clientId);
      ctx.emit('client.disconnected', clientId);
      ctx.tasks.run('start grace period', async () => {
        const open = await storage.listChats({ clientId, state: ['waiting', 'active'] });
        if ((connections.get(clientId) ?? 0) > 0) return;
        startGrace(
          clientId,
          open.map((chat) => chat.id),
        );
      });
    },

    async resume() {
      const open = await storage.listChats({ state: ['waiting', 'active'] });
      let started = 0;
      for (const chat of open) {
        activity(chat.id);
        // Connected already (transports start first), or its grace period already runs.
        if ((connections.get(chat.clientId) ?? 0) > 0) continue;
        if (graceChats.get(chat.clientId)?.has(chat.id)) continue;
        startGrace(chat.clientId, [chat.id]);
        started++;
      }
      if (started > 0)
        ctx.logger.info(
          { chats: started },
          'grace periods started for the open chats of clients not connected since the start',
        );
    },
  };
}
