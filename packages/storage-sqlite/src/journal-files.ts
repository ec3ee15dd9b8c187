import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

// File names around a database file `<file>`:
//   <file>                    the snapshot: a real SQLite database
//   <file>-journal-000042     journal segments, replayed in number order after the snapshot
//   <file>.snapshot-tmp       a snapshot being written at close (renamed over <file> when complete)
//   <file>.snapshot-tmp-<pid> one being written by snapshot process <pid>
//   <file>.lock               the pid of the process that has it open
// Segments are not called `<file>-journal`: that is SQLite's own rollback-journal name, and
// the sqlite3 shell would treat our file as a hot journal when opening the snapshot.

export const segmentPath = (file: string, segment: number): string =>
  `${file}-journal-${String(segment).padStart(6, '0')}`;
export const snapshotTempPath = (file: string): string => `${file}.snapshot-tmp`;
export const lockPath = (file: string): string => `${file}.lock`;

/** Journal segment numbers present beside `file`, ascending. */
export async function listSegments(file: string): Promise<number[]> {
  const prefix = `${basename(file)}-journal-`;
  const names = await readdir(dirname(file));
  return names
    .filter((name) => name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length)))
    .map((name) => Number(name.slice(prefix.length)))
    .sort((a, b) => a - b);
}

/** Snapshots left half-written by a crash (this process's or a snapshot process's). */
export async function listSnapshotTemps(file: string): Promise<string[]> {
  const prefix = `${basename(file)}.snapshot-tmp`;
  const names = await readdir(dirname(file));
  return names
    .filter((name) => name === prefix || /^-\d+$/.test(name.slice(prefix.length)))
    .filter((name) => name.startsWith(prefix))
    .map((name) => join(dirname(file), name));
}
