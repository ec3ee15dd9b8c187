import { describe, expect, it } from 'vitest';
import { CaChatError } from '../../errors.js';
import {
  T0,
  expectCode,
  makeCA,
  makeChat,
  makeClient,
  makeFileRecord,
  makeFileRef,
  makeInvite,
  makeMessage,
  makeOffer,
  seedCA,
  seedChat,
  type ConformanceContext,
} from './fixtures.js';

/** Returned and passed-in objects are copies; a closed storage refuses calls. */
export function isolationCases(ctx: ConformanceContext): void {
  describe('copies', () => {
    it('mutating a CA after createCA, or one returned by getCA or listCAs, changes nothing stored', async () => {
      const input = makeCA({ languages: ['en'] });
      const expected = structuredClone(input);
      await ctx.storage.createCA(input);
      input.name = 'changed';
      input.languages.push('xx');
      const got = (await ctx.storage.getCA(expected.id))!;
      got.topics.push('yy');
      got.status = 'away';
      const listed = (await ctx.storage.listCAs())[0]!;
      listed.languages.length = 0;
      const updated = (await ctx.storage.updateCA(expected.id, { maxChats: 1 }))!;
      updated.languages.push('zz');
      expect(await ctx.storage.getCA(expected.id)).toEqual(expected);
    });

    it('mutating a chat or client after storing or reading it changes nothing stored', async () => {
      const chat = makeChat();
      const client = makeClient();
      const expectedChat = structuredClone(chat);
      const expectedClient = structuredClone(client);
      await ctx.storage.createChat(chat);
      await ctx.storage.createClient(client);
      chat.state = 'ended';
      client.name = 'changed';
      (await ctx.storage.getChat(chat.id))!.language = 'xx';
      (await ctx.storage.listChats())[0]!.caId = 'ca-x';
      (await ctx.storage.getClient(client.id))!.tokenHash = 'x';
      expect(await ctx.storage.getChat(chat.id)).toEqual(expectedChat);
      expect(await ctx.storage.getClient(client.id)).toEqual(expectedClient);
    });

    it('mutating a message, its file or delivery after appending or reading it changes nothing stored', async () => {
      const chat = await seedChat(ctx.storage);
      const input = makeMessage(chat.id, { text: null, file: makeFileRef() });
      const expected = { ...structuredClone(input), seq: 1 };
      const { message } = await ctx.storage.appendMessage(input);
      input.file!.name = 'changed';
      input.delivery.state = 'delivered';
      message.delivery.attempts = 99;
      message.file!.size = 1;
      (await ctx.storage.getMessage(chat.id, 1))!.delivery.error = 'x';
      (await ctx.storage.listMessages(chat.id))[0]!.file!.mime = 'x';
      (await ctx.storage.listPendingDeliveries())[0]!.delivery.peerMessageId = 'x';
      expect(await ctx.storage.getMessage(chat.id, 1)).toEqual(expected);
    });

    it('mutating an offer, a file record or a kv value after storing or reading it changes nothing stored', async () => {
      const offer = makeOffer('chat-1', 'ca-1');
      const file = makeFileRecord('chat-1');
      const value = { list: [1, 2], nested: { a: 'b' } };
      const expected = structuredClone({ offer, file, value });
      await ctx.storage.putOffer(offer);
      await ctx.storage.createFile(file);
      await ctx.storage.kvSet('ns', 'k', value);
      offer.state = 'accepted';
      file.size = 1;
      value.list.push(3);
      value.nested.a = 'changed';
      (await ctx.storage.getOffer('chat-1', 'ca-1'))!.state = 'withdrawn';
      (await ctx.storage.listOffers())[0]!.ref = 'x';
      (await ctx.storage.getFile(file.id))!.name = 'x';
      (await ctx.storage.kvGet<typeof value>('ns', 'k'))!.list.push(4);
      expect(await ctx.storage.getOffer('chat-1', 'ca-1')).toEqual(expected.offer);
      expect(await ctx.storage.getFile(file.id)).toEqual(expected.file);
      expect(await ctx.storage.kvGet('ns', 'k')).toEqual(expected.value);
    });
  });

  describe('close', () => {
    it('after close, calls reject with storage_error', async () => {
      const ca = await seedCA(ctx.storage);
      await ctx.storage.close();
      await expectCode(ctx.storage.getCA(ca.id), 'storage_error');
      await expectCode(ctx.storage.createChat(makeChat()), 'storage_error');
      await expectCode(ctx.storage.appendMessage(makeMessage('chat-1')), 'storage_error');
    });
  });

  describe('typed errors', () => {
    it('a store that declares typedErrors fails only with CaChatErrors, never synchronously', async () => {
      if (ctx.storage.typedErrors !== true) return; // the relay wraps such a store instead
      const ca = await seedCA(ctx.storage);
      const failures: unknown[] = [];
      const attempt = (call: () => Promise<unknown>): Promise<void> => {
        let pending: Promise<unknown>;
        try {
          pending = call();
        } catch (error) {
          failures.push(new Error(`threw synchronously: ${String(error)}`));
          return Promise.resolve();
        }
        return pending.then(
          () => void failures.push(new Error('did not fail')),
          (error: unknown) => void failures.push(error),
        );
      };
      await attempt(() => ctx.storage.createCA(makeCA({ id: ca.id })));
      await attempt(() => ctx.storage.updateDelivery('no-such-chat', 1, makeMessage('x').delivery));
      await ctx.storage.close();
      await attempt(() => ctx.storage.getCA(ca.id));
      await attempt(() => ctx.storage.listPendingDeliveries());
      await attempt(() => ctx.storage.kvSet('ns', 'k', 1));
      expect(failures).toHaveLength(5);
      for (const failure of failures) expect(CaChatError.isInstance(failure)).toBe(true);
    });
  });

  describe.skipIf(ctx.reopen === undefined)('durability (reopen)', () => {
    const reopen = async (): Promise<void> => {
      await ctx.reopen!();
    };

    it('CAs, clients, invites and chats written before reopen are all still there', async () => {
      const ca = await seedCA(ctx.storage, { maxChats: 2 });
      const client = makeClient({ name: 'Asha' });
      await ctx.storage.createClient(client);
      const used = makeInvite();
      const unused = makeInvite();
      await ctx.storage.createInvite(used);
      await ctx.storage.createInvite(unused);
      await ctx.storage.useInvite(used.codeHash, ca.id, T0 + 1);
      const claimed = await seedChat(ctx.storage, { clientId: client.id });
      const ended = await seedChat(ctx.storage, { clientId: client.id });
      const waiting = await seedChat(ctx.storage, { clientId: client.id });
      await ctx.storage.claimChat(claimed.id, ca.id, T0 + 2);
      await ctx.storage.endChat(ended.id, 'client_ended', T0 + 3);
      await ctx.storage.updateCA(ca.id, { status: 'away' });
      const before = {
        ca: await ctx.storage.getCA(ca.id),
        client: await ctx.storage.getClient(client.id),
        chats: await ctx.storage.listChats(),
      };

      await reopen();

      expect(await ctx.storage.getCA(ca.id)).toEqual(before.ca);
      expect(await ctx.storage.getCAByExternalId(ca.channel, ca.externalId)).toEqual(before.ca);
      expect(await ctx.storage.getClient(client.id)).toEqual(before.client);
      expect(await ctx.storage.listChats()).toEqual(before.chats);
      expect((await ctx.storage.getChat(waiting.id))?.state).toBe('waiting');
      expect(await ctx.storage.useInvite(used.codeHash, 'ca-2', T0 + 4)).toBe(false);
      expect(await ctx.storage.useInvite(unused.codeHash, 'ca-2', T0 + 4)).toBe(true);
    });

    it('messages, seqs, idempotency keys and the outbox survive reopen, and seq continues', async () => {
      const chat = await seedChat(ctx.storage);
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          ctx.storage.appendMessage(makeMessage(chat.id, { idempotencyKey: `k${i}` })),
        ),
      );
      await ctx.storage.updateDelivery(chat.id, 3, {
        state: 'delivered',
        peerMessageId: 'p3',
        attempts: 1,
        nextAttemptAt: null,
        error: null,
      });
      const messages = await ctx.storage.listMessages(chat.id);
      const pending = await ctx.storage.listPendingDeliveries();

      await reopen();

      expect(await ctx.storage.listMessages(chat.id)).toEqual(messages);
      expect(await ctx.storage.listPendingDeliveries()).toEqual(pending);
      expect(
        (await ctx.storage.appendMessage(makeMessage(chat.id, { idempotencyKey: 'k5' }))).duplicate,
      ).toBe(true);
      expect((await ctx.storage.appendMessage(makeMessage(chat.id))).message.seq).toBe(21);
    });

    it('offers, file records and kv survive reopen, and a deleted chat stays deleted', async () => {
      const chat = await seedChat(ctx.storage);
      const doomed = await seedChat(ctx.storage);
      const offer = makeOffer(chat.id, 'ca-1', { state: 'withdrawn', closedAt: T0 + 1 });
      const file = makeFileRecord(chat.id);
      await ctx.storage.putOffer(offer);
      await ctx.storage.createFile(file);
      await ctx.storage.kvSet('ns', 'k', { deep: [1, { x: 'y' }] });
      await ctx.storage.kvSetIfAbsent('ns', 'once', true);
      await ctx.storage.kvSet('ns', 'gone', 1);
      await ctx.storage.kvDelete('ns', 'gone');
      await ctx.storage.appendMessage(makeMessage(doomed.id, { idempotencyKey: 'k' }));
      await ctx.storage.createFile(makeFileRecord(doomed.id));
      await ctx.storage.deleteChat(doomed.id);

      await reopen();

      expect(await ctx.storage.getOffer(chat.id, 'ca-1')).toEqual(offer);
      expect(await ctx.storage.getFile(file.id)).toEqual(file);
      expect(await ctx.storage.kvGet('ns', 'k')).toEqual({ deep: [1, { x: 'y' }] });
      expect(await ctx.storage.kvSetIfAbsent('ns', 'once', false)).toBe(false);
      expect(await ctx.storage.kvGet('ns', 'gone')).toBeNull();
      expect(await ctx.storage.getChat(doomed.id)).toBeNull();
      expect(await ctx.storage.listMessages(doomed.id)).toEqual([]);
      expect(await ctx.storage.listChats()).toEqual([chat]);
    });

    it('a storage reopened twice in a row still has everything', async () => {
      const chat = await seedChat(ctx.storage);
      await ctx.storage.appendMessage(makeMessage(chat.id, { text: 'first' }));
      await reopen();
      await ctx.storage.appendMessage(makeMessage(chat.id, { text: 'second' }));
      await reopen();
      expect((await ctx.storage.listMessages(chat.id)).map((m) => [m.seq, m.text])).toEqual([
        [1, 'first'],
        [2, 'second'],
      ]);
    });
  });
}
