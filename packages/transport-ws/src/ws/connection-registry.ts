import type { Connection } from './connection.js';

/**
 * Live connections by client (one per browser tab). The relay only hears about the 0 → 1
 * and 1 → 0 transitions, which is what its grace period cares about.
 */
export class ConnectionRegistry {
  /** A client's connection, or a Set once it has several (most clients have one tab). */
  private readonly byClient = new Map<string, Connection | Set<Connection>>();
  /** Every open socket, identified or not (for stop() and the heartbeat). */
  readonly all = new Set<Connection>();

  constructor(
    private readonly onFirst: (clientId: string) => void,
    private readonly onLast: (clientId: string) => void,
  ) {}

  count(clientId: string): number {
    const entry = this.byClient.get(clientId);
    if (entry === undefined) return 0;
    return entry instanceof Set ? entry.size : 1;
  }

  /** Connections of the client (a snapshot, safe to iterate while connections close). */
  of(clientId: string): Connection[] {
    const entry = this.byClient.get(clientId);
    if (entry === undefined) return [];
    return entry instanceof Set ? [...entry] : [entry];
  }

  get clientCount(): number {
    return this.byClient.size;
  }

  bind(connection: Connection, clientId: string): void {
    connection.clientId = clientId;
    const entry = this.byClient.get(clientId);
    if (entry === undefined) {
      this.byClient.set(clientId, connection);
      this.onFirst(clientId);
    } else if (entry instanceof Set) {
      entry.add(connection);
    } else if (entry !== connection) {
      this.byClient.set(clientId, new Set([entry, connection]));
    }
  }

  remove(connection: Connection): void {
    this.all.delete(connection);
    const clientId = connection.clientId;
    if (clientId === null) return;
    const entry = this.byClient.get(clientId);
    if (entry === connection) {
      this.byClient.delete(clientId);
      this.onLast(clientId);
    } else if (entry instanceof Set && entry.delete(connection)) {
      if (entry.size === 1) this.byClient.set(clientId, entry.values().next().value!);
    }
  }
}
