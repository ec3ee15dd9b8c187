import { describe, expect, it } from 'vitest';
import type { ChatFilter } from '../../storage.js';
import {
  T0,
  expectCaChatError,
  makeChat,
  seedCA,
  seedChat,
  type ConformanceContext,
} from './fixtures.js';

/** Chats: CRUD, filters, the atomic claim and ending. */
export function chatCases(ctx: ConformanceContext): void {
  describe('chats', () => {
    it('createChat stores a chat that getChat reads back field for field', async () => {
      const chat = makeChat({
        topic: 'gst',
        language: 'ta',
        caId: 'ca-x',
        state: 'active',
        matchedAt: T0 + 3,
      });
      await ctx.storage.createChat(chat);
      expect(await ctx.storage.getChat(chat.id)).toEqual(chat);
    });

    it('getChat returns null for an unknown id', async () => {
      expect(await ctx.storage.getChat('no-such-chat')).toBeNull();
    });

    it('createChat rejects an existing id and keeps the stored chat', async () => {
      const chat = await seedChat(ctx.storage, { language: 'en' });
      await expectCaChatError(ctx.storage.createChat({ ...chat, language: 'hi' }));
      expect(await ctx.storage.getChat(chat.id)).toEqual(chat);
    });

    it('listChats applies every filter given: state (one or several), clientId, caId, language, endedBefore', async () => {
      const waiting = await seedChat(ctx.storage, { clientId: 'client-1', language: 'en' });
      const active = await seedChat(ctx.storage, {
        clientId: 'client-1',
        language: 'hi',
        state: 'active',
        caId: 'ca-1',
        matchedAt: T0,
      });
      const endedEarly = await seedChat(ctx.storage, {
        clientId: 'client-2',
        state: 'ended',
        caId: 'ca-1',
        endReason: 'client_ended',
        endedAt: T0 + 10,
      });
      const endedLate = await seedChat(ctx.storage, {
        clientId: 'client-2',
        state: 'ended',
        endReason: 'timeout',
        endedAt: T0 + 20,
      });
      const ids = async (filter: ChatFilter): Promise<string[]> =>
        (await ctx.storage.listChats(filter)).map((c) => c.id).sort();
      const sorted = (...list: { id: string }[]): string[] => list.map((c) => c.id).sort();
      expect(await ids({})).toEqual(sorted(waiting, active, endedEarly, endedLate));
      expect(await ids({ state: 'waiting' })).toEqual(sorted(waiting));
      expect(await ids({ state: ['waiting', 'active'] })).toEqual(sorted(waiting, active));
      expect(await ids({ clientId: 'client-1' })).toEqual(sorted(waiting, active));
      expect(await ids({ caId: 'ca-1' })).toEqual(sorted(active, endedEarly));
      expect(await ids({ language: 'hi' })).toEqual(sorted(active));
      expect(await ids({ endedBefore: T0 + 20 })).toEqual(sorted(endedEarly));
      expect(await ids({ endedBefore: T0 + 21 })).toEqual(sorted(endedEarly, endedLate));
      expect(await ids({ state: 'ended', caId: 'ca-1', clientId: 'client-2' })).toEqual(
        sorted(endedEarly),
      );
    });

    it('listChats orders by createdAt, then id, and returns at most limit', async () => {
      const c3 = await seedChat(ctx.storage, { id: 'chat-a', createdAt: T0 + 2 });
      const c1 = await seedChat(ctx.storage, { id: 'chat-c', createdAt: T0 });
      const c2 = await seedChat(ctx.storage, { id: 'chat-d', createdAt: T0 });
      const c0 = await seedChat(ctx.storage, { id: 'chat-b', createdAt: T0 - 1 });
      expect((await ctx.storage.listChats()).map((c) => c.id)).toEqual([
        c0.id,
        c1.id,
        c2.id,
        c3.id,
      ]);
      expect((await ctx.storage.listChats({ limit: 2 })).map((c) => c.id)).toEqual([c0.id, c1.id]);
      expect((await ctx.storage.listChats({ limit: 0 })).map((c) => c.id)).toEqual([]);
    });

    it('countChats counts with the same filters and ignores limit', async () => {
      await seedChat(ctx.storage, { language: 'en' });
      await seedChat(ctx.storage, { language: 'en' });
      await seedChat(ctx.storage, {
        language: 'hi',
        state: 'ended',
        endReason: 'admin',
        endedAt: T0,
      });
      expect(await ctx.storage.countChats()).toBe(3);
      expect(await ctx.storage.countChats({ language: 'en', limit: 1 })).toBe(2);
      expect(await ctx.storage.countChats({ state: ['ended'] })).toBe(1);
      expect(await ctx.storage.countChats({ clientId: 'nobody' })).toBe(0);
    });
  });

  describe('claimChat', () => {
    it('returns not_found with chat null for an unknown chat', async () => {
      const ca = await seedCA(ctx.storage);
      expect(await ctx.storage.claimChat('no-such-chat', ca.id, T0)).toEqual({
        ok: false,
        reason: 'not_found',
        chat: null,
      });
    });

    it('returns not_waiting for an active or ended chat and changes nothing', async () => {
      const ca = await seedCA(ctx.storage, { maxChats: 5 });
      const active = await seedChat(ctx.storage, {
        state: 'active',
        caId: 'ca-other',
        matchedAt: T0,
      });
      const ended = await seedChat(ctx.storage, {
        state: 'ended',
        endReason: 'admin',
        endedAt: T0,
      });
      expect(await ctx.storage.claimChat(active.id, ca.id, T0 + 1)).toEqual({
        ok: false,
        reason: 'not_waiting',
        chat: active,
      });
      expect(await ctx.storage.claimChat(ended.id, ca.id, T0 + 1)).toEqual({
        ok: false,
        reason: 'not_waiting',
        chat: ended,
      });
      expect(await ctx.storage.getChat(active.id)).toEqual(active);
      expect(await ctx.storage.getChat(ended.id)).toEqual(ended);
      expect(await ctx.storage.getCA(ca.id)).toEqual(ca);
    });

    it('returns ca_not_found for an unknown CA and the chat stays waiting', async () => {
      const chat = await seedChat(ctx.storage);
      expect(await ctx.storage.claimChat(chat.id, 'no-such-ca', T0 + 1)).toEqual({
        ok: false,
        reason: 'ca_not_found',
        chat,
      });
      expect(await ctx.storage.getChat(chat.id)).toEqual(chat);
    });

    it('returns at_capacity for a CA with maxChats active chats and the chat stays waiting', async () => {
      const ca = await seedCA(ctx.storage, { maxChats: 1 });
      await seedChat(ctx.storage, { state: 'active', caId: ca.id, matchedAt: T0 });
      const chat = await seedChat(ctx.storage);
      expect(await ctx.storage.claimChat(chat.id, ca.id, T0 + 1)).toEqual({
        ok: false,
        reason: 'at_capacity',
        chat,
      });
      expect(await ctx.storage.getChat(chat.id)).toEqual(chat);
      expect((await ctx.storage.getCA(ca.id))?.lastAssignedAt).toBe(ca.lastAssignedAt);
    });

    it('activates the chat with caId and matchedAt, and sets the CA lastAssignedAt', async () => {
      const ca = await seedCA(ctx.storage);
      const chat = await seedChat(ctx.storage);
      const result = await ctx.storage.claimChat(chat.id, ca.id, T0 + 7);
      const expected = { ...chat, state: 'active', caId: ca.id, matchedAt: T0 + 7 };
      expect(result).toEqual({ ok: true, chat: expected });
      expect(await ctx.storage.getChat(chat.id)).toEqual(expected);
      expect(await ctx.storage.getCA(ca.id)).toEqual({ ...ca, lastAssignedAt: T0 + 7 });
    });

    it('does not count ended chats towards capacity', async () => {
      const ca = await seedCA(ctx.storage, { maxChats: 1 });
      const first = await seedChat(ctx.storage);
      expect((await ctx.storage.claimChat(first.id, ca.id, T0 + 1)).ok).toBe(true);
      await ctx.storage.endChat(first.id, 'ca_ended', T0 + 2);
      const second = await seedChat(ctx.storage);
      expect((await ctx.storage.claimChat(second.id, ca.id, T0 + 3)).ok).toBe(true);
    });

    it('50 CAs claiming one chat at once: exactly one wins, and the stored chat is theirs', async () => {
      const cas = await Promise.all(Array.from({ length: 50 }, () => seedCA(ctx.storage)));
      const chat = await seedChat(ctx.storage);
      const results = await Promise.all(
        cas.map((ca, i) => ctx.storage.claimChat(chat.id, ca.id, T0 + i)),
      );
      const winners = results.flatMap((r, i) => (r.ok ? [cas[i]!] : []));
      expect(winners).toHaveLength(1);
      expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.reason === 'not_waiting')).toBe(
        true,
      );
      const stored = await ctx.storage.getChat(chat.id);
      expect(stored?.state).toBe('active');
      expect(stored?.caId).toBe(winners[0]!.id);
      const assigned = (await ctx.storage.listCAs()).filter((ca) => ca.lastAssignedAt !== null);
      expect(assigned.map((ca) => ca.id)).toEqual([winners[0]!.id]);
    });

    it('one CA with maxChats 2 claiming 6 chats at once wins exactly 2', async () => {
      const ca = await seedCA(ctx.storage, { maxChats: 2 });
      const chats = await Promise.all(Array.from({ length: 6 }, () => seedChat(ctx.storage)));
      const results = await Promise.all(
        chats.map((chat) => ctx.storage.claimChat(chat.id, ca.id, T0 + 1)),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(2);
      expect(results.filter((r) => !r.ok && r.reason === 'at_capacity')).toHaveLength(4);
      expect(await ctx.storage.countChats({ caId: ca.id, state: 'active' })).toBe(2);
      expect(await ctx.storage.countChats({ state: 'waiting' })).toBe(4);
    });
  });

  describe('endChat', () => {
    it('ends a waiting or an active chat with the reason and time', async () => {
      const waiting = await seedChat(ctx.storage);
      const active = await seedChat(ctx.storage, { state: 'active', caId: 'ca-1', matchedAt: T0 });
      const endedWaiting = await ctx.storage.endChat(waiting.id, 'no_ca_available', T0 + 5);
      const endedActive = await ctx.storage.endChat(active.id, 'ca_ended', T0 + 6);
      expect(endedWaiting).toEqual({
        ...waiting,
        state: 'ended',
        endReason: 'no_ca_available',
        endedAt: T0 + 5,
      });
      expect(endedActive).toEqual({
        ...active,
        state: 'ended',
        endReason: 'ca_ended',
        endedAt: T0 + 6,
      });
      expect(await ctx.storage.getChat(waiting.id)).toEqual(endedWaiting);
      expect(await ctx.storage.getChat(active.id)).toEqual(endedActive);
    });

    it('returns null for an ended chat and keeps the first reason and time', async () => {
      const chat = await seedChat(ctx.storage);
      const ended = await ctx.storage.endChat(chat.id, 'client_ended', T0 + 1);
      expect(await ctx.storage.endChat(chat.id, 'admin', T0 + 2)).toBeNull();
      expect(await ctx.storage.getChat(chat.id)).toEqual(ended);
    });

    it('returns null for an unknown chat', async () => {
      expect(await ctx.storage.endChat('no-such-chat', 'admin', T0)).toBeNull();
    });

    it('concurrent endChat calls: exactly one ends the chat', async () => {
      const chat = await seedChat(ctx.storage);
      const reasons = ['client_ended', 'ca_ended', 'admin', 'timeout', 'client_gone'] as const;
      const results = await Promise.all(
        reasons.map((reason, i) => ctx.storage.endChat(chat.id, reason, T0 + i)),
      );
      const winners = results.filter((r) => r !== null);
      expect(winners).toHaveLength(1);
      expect(await ctx.storage.getChat(chat.id)).toEqual(winners[0]);
    });
  });
}
