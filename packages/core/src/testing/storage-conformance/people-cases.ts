import { describe, expect, it } from 'vitest';
import type { CAPatch } from '../../storage.js';
import {
  T0,
  expectCaChatError,
  expectCode,
  makeCA,
  makeClient,
  makeInvite,
  seedCA,
  type ConformanceContext,
} from './fixtures.js';

/** CAs, invites and clients. */
export function peopleCases(ctx: ConformanceContext): void {
  describe('CAs', () => {
    it('createCA stores a CA that getCA reads back field for field', async () => {
      const ca = makeCA({
        topics: [],
        lastAssignedAt: T0 + 5,
        maxChats: 3,
        languages: ['ta', 'en'],
      });
      await ctx.storage.createCA(ca);
      expect(await ctx.storage.getCA(ca.id)).toEqual(ca);
    });

    it('getCA returns null for an unknown id', async () => {
      expect(await ctx.storage.getCA('no-such-ca')).toBeNull();
    });

    it('getCAByExternalId finds a CA by channel and external id, on that channel only', async () => {
      const ca = await seedCA(ctx.storage);
      expect(await ctx.storage.getCAByExternalId('telegram', ca.externalId)).toEqual(ca);
      expect(await ctx.storage.getCAByExternalId('slack', ca.externalId)).toBeNull();
      expect(await ctx.storage.getCAByExternalId('telegram', 'nobody')).toBeNull();
    });

    it('createCA rejects a second CA with the same channel and external id with ca_already_registered and stores nothing', async () => {
      const first = await seedCA(ctx.storage);
      const second = makeCA({ externalId: first.externalId, name: 'Impostor' });
      await expectCode(ctx.storage.createCA(second), 'ca_already_registered');
      expect(await ctx.storage.getCA(second.id)).toBeNull();
      expect(await ctx.storage.getCAByExternalId('telegram', first.externalId)).toEqual(first);
      expect(await ctx.storage.listCAs()).toHaveLength(1);
    });

    it('createCA accepts the same external id on another channel', async () => {
      const first = await seedCA(ctx.storage);
      const other = await seedCA(ctx.storage, { channel: 'slack', externalId: first.externalId });
      expect(await ctx.storage.getCAByExternalId('slack', first.externalId)).toEqual(other);
      expect(await ctx.storage.getCAByExternalId('telegram', first.externalId)).toEqual(first);
    });

    it('createCA rejects an existing id and leaves the stored CA unchanged', async () => {
      const first = await seedCA(ctx.storage);
      await expectCaChatError(ctx.storage.createCA(makeCA({ id: first.id, name: 'Other' })));
      expect(await ctx.storage.getCA(first.id)).toEqual(first);
    });

    it('updateCA applies the given fields only and returns the CA as stored', async () => {
      const ca = await seedCA(ctx.storage);
      const patch: CAPatch = {
        status: 'away',
        languages: ['hi'],
        maxChats: 4,
        lastAssignedAt: T0 + 9,
      };
      const updated = await ctx.storage.updateCA(ca.id, patch);
      const expected = { ...ca, ...patch };
      expect(updated).toEqual(expected);
      expect(await ctx.storage.getCA(ca.id)).toEqual(expected);
    });

    it('updateCA ignores undefined values in the patch', async () => {
      const ca = await seedCA(ctx.storage);
      await ctx.storage.updateCA(ca.id, { name: undefined, approval: 'rejected' });
      expect(await ctx.storage.getCA(ca.id)).toEqual({ ...ca, approval: 'rejected' });
    });

    it('updateCA does not change id, channel, externalId or registeredAt even when asked to', async () => {
      const ca = await seedCA(ctx.storage);
      const sneaky = {
        id: 'other',
        channel: 'slack',
        externalId: 'x',
        registeredAt: 1,
        status: 'away',
      } as CAPatch;
      await ctx.storage.updateCA(ca.id, sneaky);
      expect(await ctx.storage.getCA(ca.id)).toEqual({ ...ca, status: 'away' });
      expect(await ctx.storage.getCA('other')).toBeNull();
      expect(await ctx.storage.getCAByExternalId('telegram', ca.externalId)).toEqual({
        ...ca,
        status: 'away',
      });
    });

    it('updateCA of an unknown CA returns null and creates nothing', async () => {
      expect(await ctx.storage.updateCA('no-such-ca', { status: 'away' })).toBeNull();
      expect(await ctx.storage.getCA('no-such-ca')).toBeNull();
    });

    it('listCAs applies every filter given, combined', async () => {
      const a = await seedCA(ctx.storage, {
        languages: ['en'],
        approval: 'approved',
        status: 'available',
      });
      const b = await seedCA(ctx.storage, {
        languages: ['hi', 'en'],
        approval: 'pending',
        status: 'available',
      });
      const c = await seedCA(ctx.storage, {
        languages: ['hi'],
        approval: 'approved',
        status: 'away',
      });
      const d = await seedCA(ctx.storage, {
        languages: ['ta'],
        approval: 'approved',
        status: 'available',
        channel: 'slack',
      });
      const ids = async (filter: Parameters<typeof ctx.storage.listCAs>[0]): Promise<string[]> =>
        (await ctx.storage.listCAs(filter)).map((ca) => ca.id).sort();
      expect(await ids({})).toEqual([a.id, b.id, c.id, d.id].sort());
      expect(await ids({ approval: 'approved' })).toEqual([a.id, c.id, d.id].sort());
      expect(await ids({ status: 'away' })).toEqual([c.id]);
      expect(await ids({ language: 'hi' })).toEqual([b.id, c.id].sort());
      expect(await ids({ language: 'h' })).toEqual([]);
      expect(await ids({ channel: 'slack' })).toEqual([d.id]);
      expect(await ids({ approval: 'approved', status: 'available', language: 'en' })).toEqual([
        a.id,
      ]);
    });

    it('listCAs orders by registeredAt, then id', async () => {
      const late = await seedCA(ctx.storage, { id: 'ca-a', registeredAt: T0 + 10 });
      const early2 = await seedCA(ctx.storage, { id: 'ca-c', registeredAt: T0 });
      const early1 = await seedCA(ctx.storage, { id: 'ca-b', registeredAt: T0 });
      expect((await ctx.storage.listCAs()).map((ca) => ca.id)).toEqual([
        early1.id,
        early2.id,
        late.id,
      ]);
    });
  });

  describe('invites', () => {
    it('useInvite accepts an unused invite once and refuses it afterwards', async () => {
      const invite = makeInvite();
      await ctx.storage.createInvite(invite);
      expect(await ctx.storage.useInvite(invite.codeHash, 'ca-1', T0 + 1)).toBe(true);
      expect(await ctx.storage.useInvite(invite.codeHash, 'ca-2', T0 + 2)).toBe(false);
    });

    it('useInvite refuses an invite at or after expiresAt; an invite without expiresAt never expires', async () => {
      const expiring = makeInvite({ expiresAt: T0 + 100 });
      const forever = makeInvite({ expiresAt: null });
      await ctx.storage.createInvite(expiring);
      await ctx.storage.createInvite(forever);
      expect(await ctx.storage.useInvite(expiring.codeHash, 'ca-1', T0 + 100)).toBe(false);
      expect(await ctx.storage.useInvite(forever.codeHash, 'ca-1', Number.MAX_SAFE_INTEGER)).toBe(
        true,
      );
    });

    it('useInvite accepts an invite just before it expires', async () => {
      const invite = makeInvite({ expiresAt: T0 + 100 });
      await ctx.storage.createInvite(invite);
      expect(await ctx.storage.useInvite(invite.codeHash, 'ca-1', T0 + 99)).toBe(true);
    });

    it('useInvite refuses an unknown code', async () => {
      expect(await ctx.storage.useInvite('no-such-code', 'ca-1', T0)).toBe(false);
    });

    it('concurrent useInvite calls on one code: exactly one succeeds', async () => {
      const invite = makeInvite();
      await ctx.storage.createInvite(invite);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          ctx.storage.useInvite(invite.codeHash, `ca-${i}`, T0 + 1),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('createInvite rejects an existing code hash and keeps the first invite', async () => {
      const invite = makeInvite();
      await ctx.storage.createInvite(invite);
      await expectCaChatError(ctx.storage.createInvite({ ...invite, expiresAt: T0 - 1 }));
      expect(await ctx.storage.useInvite(invite.codeHash, 'ca-1', T0 + 1)).toBe(true);
    });
  });

  describe('clients', () => {
    it('createClient stores a client that getClient reads back', async () => {
      const client = makeClient({ name: 'Asha', language: 'hi' });
      await ctx.storage.createClient(client);
      expect(await ctx.storage.getClient(client.id)).toEqual(client);
    });

    it('getClient returns null for an unknown id', async () => {
      expect(await ctx.storage.getClient('no-such-client')).toBeNull();
    });

    it('updateClient applies the patch and returns the client as stored', async () => {
      const client = makeClient();
      await ctx.storage.createClient(client);
      const updated = await ctx.storage.updateClient(client.id, {
        name: 'Ravi',
        language: null,
        tokenHash: 'c'.repeat(64),
      });
      const expected = { ...client, name: 'Ravi', language: null, tokenHash: 'c'.repeat(64) };
      expect(updated).toEqual(expected);
      expect(await ctx.storage.getClient(client.id)).toEqual(expected);
    });

    it('updateClient of an unknown client returns null and creates nothing', async () => {
      expect(await ctx.storage.updateClient('no-such-client', { name: 'x' })).toBeNull();
      expect(await ctx.storage.getClient('no-such-client')).toBeNull();
    });

    it('createClient rejects an existing id and keeps the stored client', async () => {
      const client = makeClient({ name: 'first' });
      await ctx.storage.createClient(client);
      await expectCaChatError(ctx.storage.createClient({ ...client, name: 'second' }));
      expect(await ctx.storage.getClient(client.id)).toEqual(client);
    });
  });
}
