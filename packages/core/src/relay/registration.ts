import type { CA, CAStatus } from '../domain.js';
import { CaChatError } from '../errors.js';
import type { CAProfileUpdate, RelayApi } from '../relay-api.js';
import type { CAPatch } from '../storage.js';
import { requireCA } from './access.js';
import { MAX_CHATS_PER_CA } from './config.js';
import type { RelayContext } from './context.js';
import { newId, sha256Hex } from './identities.js';
import {
  normaliseLanguages,
  normaliseTopics,
  requireString,
  validateMaxChats,
  validateMembershipNo,
  validateName,
} from './validation.js';

export type Registration = Pick<
  RelayApi,
  'registerCA' | 'updateCAProfile' | 'getCAByExternalId' | 'setCAStatus'
>;

const MAX_INVITE_CODE_LENGTH = 200;

/**
 * CA registration and profile. Only approved CAs are ever offered chats: `approval` mode
 * registers CAs as pending, `invite` approves on a valid one-time code, `open` at once.
 */
export function createRegistration(ctx: RelayContext): Registration {
  const { storage, config } = ctx;

  /** Offers the queue to a CA that may now take chats, and withdraws offers they no longer fit. */
  const reconsider = (ca: CA): void => {
    ctx.tasks.run('reconsider CA', async () => {
      await ctx.modules.matching.reconcileOffers(ca.id);
      await ctx.modules.matching.caFreed(ca.id);
    });
  };

  const validateProfile = (update: CAProfileUpdate): CAPatch => {
    if (typeof update !== 'object' || update === null)
      throw new CaChatError('invalid_input', 'expected a profile');
    const patch: CAPatch = {};
    if (update.name !== undefined) patch.name = validateName(update.name);
    if (update.membershipNo !== undefined)
      patch.membershipNo = validateMembershipNo(update.membershipNo);
    if (update.languages !== undefined)
      patch.languages = normaliseLanguages(update.languages, config.languages);
    if (update.topics !== undefined) patch.topics = normaliseTopics(update.topics, config.topics);
    if (update.maxChats !== undefined)
      patch.maxChats = validateMaxChats(update.maxChats, MAX_CHATS_PER_CA);
    if (update.address !== undefined) patch.address = requireString(update.address, 'address');
    return patch;
  };

  return {
    async registerCA(input) {
      if (typeof input !== 'object' || input === null)
        throw new CaChatError('invalid_input', 'expected a registration');
      const channel = requireString(input.channel, 'channel');
      if (!ctx.channels.has(channel))
        throw new CaChatError('invalid_input', `no channel named ${channel}`);
      const externalId = requireString(String(input.externalId ?? ''), 'externalId');
      const address = requireString(String(input.address ?? ''), 'address');
      const name = validateName(input.name);
      const membershipNo = validateMembershipNo(input.membershipNo);
      const languages = normaliseLanguages(input.languages, config.languages);
      const topics = normaliseTopics(input.topics, config.topics);
      const maxChats =
        input.maxChats === undefined
          ? config.defaultMaxChats
          : validateMaxChats(input.maxChats, MAX_CHATS_PER_CA);
      let inviteHash: string | null = null;
      if (config.registrationMode === 'invite') {
        if (
          typeof input.inviteCode !== 'string' ||
          input.inviteCode.length === 0 ||
          input.inviteCode.length > MAX_INVITE_CODE_LENGTH
        ) {
          throw new CaChatError('invalid_invite', 'an invite code is required to register');
        }
        inviteHash = sha256Hex(input.inviteCode.trim());
      }

      return ctx.locks.run(`ca:${channel}:${externalId}`, async () => {
        if (await storage.getCAByExternalId(channel, externalId)) {
          throw new CaChatError('ca_already_registered', 'you are already registered');
        }
        const id = newId();
        const now = ctx.clock.now();
        // Used last, after every other check, so a rejected registration never burns a code.
        if (inviteHash !== null && !(await storage.useInvite(inviteHash, id, now))) {
          throw new CaChatError('invalid_invite', 'this invite code is unknown, used or expired');
        }
        const ca: CA = {
          id,
          channel,
          externalId,
          address,
          name,
          membershipNo,
          languages,
          topics,
          approval: config.registrationMode === 'approval' ? 'pending' : 'approved',
          status: 'available',
          maxChats,
          lastAssignedAt: null,
          registeredAt: now,
        };
        await storage.createCA(ca);
        ctx.emit('ca.registered', ca);
        if (ca.approval === 'approved') reconsider(ca);
        return ca;
      });
    },

    async updateCAProfile(caId, update) {
      const patch = validateProfile(update);
      const ca = await requireCA(ctx, caId);
      if (ca.approval === 'removed')
        throw new CaChatError('ca_not_approved', 'this CA was removed');
      const updated = await storage.updateCA(ca.id, patch);
      ctx.modules.outbox.touched();
      if (!updated) throw new CaChatError('ca_not_registered', 'this CA is not registered');
      ctx.emit('ca.updated', updated);
      reconsider(updated);
      return updated;
    },

    async getCAByExternalId(channel, externalId) {
      if (
        typeof channel !== 'string' ||
        (typeof externalId !== 'string' && typeof externalId !== 'number')
      )
        return null;
      return storage.getCAByExternalId(channel, String(externalId));
    },

    async setCAStatus(caId, status: CAStatus) {
      if (status !== 'available' && status !== 'away')
        throw new CaChatError('invalid_input', 'status is available or away');
      const ca = await requireCA(ctx, caId);
      if (ca.approval === 'removed' || ca.approval === 'rejected')
        throw new CaChatError('ca_not_approved', 'this CA is not approved');
      const updated = ca.status === status ? ca : await storage.updateCA(ca.id, { status });
      if (updated !== ca) ctx.modules.outbox.touched();
      if (!updated) throw new CaChatError('ca_not_registered', 'this CA is not registered');
      if (ca.status !== status) ctx.emit('ca.status', updated, status);
      // Away: withdraw open offers. Available: offer what waits.
      reconsider(updated);
      return updated;
    },
  };
}
