import { afterEach, describe, expect, it } from 'vitest';
import { CaChatError } from '../errors.js';
import { createFsBlobStore } from '../fs-blob-store.js';
import { createMemoryStorage } from '../memory-storage.js';
import { createRecordingChannel } from '../testing/recording-doubles.js';
import { createRelay } from './create-relay.js';
import { createHarness, type Harness } from './test-harness.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe('registration', () => {
  it('approval mode: a new CA is pending, gets no offers, and is offered the queue once approved', async () => {
    h = await createHarness({ registrationMode: 'approval' });
    const client = await h.addClient();
    const { chat } = await h.relay.requestChat(client.id, { language: 'en' });
    const ca = await h.addCA({ membershipNo: ' 123456 ', languages: ['EN', 'hi'] });
    expect(ca).toMatchObject({
      approval: 'pending',
      status: 'available',
      membershipNo: '123456',
      languages: ['en', 'hi'],
      maxChats: 1,
    });
    expect(await h.storage.getCA(ca.id)).toEqual(ca);
    expect(h.channel.offersTo(ca.id)).toEqual([]);

    const offered = h.channel.waitFor(
      'sendOffer',
      (c) => c.ca.id === ca.id && c.offer.chatId === chat.id,
    );
    const approved = await h.relay.approveCA(ca.id);
    expect(approved.approval).toBe('approved');
    expect(h.channel.callsOf('notify').map((c) => c.notice)).toEqual([{ type: 'approved' }]);
    await offered;
    expect(h.errors()).toEqual([]);
  });

  it('invite mode: a valid code approves at once and can be used only once', async () => {
    h = await createHarness({ registrationMode: 'invite' });
    const code = await h.relay.createInvite();
    const ca = await h.addCA({ inviteCode: code });
    expect(ca.approval).toBe('approved');
    await expect(h.addCA({ inviteCode: code })).rejects.toMatchObject({ code: 'invalid_invite' });
    await expect(h.addCA({})).rejects.toMatchObject({ code: 'invalid_invite' });
    expect(await h.storage.listCAs()).toHaveLength(1);
    expect(h.errors()).toEqual([]);
  });

  it('invite mode: an expired code is refused', async () => {
    h = await createHarness({ registrationMode: 'invite' });
    const code = await h.relay.createInvite({ expiresInMs: 1000 });
    await h.clock.advance(1000);
    await expect(h.addCA({ inviteCode: code })).rejects.toMatchObject({ code: 'invalid_invite' });
  });

  it('open mode: a new CA is approved at once and offered the waiting chats', async () => {
    h = await createHarness({ registrationMode: 'open' });
    const client = await h.addClient();
    const { chat } = await h.relay.requestChat(client.id, { language: 'en' });
    const offered = h.channel.waitFor('sendOffer', (c) => c.offer.chatId === chat.id);
    const ca = await h.addCA();
    expect(ca.approval).toBe('approved');
    expect((await offered).ca.id).toBe(ca.id);
  });

  it('registering the same channel identity twice → ca_already_registered', async () => {
    h = await createHarness();
    await h.relay.registerCA({
      channel: 'test',
      externalId: 'x',
      address: 'x',
      name: 'A',
      membershipNo: '111111',
      languages: ['en'],
    });
    await expect(
      h.relay.registerCA({
        channel: 'test',
        externalId: 'x',
        address: 'x',
        name: 'A',
        membershipNo: '111111',
        languages: ['en'],
      }),
    ).rejects.toMatchObject({ code: 'ca_already_registered' });
  });

  it('a CA going away has their open offers withdrawn', async () => {
    h = await createHarness();
    const ca = await h.addCA();
    const client = await h.addClient();
    const { chat } = await h.relay.requestChat(client.id, { language: 'en' });
    const withdrawn = h.channel.waitFor(
      'closeOffer',
      (c) => c.chatId === chat.id && c.reason === 'withdrawn',
    );
    const away = await h.relay.setCAStatus(ca.id, 'away');
    expect(away.status).toBe('away');
    await withdrawn;
  });

  it('a throwing event listener does not break the relay (the error goes to the logger)', async () => {
    h = await createHarness();
    const seen: string[] = [];
    h.relay.on('chat.requested', () => {
      throw new Error('listener bug');
    });
    h.relay.on('chat.requested', (chat) => seen.push(chat.id));
    h.relay.on('chat.offered', async () => {
      throw new Error('async listener bug');
    });
    await h.addCA();
    const client = await h.addClient();
    const { chat } = await h.relay.requestChat(client.id, { language: 'en' });
    const ca = (await h.storage.listCAs())[0]!;
    await h.relay.acceptOffer(ca.id, chat.id);

    expect(seen).toEqual([chat.id]);
    expect((await h.storage.getChat(chat.id))?.state).toBe('active');
    const logged = h.errors().map((e) => (e.obj as { err: Error }).err.message);
    expect(logged).toContain('listener bug');
    expect(logged).toContain('async listener bug');
  });

  it('off() removes a listener added with on() or once()', async () => {
    h = await createHarness();
    let calls = 0;
    const listener = () => void calls++;
    h.relay.on('ca.registered', listener);
    h.relay.off('ca.registered', listener);
    h.relay.once('ca.registered', listener);
    await h.addCA();
    await h.addCA();
    expect(calls).toBe(1);
    expect(h.relay.listenerCount('ca.registered')).toBe(0);
  });

  it('createRelay refuses plug-ins that lack methods (config_invalid)', () => {
    const blobs = createFsBlobStore({ dir: '/tmp/unused' });
    const storage = createMemoryStorage();
    const broken = { ...storage, claimChat: undefined } as unknown as typeof storage;
    const bad = [
      () => createRelay({ storage: broken, blobs }),
      () => createRelay({ storage, blobs: { put: blobs.put } as unknown as typeof blobs }),
      () => createRelay({ storage, blobs, channels: [{ name: 'x' } as never] }),
      () =>
        createRelay({
          storage,
          blobs,
          channels: [createRecordingChannel('a'), createRecordingChannel('a')],
        }),
      () => createRelay({ storage, blobs, options: { matchTimeoutMs: -1 } }),
      () => createRelay({ storage, blobs, options: { languages: ['english'] } }),
    ];
    for (const make of bad) {
      const error = (() => {
        try {
          make();
          return null;
        } catch (e) {
          return e;
        }
      })();
      expect(CaChatError.is(error, 'config_invalid')).toBe(true);
    }
  });

  it('calls before start() fail with not_started, after stop() with shutting_down', async () => {
    const relay = createRelay({
      storage: createMemoryStorage(),
      blobs: createFsBlobStore({ dir: '/tmp/unused' }),
    });
    await expect(relay.listCAs()).rejects.toMatchObject({ code: 'not_started' });
    await relay.start();
    expect(relay.settings).toMatchObject({
      registrationMode: 'approval',
      maxTextLength: 8000,
      maxFileBytes: 50 * 1024 * 1024,
    });
    await relay.stop();
    await expect(relay.listCAs()).rejects.toMatchObject({ code: 'shutting_down' });
  });

  it('a failing storage surfaces as storage_error with the original as cause', async () => {
    // A store that does not promise typed errors (the memory store does): the relay wraps it.
    const untyped = new Proxy(createMemoryStorage(), {
      get: (target, key) => (key === 'typedErrors' ? undefined : Reflect.get(target, key)),
    });
    h = await createHarness({ storage: untyped });
    const original = new Error('disk on fire');
    const client = await h.addClient();
    (h.storage as { countChats: unknown }).countChats = async () => {
      throw original;
    };
    const error = await h.relay.requestChat(client.id, { language: 'en' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'storage_error' });
    expect((error as Error).cause).toBe(original);
  });

  it('a store that promises typed errors is called directly, without a wrapper', async () => {
    const storage = createMemoryStorage();
    h = await createHarness({ storage });
    expect(storage.typedErrors).toBe(true);
    expect(h.relay.storage).toBe(storage);
  });

  it('ensureClient returns the same client for an id, creating it once', async () => {
    h = await createHarness();
    const [a, b] = await Promise.all([
      h.relay.ensureClient('user-1', { name: 'Ravi' }),
      h.relay.ensureClient('user-1'),
    ]);
    expect(a.id).toBe('user-1');
    expect(b).toEqual(a);
    expect(await h.storage.getClient('user-1')).toMatchObject({ name: 'Ravi' });
  });
});
