import { CaChatError, type CA, type Client, type Invite } from '@ca-chat/core';
import type { CAFilter, CAPatch, ClientPatch } from '@ca-chat/core';
import type { SqlParam } from './journal-format.js';
import {
  CA_COLUMNS,
  CLIENT_COLUMNS,
  caFromRow,
  caParams,
  clientFromRow,
  placeholders,
} from './rows.js';
import type { SqlReader, SqlWriter } from './sql-database.js';

// CAs, invites and clients. SQL texts are built once: the statement cache is keyed by them.

const INSERT_CA = `INSERT INTO cas (${CA_COLUMNS}) VALUES (${placeholders(13)})`;
const SELECT_CA = `SELECT ${CA_COLUMNS} FROM cas WHERE id = ?`;
const SELECT_CA_BY_EXTERNAL_ID = `SELECT ${CA_COLUMNS} FROM cas WHERE channel = ? AND external_id = ?`;
const INSERT_CLIENT = `INSERT INTO clients (${CLIENT_COLUMNS}) VALUES (?, ?, ?, ?, ?)`;
const SELECT_CLIENT = `SELECT ${CLIENT_COLUMNS} FROM clients WHERE id = ?`;

export function createCA(w: SqlWriter, ca: CA): void {
  if (w.get('SELECT 1 FROM cas WHERE id = ?', [ca.id])) {
    throw new CaChatError('storage_error', `CA ${ca.id} already exists`);
  }
  if (
    w.get('SELECT 1 FROM cas WHERE channel = ? AND external_id = ?', [ca.channel, ca.externalId])
  ) {
    throw new CaChatError(
      'ca_already_registered',
      `a CA with ${ca.channel} id ${ca.externalId} already exists`,
    );
  }
  w.run(INSERT_CA, caParams(ca));
}

export function getCA(r: SqlReader, id: string): CA | null {
  const row = r.get(SELECT_CA, [id]);
  return row ? caFromRow(row) : null;
}

export function getCAByExternalId(r: SqlReader, channel: string, externalId: string): CA | null {
  const row = r.get(SELECT_CA_BY_EXTERNAL_ID, [channel, externalId]);
  return row ? caFromRow(row) : null;
}

/** Only these fields may change; anything else in a patch (an id, say) is ignored. */
const CA_PATCH_KEYS = [
  'address',
  'name',
  'membershipNo',
  'languages',
  'topics',
  'approval',
  'status',
  'maxChats',
  'lastAssignedAt',
] as const satisfies readonly (keyof CAPatch)[];

export function updateCA(w: SqlWriter, id: string, patch: CAPatch): CA | null {
  const current = getCA(w, id);
  if (!current) return null;
  const next: CA = { ...current };
  for (const key of CA_PATCH_KEYS) {
    if (patch[key] !== undefined) (next as unknown as Record<string, unknown>)[key] = patch[key];
  }
  const [, , , ...rest] = caParams(next);
  // Rewrites every mutable column with one cached statement instead of one per patch shape.
  w.run(
    `UPDATE cas SET address = ?, name = ?, membership_no = ?, languages = ?, topics = ?, approval = ?, status = ?,
       max_chats = ?, last_assigned_at = ? WHERE id = ?`,
    [...rest.slice(0, 9), id],
  );
  return getCA(w, id);
}

export function listCAs(r: SqlReader, filter: CAFilter = {}): CA[] {
  const where: string[] = [];
  const params: SqlParam[] = [];
  const add = (condition: string, value: SqlParam): void => {
    where.push(condition);
    params.push(value);
  };
  if (filter.approval) add('approval = ?', filter.approval);
  if (filter.status) add('status = ?', filter.status);
  if (filter.channel) add('channel = ?', filter.channel);
  // CAs are few; the (approval, status) index narrows the scan before json_each runs.
  if (filter.language)
    add(
      'EXISTS (SELECT 1 FROM json_each(cas.languages) WHERE json_each.value = ?)',
      filter.language,
    );
  const sql = `SELECT ${CA_COLUMNS} FROM cas${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY registered_at, id`;
  return r.all(sql, params).map(caFromRow);
}

export function createInvite(w: SqlWriter, invite: Invite): void {
  if (w.get('SELECT 1 FROM invites WHERE code_hash = ?', [invite.codeHash])) {
    throw new CaChatError('storage_error', 'invite already exists');
  }
  w.run(
    'INSERT INTO invites (code_hash, created_at, expires_at, used_at, used_by) VALUES (?, ?, ?, ?, ?)',
    [invite.codeHash, invite.createdAt, invite.expiresAt, invite.usedAt, invite.usedBy],
  );
}

export function useInvite(w: SqlWriter, codeHash: string, usedBy: string, now: number): boolean {
  const changed = w.run(
    `UPDATE invites SET used_at = ?, used_by = ?
     WHERE code_hash = ? AND used_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`,
    [now, usedBy, codeHash, now],
  );
  return changed === 1;
}

export function createClient(w: SqlWriter, client: Client): void {
  if (w.get('SELECT 1 FROM clients WHERE id = ?', [client.id])) {
    throw new CaChatError('storage_error', `client ${client.id} already exists`);
  }
  w.run(INSERT_CLIENT, [
    client.id,
    client.tokenHash,
    client.name,
    client.language,
    client.createdAt,
  ]);
}

export function getClient(r: SqlReader, id: string): Client | null {
  const row = r.get(SELECT_CLIENT, [id]);
  return row ? clientFromRow(row) : null;
}

export function updateClient(w: SqlWriter, id: string, patch: ClientPatch): Client | null {
  const current = getClient(w, id);
  if (!current) return null;
  const next: Client = {
    ...current,
    ...(patch.name !== undefined ? { name: patch.name } : {}),
    ...(patch.language !== undefined ? { language: patch.language } : {}),
    ...(patch.tokenHash !== undefined ? { tokenHash: patch.tokenHash } : {}),
  };
  w.run('UPDATE clients SET token_hash = ?, name = ?, language = ? WHERE id = ?', [
    next.tokenHash,
    next.name,
    next.language,
    id,
  ]);
  return next;
}
