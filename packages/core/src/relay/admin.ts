import { randomBytes } from 'node:crypto';
import type { CANotice } from '../ca-channel.js';
import type { Approval, CA, ChatState } from '../domain.js';
import { CaChatError } from '../errors.js';
import type { RelayApi } from '../relay-api.js';
import { requireCA } from './access.js';
import type { RelayContext } from './context.js';
import { sha256Hex } from './identities.js';
import { tellCA } from './plugins.js';

export type Admin = Pick<
  RelayApi,
  | 'approveCA'
  | 'rejectCA'
  | 'removeCA'
  | 'createInvite'
  | 'getCA'
  | 'listCAs'
  | 'getChat'
  | 'listChats'
  | 'listOffers'
  | 'endChatByAdmin'
  | 'getTranscript'
>;

const APPROVALS: readonly Approval[] = ['pending', 'approved', 'rejected', 'removed'];
const CHAT_STATES: readonly ChatState[] = ['waiting', 'active', 'ended'];
const MAX_LIST = 1000;

/** What the CLI and admin buttons call. */
export function createAdmin(ctx: RelayContext): Admin {
  const { storage } = ctx;

  const setApproval = async (caId: string, approval: Approval, notice: CANotice): Promise<CA> => {
    const ca = await requireCA(ctx, caId);
    if (ca.approval === approval) return ca;
    const updated = await storage.updateCA(ca.id, { approval });
    ctx.modules.outbox.touched();
    if (!updated) throw new CaChatError('ca_not_registered', 'this CA is not registered');
    ctx.emit('ca.approval', updated, approval);
    if (approval !== 'approved') {
      // Whoever may no longer take chats loses the ones they hold.
      for (const chat of await storage.listChats({ caId: ca.id, state: 'active' })) {
        await ctx.modules.lifecycle.end(chat.id, 'ca_removed');
      }
      await ctx.modules.matching.reconcileOffers(ca.id);
    }
    await tellCA(ctx, updated, 'notify', (channel) => channel.notify(updated, notice));
    if (approval === 'approved')
      ctx.tasks.run('offer queue to approved CA', () => ctx.modules.matching.caFreed(ca.id));
    return updated;
  };

  const requireChat = async (chatId: string) => {
    const chat = typeof chatId === 'string' ? await storage.getChat(chatId) : null;
    if (!chat) throw new CaChatError('unknown_chat', 'no such chat');
    return chat;
  };

  return {
    approveCA: (caId) => setApproval(caId, 'approved', { type: 'approved' }),
    rejectCA: (caId) => setApproval(caId, 'rejected', { type: 'rejected' }),
    removeCA: (caId) => setApproval(caId, 'removed', { type: 'removed' }),

    async createInvite(options = {}) {
      const expiresInMs = options.expiresInMs;
      if (
        expiresInMs !== undefined &&
        !(typeof expiresInMs === 'number' && Number.isFinite(expiresInMs) && expiresInMs > 0)
      ) {
        throw new CaChatError('invalid_input', 'expiresInMs must be a positive number');
      }
      const code = randomBytes(16).toString('base64url');
      const now = ctx.clock.now();
      await storage.createInvite({
        codeHash: sha256Hex(code),
        createdAt: now,
        expiresAt: expiresInMs === undefined ? null : now + expiresInMs,
        usedAt: null,
        usedBy: null,
      });
      return code;
    },

    getCA: (caId) => (typeof caId === 'string' ? storage.getCA(caId) : Promise.resolve(null)),

    async listCAs(filter = {}) {
      if (filter.approval !== undefined && !APPROVALS.includes(filter.approval))
        throw new CaChatError('invalid_input', 'unknown approval');
      return storage.listCAs(filter.approval ? { approval: filter.approval } : {});
    },

    getChat: (chatId) =>
      typeof chatId === 'string' ? storage.getChat(chatId) : Promise.resolve(null),

    async listChats(filter = {}) {
      if (filter.state !== undefined && !CHAT_STATES.includes(filter.state))
        throw new CaChatError('invalid_input', 'unknown chat state');
      const limit = filter.limit ?? MAX_LIST;
      if (!Number.isInteger(limit) || limit < 1)
        throw new CaChatError('invalid_input', 'limit must be a whole number >= 1');
      return storage.listChats({
        ...(filter.state ? { state: filter.state } : {}),
        limit: Math.min(limit, MAX_LIST),
      });
    },

    async listOffers(chatId) {
      await requireChat(chatId);
      return storage.listOffers({ chatId });
    },

    endChatByAdmin: (chatId) => ctx.modules.lifecycle.endByAdmin(chatId),

    async getTranscript(chatId) {
      const chat = await requireChat(chatId);
      const [messages, ca] = await Promise.all([
        storage.listMessages(chatId),
        chat.caId ? storage.getCA(chat.caId) : null,
      ]);
      return { chat, messages, ca };
    },
  };
}
