/** Where the SDK keeps the client's token between page loads. */
export interface TokenStore {
  load(): string | null | Promise<string | null>;
  save(token: string | null): void | Promise<void>;
}

/** A TokenStore on `localStorage` (browsers); falls back to memory where storage is unavailable. */
export function localStorageTokenStore(key = 'ca-chat.token'): TokenStore {
  let memory: string | null = null;
  const storage = (): Storage | null => {
    try {
      return (globalThis as { localStorage?: Storage }).localStorage ?? null;
    } catch {
      // Some browsers throw on access when storage is disabled.
      return null;
    }
  };
  return {
    load() {
      try {
        return storage()?.getItem(key) ?? memory;
      } catch {
        return memory;
      }
    },
    save(token) {
      memory = token;
      try {
        if (token === null) storage()?.removeItem(key);
        else storage()?.setItem(key, token);
      } catch {
        // Quota or privacy mode: the in-memory copy still serves this page.
      }
    },
  };
}

export function memoryTokenStore(initial: string | null = null): TokenStore {
  let token = initial;
  return {
    load: () => token,
    save(next) {
      token = next;
    },
  };
}
