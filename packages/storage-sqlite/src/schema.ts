/**
 * The schema, as numbered migrations. `PRAGMA user_version` holds the number of the last
 * one applied; a database with a higher number was written by a newer ca-chat and is
 * refused (`schema_too_new`) rather than guessed at. Never edit a released migration:
 * append a new one.
 */
export interface Migration {
  version: number;
  statements: readonly string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    statements: [
      `CREATE TABLE cas (
        id TEXT PRIMARY KEY,
        channel TEXT NOT NULL,
        external_id TEXT NOT NULL,
        address TEXT NOT NULL,
        name TEXT NOT NULL,
        membership_no TEXT NOT NULL,
        languages TEXT NOT NULL, -- JSON array of language tags
        topics TEXT NOT NULL,    -- JSON array
        approval TEXT NOT NULL,
        status TEXT NOT NULL,
        max_chats INTEGER NOT NULL,
        last_assigned_at INTEGER,
        registered_at INTEGER NOT NULL,
        UNIQUE (channel, external_id)
      )`,
      `CREATE INDEX cas_approval_status ON cas (approval, status)`,
      `CREATE TABLE invites (
        code_hash TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        used_at INTEGER,
        used_by TEXT
      )`,
      `CREATE TABLE clients (
        id TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL,
        name TEXT,
        language TEXT,
        created_at INTEGER NOT NULL
      )`,
      `CREATE TABLE chats (
        id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        ca_id TEXT,
        language TEXT NOT NULL,
        topic TEXT,
        state TEXT NOT NULL,
        end_reason TEXT,
        created_at INTEGER NOT NULL,
        matched_at INTEGER,
        ended_at INTEGER
      )`,
      `CREATE INDEX chats_created ON chats (created_at, id)`,
      `CREATE INDEX chats_state ON chats (state, created_at, id)`,
      `CREATE INDEX chats_language ON chats (language, state, created_at, id)`,
      `CREATE INDEX chats_client ON chats (client_id, created_at, id)`,
      `CREATE INDEX chats_ca ON chats (ca_id, state, created_at, id)`,
      `CREATE INDEX chats_ended_at ON chats (ended_at) WHERE ended_at IS NOT NULL`,
      `CREATE TABLE messages (
        chat_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        from_party TEXT NOT NULL,
        text TEXT,
        file_id TEXT,
        file_name TEXT,
        file_mime TEXT,
        file_size INTEGER,
        file_sha256 TEXT,
        created_at INTEGER NOT NULL,
        idempotency_key TEXT,
        delivery_state TEXT NOT NULL,
        peer_message_id TEXT,
        attempts INTEGER NOT NULL,
        next_attempt_at INTEGER,
        delivery_error TEXT,
        PRIMARY KEY (chat_id, seq)
      )`,
      `CREATE UNIQUE INDEX messages_idempotency ON messages (chat_id, from_party, idempotency_key)
        WHERE idempotency_key IS NOT NULL`,
      // The outbox: only pending rows, already in delivery order.
      `CREATE INDEX messages_pending ON messages (chat_id, seq) WHERE delivery_state = 'pending'`,
      `CREATE TABLE offers (
        chat_id TEXT NOT NULL,
        ca_id TEXT NOT NULL,
        ref TEXT,
        state TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        closed_at INTEGER,
        PRIMARY KEY (chat_id, ca_id)
      )`,
      `CREATE INDEX offers_ca ON offers (ca_id, state)`,
      `CREATE INDEX offers_state ON offers (state)`,
      `CREATE TABLE files (
        id TEXT PRIMARY KEY,
        chat_id TEXT NOT NULL,
        from_party TEXT NOT NULL,
        name TEXT NOT NULL,
        mime TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        created_at INTEGER NOT NULL
      )`,
      `CREATE INDEX files_chat ON files (chat_id)`,
      `CREATE TABLE kv (
        namespace TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL, -- JSON
        PRIMARY KEY (namespace, key)
      )`,
      // Bookkeeping of the persistence layer (which journal segments a snapshot covers).
      `CREATE TABLE ca_chat_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
    ],
  },
];

export const SCHEMA_VERSION: number = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Meta key: the last journal segment folded into this snapshot. */
export const META_SNAPSHOT_SEGMENT = 'snapshot_segment';
