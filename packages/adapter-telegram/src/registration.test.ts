import { describe, expect, it } from 'vitest';
import { harnessPerTest, hasButton, matches, textOf } from './test-harness.js';

const harness = harnessPerTest();

describe('registration', () => {
  it('open mode: /start → name → membership no. → languages → topics → confirm registers an approved CA', async () => {
    const h = await harness({ mode: 'open' });
    const asha = h.user('Asha');
    const done = await h.registerViaBot(asha, {
      name: 'Asha Rao',
      membershipNo: '123 456',
      languages: ['hi', 'en'],
    });
    expect(textOf(done)).toMatch(/registered and available/);
    const ca = await h.relay.getCAByExternalId('telegram', String(asha.id));
    expect(ca).toMatchObject({
      name: 'Asha Rao',
      membershipNo: '123456',
      languages: ['hi', 'en'],
      topics: [],
      approval: 'approved',
      address: String(asha.chatId),
    });
  });

  it('approval mode: an admin approves with the button, the CA is told, the admin message is edited', async () => {
    const ADMIN_ID = 900_001;
    const h = await harness({ mode: 'approval', channel: { adminIds: [ADMIN_ID] } });
    const admin = h.emu.createUser({ id: ADMIN_ID, firstName: 'Admin' });
    const ravi = h.user('Ravi');
    const done = await h.registerViaBot(ravi, { name: 'Ravi Kumar' });
    expect(textOf(done)).toMatch(/administrator will review/);
    const pending = await h.relay.getCAByExternalId('telegram', String(ravi.id));
    expect(pending?.approval).toBe('pending');

    const request = await h.waitBot(
      admin,
      (m) => hasButton(m, `apr:${pending!.id}`) && hasButton(m, `rej:${pending!.id}`),
    );
    expect(textOf(request)).toContain('Ravi Kumar');
    expect(textOf(request)).toContain('123456');
    // A pending CA writing is told their state, not ignored.
    await h.say(ravi, 'hello?', matches(/waiting for an administrator/));

    const answer = await h.press(admin, request, `apr:${pending!.id}`);
    expect(answer.text).toBe('Approved');
    await h.waitBot(ravi, matches(/registration was approved/), h.lastId(ravi));
    const edited = await h.waitBot(
      admin,
      (m) => m.message_id === request.message_id && /Approved by Admin/.test(textOf(m)),
    );
    expect(edited.reply_markup?.inline_keyboard ?? []).toHaveLength(0);
    expect((await h.relay.getCA(pending!.id))?.approval).toBe('approved');
  });

  it('invite mode: an invite code registers once; a second use is refused; no code gets instructions', async () => {
    const h = await harness({ mode: 'invite' });
    const code = await h.relay.createInvite();
    const first = h.user('First');
    expect(textOf(await h.registerViaBot(first, { invite: code }))).toMatch(
      /registered and available/,
    );
    expect((await h.relay.getCAByExternalId('telegram', String(first.id)))?.approval).toBe(
      'approved',
    );

    const second = h.user('Second');
    await h.say(second, '/start', matches(/by invitation/));
    await h.say(second, `/start ${code}`, matches(/full name/));
    await h.say(second, 'Second Person', matches(/membership number/));
    const form = await h.say(second, '222222', (m) => hasButton(m, 'f:done'));
    await h.press(second, form, 'f:l:hi');
    await h.press(second, form, 'f:done');
    const topics = await h.waitBot(second, (m) => hasButton(m, 'f:skip'), form.message_id);
    await h.press(second, topics, 'f:skip');
    const confirm = await h.waitBot(second, (m) => hasButton(m, 'f:ok'), topics.message_id);
    await h.press(second, confirm, 'f:ok');
    await h.waitBot(second, matches(/not valid or has already been used/), confirm.message_id);
    expect(await h.relay.getCAByExternalId('telegram', String(second.id))).toBeNull();
  });

  it('an invalid membership number is re-prompted with the rule, and nothing is stored', async () => {
    const h = await harness({ mode: 'open' });
    const u = h.user('Meera');
    await h.say(u, '/start', matches(/full name/));
    await h.say(u, 'Meera Iyer', matches(/membership number/));
    for (const bad of ['12345', '1234567', 'ABC123', '12 34 5x']) {
      const reply = await h.say(u, bad, matches(/not an ICAI membership number/));
      expect(textOf(reply)).toMatch(/exactly 6 digits/);
    }
    await h.say(u, '654321', (m) => hasButton(m, 'f:done'));
    expect(await h.relay.getCAByExternalId('telegram', String(u.id))).toBeNull();
  });

  it('a restart mid-registration continues where the CA left off (state in relay storage)', async () => {
    const h = await harness({ mode: 'open' });
    const u = h.user('Kiran');
    await h.say(u, '/start', matches(/full name/));
    await h.say(u, 'Kiran Shah', matches(/membership number/));
    const h2 = await h.restart();
    harness.track(h2);
    const form = await h2.say(u, '111111', (m) => hasButton(m, 'f:done'));
    await h2.press(u, form, 'f:l:ta');
    await h2.press(u, form, 'f:done');
    const topics = await h2.waitBot(u, (m) => hasButton(m, 'f:skip'), form.message_id);
    // Restart again with a form on screen: its buttons still work.
    const h3 = await h2.restart();
    harness.track(h3);
    await h3.press(u, topics, 'f:t:0');
    await h3.press(u, topics, 'f:done');
    const confirm = await h3.waitBot(u, (m) => hasButton(m, 'f:ok'), topics.message_id);
    expect(textOf(confirm)).toMatch(/Kiran Shah[\s\S]*111111[\s\S]*Tamil[\s\S]*GST/);
    await h3.press(u, confirm, 'f:ok');
    await h3.waitBot(u, matches(/registered/), confirm.message_id);
    expect(await h3.relay.getCAByExternalId('telegram', String(u.id))).toMatchObject({
      name: 'Kiran Shah',
      membershipNo: '111111',
      languages: ['ta'],
      topics: ['gst'],
    });
  });

  it('/profile edits name, languages and max chats through buttons', async () => {
    const h = await harness({ mode: 'open' });
    const u = h.user('Dev');
    await h.registerViaBot(u, { name: 'Dev Patel', languages: ['hi'] });
    const profile = await h.say(u, '/profile', (m) => hasButton(m, 'p:name'));
    expect(textOf(profile)).toMatch(/Name: Dev Patel/);

    await h.press(u, profile, 'p:name');
    await h.waitBot(u, matches(/new name/), profile.message_id);
    const shown = await h.say(u, 'Devendra Patel', matches(/Name: Devendra Patel/));

    await h.press(u, profile, 'p:languages');
    const form = await h.waitBot(u, (m) => hasButton(m, 'f:l:en'), shown.message_id);
    await h.press(u, form, 'f:l:en');
    await h.press(u, form, 'f:done');
    const saved = await h.waitBot(u, matches(/Languages: Hindi, English/), form.message_id);

    await h.press(u, profile, 'p:maxChats');
    const max = await h.waitBot(u, (m) => hasButton(m, 'p:max:2'), saved.message_id);
    await h.press(u, max, 'p:max:2');
    await h.waitBot(
      u,
      (m) => m.message_id === max.message_id && /Chats at once: 2/.test(textOf(m)),
    );

    expect(await h.relay.getCAByExternalId('telegram', String(u.id))).toMatchObject({
      name: 'Devendra Patel',
      languages: ['hi', 'en'],
      maxChats: 2,
    });
  });

  it('unexpected input gets a helpful reply: text when unregistered, unknown command, text outside a chat', async () => {
    const h = await harness({ mode: 'open' });
    const u = h.user('Stranger');
    await h.say(u, 'hello', matches(/Send \/start to register/));
    await h.say(u, '/frobnicate', matches(/don.t know \/frobnicate/));
    await h.say(u, '/help', matches(/\/available/));
    await h.registerViaBot(u);
    await h.say(u, 'anyone there?', matches(/not in a chat right now/));
  });
});
