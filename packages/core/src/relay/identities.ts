import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Client, LanguageTag } from '../domain.js';
import { CaChatError } from '../errors.js';
import type { ClientCredentials } from '../relay-api.js';
import type { RelayContext } from './context.js';
import { normaliseLanguage, requireId, SAFE_ID, validateName } from './validation.js';

const MAX_TOKEN_LENGTH = 300;

export const newId = (): string => randomUUID().replaceAll('-', '');

let lastIdMs = -1;
let idCounter = 0;
/**
 * An id that sorts in creation order, even within one millisecond: storage lists chats by
 * `createdAt` then id, so this keeps the queue strictly first come, first served.
 */
export function newSortableId(now: number): string {
  idCounter = now === lastIdMs ? idCounter + 1 : 0;
  lastIdMs = now;
  return `${Math.max(0, now).toString(36).padStart(9, '0')}${idCounter.toString(36).padStart(4, '0')}${randomBytes(8).toString('hex')}`;
}
export const sha256Hex = (value: string): string =>
  createHash('sha256').update(value, 'utf8').digest('hex');
const newSecret = (): string => randomBytes(32).toString('base64url');

export interface ClientProfile {
  name?: string | null;
  language?: LanguageTag | null;
}

export interface Identities {
  createClient(input?: ClientProfile & { id?: string }): Promise<ClientCredentials>;
  authenticateClient(token: string): Promise<Client | null>;
  ensureClient(id: string, profile?: ClientProfile): Promise<Client>;
  /** The client, or `unauthorized` when there is none. */
  requireClient(clientId: string): Promise<Client>;
}

/**
 * Client identities. A token is `<clientId>.<secret>`; storage keeps only the SHA-256 of the
 * secret, so a leaked database can't be used to impersonate anyone.
 */
export function createIdentities(ctx: RelayContext): Identities {
  const profileOf = (
    input: ClientProfile = {},
  ): { name: string | null; language: LanguageTag | null } => ({
    name: input.name === undefined || input.name === null ? null : validateName(input.name),
    language:
      input.language === undefined || input.language === null
        ? null
        : normaliseLanguage(input.language, ctx.config.languages),
  });

  return {
    async createClient(input = {}) {
      if (typeof input !== 'object' || input === null)
        throw new CaChatError('invalid_input', 'expected an object');
      const id = input.id === undefined ? newId() : requireId(input.id, 'client id');
      const profile = profileOf(input);
      const secret = newSecret();
      const client: Client = {
        id,
        tokenHash: sha256Hex(secret),
        ...profile,
        createdAt: ctx.clock.now(),
      };
      if (await ctx.storage.getClient(id))
        throw new CaChatError('invalid_input', `client ${id} already exists`);
      await ctx.storage.createClient(client);
      return { client, token: `${id}.${secret}` };
    },

    async authenticateClient(token) {
      if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return null;
      const dot = token.indexOf('.');
      if (dot <= 0) return null;
      const id = token.slice(0, dot);
      const secret = token.slice(dot + 1);
      if (!SAFE_ID.test(id) || secret.length === 0) return null;
      const client = await ctx.storage.getClient(id);
      // Hash even when there is no client, so timing doesn't tell which ids exist.
      const given = Buffer.from(sha256Hex(secret), 'hex');
      const stored = Buffer.from(client?.tokenHash ?? '', 'hex');
      if (!client || stored.length !== given.length) return null;
      return timingSafeEqual(given, stored) ? client : null;
    },

    async ensureClient(id, profile = {}) {
      requireId(id, 'client id');
      const wanted = profileOf(profile);
      const existing = await ctx.storage.getClient(id);
      if (existing) return existing;
      // Nobody knows this secret: an embedder-mapped client authenticates through the embedder.
      const client: Client = {
        id,
        tokenHash: sha256Hex(newSecret()),
        ...wanted,
        createdAt: ctx.clock.now(),
      };
      try {
        await ctx.storage.createClient(client);
        return client;
      } catch (error) {
        // Two concurrent ensureClient calls for one id: the other one created it.
        const raced = await ctx.storage.getClient(id);
        if (raced) return raced;
        throw error;
      }
    },

    async requireClient(clientId) {
      const client =
        typeof clientId === 'string' && SAFE_ID.test(clientId)
          ? await ctx.storage.getClient(clientId)
          : null;
      if (!client) throw new CaChatError('unauthorized', 'unknown client');
      return client;
    },
  };
}
