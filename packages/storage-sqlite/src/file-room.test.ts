import { describe, expect, it } from 'vitest';
import { allocateRoom, openWithRoom, pagesInFile } from './file-room.js';
import { loadSqlJs } from './sql-js.js';

/** Grows a database by a few hundred pages, committing as the storage does. */
function grow(db: import('sql.js').Database): void {
  db.run('CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body TEXT)');
  const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
  db.run('BEGIN');
  for (let i = 0; i < 2000; i++) insert.run(['x'.repeat(500)]);
  db.run('COMMIT');
  insert.free();
}

/** The bytes of a database file grown by `grow`, made in sql.js's own memory. */
function grownFile(SQL: import('sql.js').SqlJsStatic): Uint8Array {
  const source = new SQL.Database();
  grow(source);
  const bytes = source.export();
  source.close();
  return bytes;
}

const pageCount = (db: import('sql.js').Database): number =>
  Number(db.exec('PRAGMA page_count')[0]!.values[0]![0]);

describe('file room', () => {
  it('a new database lives in the reserved array: it grows inside it, never into a copy', async () => {
    const SQL = await loadSqlJs();
    const room = allocateRoom(64 * 1024 * 1024)!;
    const { db, file } = openWithRoom(SQL, null, room);
    try {
      expect(file).toBe(room);
      grow(db);
      expect(pageCount(db)).toBeGreaterThan(100);
      // The header in our array records every page SQLite has: it is the live file.
      expect(pagesInFile(room)).toBe(pageCount(db));
    } finally {
      db.close();
    }
  });

  it('a file read straight into the room is opened where it lies, with its rows', async () => {
    const SQL = await loadSqlJs();
    const bytes = grownFile(SQL);
    const room = allocateRoom(32 * 1024 * 1024)!;
    room.set(bytes);
    const { db, file } = openWithRoom(SQL, room.subarray(0, bytes.length), room);
    try {
      expect(file).toBe(room);
      expect(db.exec('SELECT count(*) FROM t')[0]!.values).toEqual([[2000]]);
      grow(db);
      expect(pagesInFile(room)).toBe(pageCount(db));
    } finally {
      db.close();
    }
  });

  it('without room (too small to hold the file) sql.js keeps the file its own way', async () => {
    const SQL = await loadSqlJs();
    const bytes = grownFile(SQL);
    const { db, file } = openWithRoom(SQL, bytes, allocateRoom(1024));
    try {
      expect(file).toBeNull();
      expect(db.exec('SELECT count(*) FROM t')[0]!.values).toEqual([[2000]]);
    } finally {
      db.close();
    }
  });
});
