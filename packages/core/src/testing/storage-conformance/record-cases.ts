import { describe, expect, it } from 'vitest';
import type { FileRef, Offer } from '../../domain.js';
import type { OfferFilter } from '../../storage.js';
import {
  T0,
  byKey,
  expectCaChatError,
  makeFileRecord,
  makeMessage,
  makeOffer,
  seedChat,
  type ConformanceContext,
} from './fixtures.js';

const offerKey = (o: Offer): string => `${o.chatId}/${o.caId}`;
const toRef = ({ id, name, mime, size, sha256 }: FileRef): FileRef => ({
  id,
  name,
  mime,
  size,
  sha256,
});

/** Offers, file records, deleteChat and the key/value area. */
export function recordCases(ctx: ConformanceContext): void {
  describe('offers', () => {
    it('putOffer stores an offer that getOffer reads back; an unknown pair is null', async () => {
      const offer = makeOffer('chat-1', 'ca-1');
      await ctx.storage.putOffer(offer);
      expect(await ctx.storage.getOffer('chat-1', 'ca-1')).toEqual(offer);
      expect(await ctx.storage.getOffer('chat-1', 'ca-2')).toBeNull();
      expect(await ctx.storage.getOffer('chat-2', 'ca-1')).toBeNull();
    });

    it('putOffer replaces the offer of the same chat and CA', async () => {
      await ctx.storage.putOffer(makeOffer('chat-1', 'ca-1'));
      const closed = makeOffer('chat-1', 'ca-1', {
        state: 'withdrawn',
        ref: null,
        closedAt: T0 + 9,
      });
      await ctx.storage.putOffer(closed);
      expect(await ctx.storage.getOffer('chat-1', 'ca-1')).toEqual(closed);
      expect(await ctx.storage.listOffers({ chatId: 'chat-1' })).toEqual([closed]);
    });

    it('listOffers applies every filter given: chatId, caId, state', async () => {
      const offers = [
        makeOffer('chat-1', 'ca-1'),
        makeOffer('chat-1', 'ca-2', { state: 'accepted', closedAt: T0 + 1 }),
        makeOffer('chat-2', 'ca-1', { state: 'declined', closedAt: T0 + 1 }),
        makeOffer('chat-2', 'ca-3'),
      ];
      for (const offer of offers) await ctx.storage.putOffer(offer);
      const keys = async (filter?: OfferFilter): Promise<string[]> =>
        (await ctx.storage.listOffers(filter)).map(offerKey).sort();
      expect(await keys()).toEqual(offers.map(offerKey).sort());
      expect(await keys({ chatId: 'chat-2' })).toEqual(['chat-2/ca-1', 'chat-2/ca-3']);
      expect(await keys({ caId: 'ca-1' })).toEqual(['chat-1/ca-1', 'chat-2/ca-1']);
      expect(await keys({ state: 'open' })).toEqual(['chat-1/ca-1', 'chat-2/ca-3']);
      expect(await keys({ caId: 'ca-1', state: 'open' })).toEqual(['chat-1/ca-1']);
      expect(await keys({ chatId: 'chat-9' })).toEqual([]);
      const stored = (await ctx.storage.listOffers()).sort(byKey(offerKey));
      expect(stored).toEqual([...offers].sort(byKey(offerKey)));
    });
  });

  describe('files', () => {
    it('createFile stores metadata that getFile reads back; an unknown id is null', async () => {
      const file = makeFileRecord('chat-1', { from: 'ca', size: 0 });
      await ctx.storage.createFile(file);
      expect(await ctx.storage.getFile(file.id)).toEqual(file);
      expect(await ctx.storage.getFile('no-such-file')).toBeNull();
    });

    it('createFile rejects an existing id and keeps the first record', async () => {
      const file = makeFileRecord('chat-1');
      await ctx.storage.createFile(file);
      await expectCaChatError(ctx.storage.createFile({ ...file, chatId: 'chat-2' }));
      expect(await ctx.storage.getFile(file.id)).toEqual(file);
    });
  });

  describe('deleteChat', () => {
    it('removes the chat, its messages, offers and file records, and returns its files', async () => {
      const chat = await seedChat(ctx.storage);
      const files = [makeFileRecord(chat.id), makeFileRecord(chat.id, { from: 'ca' })];
      for (const file of files) {
        await ctx.storage.createFile(file);
        await ctx.storage.appendMessage(makeMessage(chat.id, { text: null, file: toRef(file) }));
      }
      await ctx.storage.appendMessage(makeMessage(chat.id, { idempotencyKey: 'k' }));
      await ctx.storage.putOffer(makeOffer(chat.id, 'ca-1'));
      const removed = await ctx.storage.deleteChat(chat.id);
      expect([...removed].sort(byKey((f) => f.id))).toEqual(
        files.map(toRef).sort(byKey((f) => f.id)),
      );
      expect(await ctx.storage.getChat(chat.id)).toBeNull();
      expect(await ctx.storage.listMessages(chat.id)).toEqual([]);
      expect(await ctx.storage.lastSeq(chat.id)).toBe(0);
      expect(await ctx.storage.listPendingDeliveries()).toEqual([]);
      expect(await ctx.storage.listOffers({ chatId: chat.id })).toEqual([]);
      for (const file of files) expect(await ctx.storage.getFile(file.id)).toBeNull();
    });

    it('forgets idempotency keys: a chat recreated with the same id stores the same key anew at seq 1', async () => {
      const chat = await seedChat(ctx.storage);
      await ctx.storage.appendMessage(makeMessage(chat.id, { idempotencyKey: 'k', text: 'old' }));
      await ctx.storage.deleteChat(chat.id);
      await ctx.storage.createChat(chat);
      const again = await ctx.storage.appendMessage(
        makeMessage(chat.id, { idempotencyKey: 'k', text: 'new' }),
      );
      expect(again).toMatchObject({ duplicate: false, message: { seq: 1, text: 'new' } });
    });

    it('leaves other chats, their messages, offers, files and outbox intact', async () => {
      const doomed = await seedChat(ctx.storage);
      const kept = await seedChat(ctx.storage);
      const keptFile = makeFileRecord(kept.id);
      const keptOffer = makeOffer(kept.id, 'ca-1');
      for (const chat of [doomed, kept]) {
        await ctx.storage.appendMessage(makeMessage(chat.id, { idempotencyKey: 'shared-key' }));
        await ctx.storage.appendMessage(makeMessage(chat.id));
      }
      await ctx.storage.createFile(makeFileRecord(doomed.id));
      await ctx.storage.createFile(keptFile);
      await ctx.storage.putOffer(makeOffer(doomed.id, 'ca-1'));
      await ctx.storage.putOffer(keptOffer);
      const keptMessages = await ctx.storage.listMessages(kept.id);

      await ctx.storage.deleteChat(doomed.id);

      expect(await ctx.storage.getChat(kept.id)).toEqual(kept);
      expect(await ctx.storage.listMessages(kept.id)).toEqual(keptMessages);
      expect(await ctx.storage.getFile(keptFile.id)).toEqual(keptFile);
      expect(await ctx.storage.listOffers()).toEqual([keptOffer]);
      expect(
        (await ctx.storage.listPendingDeliveries()).map((m) => `${m.chatId}#${m.seq}`),
      ).toEqual([`${kept.id}#1`, `${kept.id}#2`]);
      const dup = await ctx.storage.appendMessage(
        makeMessage(kept.id, { idempotencyKey: 'shared-key' }),
      );
      expect(dup.duplicate).toBe(true);
    });

    it('returns no files for an unknown chat', async () => {
      expect(await ctx.storage.deleteChat('no-such-chat')).toEqual([]);
    });
  });

  describe('key/value', () => {
    it('kvGet returns null for an absent key', async () => {
      expect(await ctx.storage.kvGet('ns', 'missing')).toBeNull();
    });

    it('kvSet stores JSON values that kvGet reads back', async () => {
      const values: Record<string, unknown> = {
        object: {
          step: 'languages',
          picked: ['en', 'hi'],
          nested: { n: 1.5, ok: true, none: null },
        },
        array: [1, 'two', { three: 3 }],
        string: 'नमस्ते "quoted" \\ \n',
        number: 1767225600000,
        negative: -0.25,
        boolean: false,
        emptyString: '',
      };
      for (const [key, value] of Object.entries(values))
        await ctx.storage.kvSet('conversation', key, value);
      for (const [key, value] of Object.entries(values))
        expect(await ctx.storage.kvGet('conversation', key)).toEqual(value);
    });

    it('kvSet overwrites the previous value', async () => {
      await ctx.storage.kvSet('ns', 'k', { v: 1 });
      await ctx.storage.kvSet('ns', 'k', { v: 2 });
      expect(await ctx.storage.kvGet('ns', 'k')).toEqual({ v: 2 });
    });

    it('keys are scoped by namespace', async () => {
      await ctx.storage.kvSet('a', 'k', 'in a');
      await ctx.storage.kvSet('b', 'k', 'in b');
      expect(await ctx.storage.kvGet('a', 'k')).toBe('in a');
      expect(await ctx.storage.kvGet('b', 'k')).toBe('in b');
      await ctx.storage.kvDelete('a', 'k');
      expect(await ctx.storage.kvGet('b', 'k')).toBe('in b');
    });

    it('kvSetIfAbsent sets an absent key and keeps the first value afterwards', async () => {
      expect(await ctx.storage.kvSetIfAbsent('updates', '1001', { at: 1 })).toBe(true);
      expect(await ctx.storage.kvSetIfAbsent('updates', '1001', { at: 2 })).toBe(false);
      expect(await ctx.storage.kvGet('updates', '1001')).toEqual({ at: 1 });
    });

    it('20 concurrent kvSetIfAbsent calls on one key: exactly one returns true, and its value is stored', async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          ctx.storage.kvSetIfAbsent('updates', 'race', { winner: i }),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await ctx.storage.kvGet('updates', 'race')).toEqual({ winner: results.indexOf(true) });
    });

    it('kvDelete removes a key, and deleting an absent key succeeds', async () => {
      await ctx.storage.kvSet('ns', 'k', 1);
      await ctx.storage.kvDelete('ns', 'k');
      expect(await ctx.storage.kvGet('ns', 'k')).toBeNull();
      await ctx.storage.kvDelete('ns', 'never-set');
      expect(await ctx.storage.kvSetIfAbsent('ns', 'k', 2)).toBe(true);
    });
  });
}
