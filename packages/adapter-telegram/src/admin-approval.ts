import { CaChatError, type Approval, type CA } from '@ca-chat/core';
import type { CallbackQuery } from 'telegraf/types';
import { relayOf, storageOf, type ChannelContext } from './channel-context.js';
import { approvalKeyboard, NO_KEYBOARD } from './keyboards.js';
import { approval as texts, state } from './texts.js';

/** caId → the admin messages asking about that CA, to edit them all once decided. */
const APPROVAL_NAMESPACE = 'tg.approval';

interface AdminMessage {
  chatId: number;
  messageId: number;
}

/**
 * Approval mode over Telegram: each admin id gets a new pending CA's details with Approve /
 * Reject buttons; a press (from an admin only) calls the relay, and every admin's copy is
 * edited to show the decision, whoever made it (a button, or the CLI in this process).
 */
export interface AdminApproval {
  /** Relay `ca.registered`. */
  onRegistered(ca: CA): Promise<void>;
  /** Relay `ca.approval`. */
  onApproval(ca: CA, approval: Approval): Promise<void>;
  onButton(kind: 'approve' | 'reject', caId: string, query: CallbackQuery): Promise<void>;
}

export function createAdminApproval(ctx: ChannelContext): AdminApproval {
  /** Who pressed the button, so the edit can say so (set just before calling the relay). */
  const decidedBy = new Map<string, string>();

  return {
    async onRegistered(ca) {
      if (ca.approval !== 'pending' || ctx.options.adminIds.length === 0) return;
      const sent: AdminMessage[] = [];
      for (const adminId of ctx.options.adminIds) {
        try {
          const message = await ctx.calls.send(adminId, texts.request(ca), {
            keyboard: approvalKeyboard(ca.id),
          });
          sent.push({ chatId: message.chat.id, messageId: message.message_id });
        } catch (error) {
          // An admin who never opened the bot can't be written to; the others still can.
          ctx.logger.warn(
            { err: error, adminId },
            'could not send an approval request to an admin',
          );
        }
      }
      if (sent.length > 0) await storageOf(ctx).kvSet(APPROVAL_NAMESPACE, ca.id, sent);
    },

    async onApproval(ca, approval) {
      if (approval === 'pending') return;
      const messages = await storageOf(ctx).kvGet<AdminMessage[]>(APPROVAL_NAMESPACE, ca.id);
      if (!messages) return;
      const by = decidedBy.get(ca.id) ?? null;
      decidedBy.delete(ca.id);
      const text = `${texts.request(ca)}\n\n${texts.decided(approval, by)}`;
      for (const m of messages) {
        await ctx.calls
          .edit(m.chatId, m.messageId, text, NO_KEYBOARD)
          .catch((error) =>
            ctx.logger.warn({ err: error, caId: ca.id }, 'could not update an approval message'),
          );
      }
      await storageOf(ctx).kvDelete(APPROVAL_NAMESPACE, ca.id);
    },

    async onButton(kind, caId, query) {
      if (!ctx.options.adminIds.includes(query.from.id))
        return void (await ctx.calls.answer(query.id, state.adminOnly, true));
      const relay = relayOf(ctx);
      const ca = await relay.getCA(caId);
      if (!ca) return void (await ctx.calls.answer(query.id, 'This CA no longer exists.', true));
      if (ca.approval !== 'pending') {
        await ctx.calls.answer(query.id, `Already ${ca.approval}.`);
        if (query.message)
          await ctx.calls.editKeyboard(
            query.message.chat.id,
            query.message.message_id,
            NO_KEYBOARD,
          );
        return;
      }
      decidedBy.set(
        caId,
        [query.from.first_name, query.from.username ? `(@${query.from.username})` : '']
          .join(' ')
          .trim(),
      );
      try {
        if (kind === 'approve') await relay.approveCA(caId);
        else await relay.rejectCA(caId);
      } catch (error) {
        decidedBy.delete(caId);
        if (!CaChatError.isInstance(error) || error.retryable) throw error;
        return void (await ctx.calls.answer(query.id, error.message, true));
      }
      await ctx.calls.answer(query.id, kind === 'approve' ? 'Approved' : 'Rejected');
    },
  };
}
