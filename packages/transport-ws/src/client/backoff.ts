export interface ReconnectOptions {
  /** First delay after a connection drops. Default 500 ms. */
  initialDelayMs?: number;
  /** Longest delay between attempts. Default 30 s. */
  maxDelayMs?: number;
}

/**
 * Delay before reconnect attempt `attempt` (0-based): exponential, capped, with "equal
 * jitter" (half fixed, half random) so a server restart is not hit by every client at once.
 */
export function reconnectDelayMs(
  attempt: number,
  options: ReconnectOptions = {},
  random: () => number = Math.random,
): number {
  const initial = options.initialDelayMs ?? 500;
  const max = options.maxDelayMs ?? 30_000;
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
