import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CA, Chat, Client } from '../domain.js';
import { CaChatError, type CaChatErrorCode } from '../errors.js';
import type { Relay } from '../relay-options.js';
import { createHarness, type Harness } from './test-harness.js';

/** Everything the relay keeps, read back from storage and the blob folder. */
async function snapshot(h: Harness) {
  const chats = await h.storage.listChats();
  return {
    cas: await h.storage.listCAs(),
    chats,
    messages: await Promise.all(chats.map((c) => h.storage.listMessages(c.id))),
    offers: await h.storage.listOffers(),
    pending: await h.storage.listPendingDeliveries(),
    blobs: await h.blobFiles(),
  };
}

interface World {
  h: Harness;
  ca: CA;
  otherCA: CA;
  client: Client;
  stranger: Client;
  active: Chat;
  waiting: Chat;
  ended: Chat;
  token: string;
  invite: string;
}

let w: World;

beforeAll(async () => {
  const h = await createHarness({
    languages: ['en', 'hi'],
    maxTextLength: 100,
    maxOpenChatsPerClient: 1,
    registrationMode: 'invite',
  });
  const register = async (profile: Partial<Parameters<Relay['registerCA']>[0]>) =>
    h.addCA({ inviteCode: await h.relay.createInvite(), ...profile });
  const ca = await register({ languages: ['en'] });
  const otherCA = await register({ languages: ['hi'] });
  const { client, token } = await h.relay.createClient({ name: 'Asha' });
  const stranger = await h.addClient();
  const { chat: ended } = await h.relay.requestChat(client.id, { language: 'en' });
  await h.relay.acceptOffer(ca.id, ended.id);
  await h.relay.endChatByCA(ca.id, ended.id);
  const { chat: active } = await h.relay.requestChat(client.id, { language: 'en' });
  await h.relay.acceptOffer(ca.id, active.id);
  const { chat: waiting } = await h.relay.requestChat(stranger.id, {
    language: 'en',
    text: 'hello',
  });
  await h.relay.sendClientMessage(client.id, { chatId: active.id, text: 'hi', clientMsgId: 'm1' });
  await h.relay.flushOutbox();
  const invite = await h.relay.createInvite();
  await h.addCA({ inviteCode: invite, languages: ['hi'] });
  w = { h, ca, otherCA, client, stranger, active, waiting, ended, token, invite };
});

afterAll(async () => {
  await w.h.close();
  expect(w.h.errors()).toEqual([]);
});

const cases: { name: string; code: CaChatErrorCode; act: (w: World) => Promise<unknown> }[] = [
  {
    name: 'message to an unknown chat → unknown_chat',
    code: 'unknown_chat',
    act: ({ h, client }) => h.relay.sendClientMessage(client.id, { chatId: 'nope', text: 'x' }),
  },
  {
    name: 'message to an ended chat → chat_ended',
    code: 'chat_ended',
    act: ({ h, client, ended }) =>
      h.relay.sendClientMessage(client.id, { chatId: ended.id, text: 'x' }),
  },
  {
    name: "message to another client's chat → not_your_chat",
    code: 'not_your_chat',
    act: ({ h, stranger, active }) =>
      h.relay.sendClientMessage(stranger.id, { chatId: active.id, text: 'x' }),
  },
  {
    name: "CA message to another CA's chat → not_your_chat",
    code: 'not_your_chat',
    act: ({ h, otherCA, active }) =>
      h.relay.sendCAMessage(otherCA.id, { chatId: active.id, text: 'x' }),
  },
  {
    name: 'CA message to a waiting chat → chat_not_active',
    code: 'chat_not_active',
    act: ({ h, ca, waiting }) => h.relay.sendCAMessage(ca.id, { chatId: waiting.id, text: 'x' }),
  },
  {
    name: 'empty text → empty_text',
    code: 'empty_text',
    act: ({ h, client, active }) =>
      h.relay.sendClientMessage(client.id, { chatId: active.id, text: '' }),
  },
  {
    name: 'whitespace-only text → empty_text',
    code: 'empty_text',
    act: ({ h, ca, active }) => h.relay.sendCAMessage(ca.id, { chatId: active.id, text: ' \n\t ' }),
  },
  {
    name: 'over-long text → text_too_long',
    code: 'text_too_long',
    act: ({ h, client, active }) =>
      h.relay.sendClientMessage(client.id, { chatId: active.id, text: 'x'.repeat(101) }),
  },
  {
    name: 'a language not offered → unsupported_language',
    code: 'unsupported_language',
    act: ({ h, stranger }) => h.relay.requestChat(stranger.id, { language: 'ta' }),
  },
  {
    name: 'a malformed language tag → unsupported_language',
    code: 'unsupported_language',
    act: ({ h, stranger }) => h.relay.requestChat(stranger.id, { language: 'English' }),
  },
  {
    name: 'registering with a language not offered → unsupported_language',
    code: 'unsupported_language',
    act: ({ h, invite }) => h.addCA({ inviteCode: invite, languages: ['fr'] }),
  },
  {
    name: 'an unregistered CA sending → ca_not_registered',
    code: 'ca_not_registered',
    act: ({ h, active }) => h.relay.sendCAMessage('ghost', { chatId: active.id, text: 'x' }),
  },
  {
    name: 'an unregistered CA accepting → ca_not_registered',
    code: 'ca_not_registered',
    act: ({ h, waiting }) => h.relay.acceptOffer('ghost', waiting.id),
  },
  {
    name: 'an unregistered CA going available → ca_not_registered',
    code: 'ca_not_registered',
    act: ({ h }) => h.relay.setCAStatus('ghost', 'available'),
  },
  {
    name: 'accepting without an open offer → offer_not_open',
    code: 'offer_not_open',
    act: ({ h, otherCA, waiting }) => h.relay.acceptOffer(otherCA.id, waiting.id),
  },
  {
    name: 'a 5-digit membership number → invalid_membership_no',
    code: 'invalid_membership_no',
    act: ({ h }) => h.addCA({ membershipNo: '12345', inviteCode: 'x' }),
  },
  {
    name: 'a 7-digit membership number → invalid_membership_no',
    code: 'invalid_membership_no',
    act: ({ h }) => h.addCA({ membershipNo: '1234567', inviteCode: 'x' }),
  },
  {
    name: 'a non-numeric membership number → invalid_membership_no',
    code: 'invalid_membership_no',
    act: ({ h }) => h.addCA({ membershipNo: '12a456', inviteCode: 'x' }),
  },
  {
    name: 'a reused invite → invalid_invite',
    code: 'invalid_invite',
    act: ({ h, invite }) => h.addCA({ inviteCode: invite }),
  },
  {
    name: 'an unknown invite → invalid_invite',
    code: 'invalid_invite',
    act: ({ h }) => h.addCA({ inviteCode: 'made-up' }),
  },
  {
    name: 'no invite in invite mode → invalid_invite',
    code: 'invalid_invite',
    act: ({ h }) => h.addCA({}),
  },
  {
    name: 'an unknown client requesting a chat → unauthorized',
    code: 'unauthorized',
    act: ({ h }) => h.relay.requestChat('ghost', { language: 'en' }),
  },
  {
    name: 'a chat past maxOpenChatsPerClient → too_many_chats',
    code: 'too_many_chats',
    act: ({ h, client }) => h.relay.requestChat(client.id, { language: 'en' }),
  },
  {
    name: 'ending an ended chat → chat_ended',
    code: 'chat_ended',
    act: ({ h, client, ended }) => h.relay.endChatByClient(client.id, ended.id),
  },
  {
    name: "ending another client's chat → not_your_chat",
    code: 'not_your_chat',
    act: ({ h, stranger, active }) => h.relay.endChatByClient(stranger.id, active.id),
  },
  {
    name: 'a file to an ended chat → chat_ended (the upload is not read)',
    code: 'chat_ended',
    act: ({ h, client, ended }) =>
      h.relay.sendClientFile(client.id, {
        chatId: ended.id,
        name: 'a.txt',
        mime: 'text/plain',
        source: Readable.from([Buffer.from('x')]),
      }),
  },
  {
    name: 'a file with a bad mime type → invalid_input',
    code: 'invalid_input',
    act: ({ h, client, active }) =>
      h.relay.sendClientFile(client.id, {
        chatId: active.id,
        name: 'a.txt',
        mime: 'not a mime',
        source: Readable.from([Buffer.from('x')]),
      }),
  },
];

describe('bad input gets a typed error and changes nothing', () => {
  it.each(cases)('$name', async ({ code, act }) => {
    const before = await snapshot(w.h);
    const error = await act(w).then(
      () => null,
      (e: unknown) => e,
    );
    expect(CaChatError.isInstance(error) ? error.code : error).toBe(code);
    expect(await snapshot(w.h)).toEqual(before);
  });

  it('a bad token authenticates nobody and changes nothing', async () => {
    const before = await snapshot(w.h);
    const [id, secret] = w.token.split('.') as [string, string];
    for (const bad of [
      '',
      'garbage',
      `${id}.`,
      `${id}.${secret}x`,
      `${id}.${'A'.repeat(secret.length)}`,
      `ghost.${secret}`,
      `.${secret}`,
      `${id}.${secret}`.repeat(20),
    ]) {
      expect(await w.h.relay.authenticateClient(bad)).toBeNull();
    }
    expect(await w.h.relay.authenticateClient(w.token)).toMatchObject({
      id: w.client.id,
      name: 'Asha',
    });
    expect(await snapshot(w.h)).toEqual(before);
  });
});
