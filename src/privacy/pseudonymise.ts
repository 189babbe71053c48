import { createHmac } from 'node:crypto';

/**
 * Chat author ids are personal data (design §10): they are replaced by a keyed hash on arrival, before
 * anything else (enrichment, Redis, output topics, logs) sees them. HMAC-SHA256 with a secret key
 * (config privacy.authorKey, from env or file) so that pseudonyms cannot be reversed by hashing
 * guessed ids; the same id always maps to the same pseudonym under one key, so per-author grouping
 * still works. The output is the first 128 bits as lower-case hex (32 chars): collisions are
 * negligible at any realistic author count and the value stays short in records.
 *
 * Key ids and rotation (docs/security.md "Pseudonym keys and rotation"): with a key id
 * (privacy.authorKeyId) a pseudonym reads `<keyId>:<32 hex>`, so a reader knows which key made it and
 * a rotation never changes pseudonyms silently; without one it stays the bare 32 hex (the format
 * before key ids). A rotation window configures the new key and the previous one with the instant the
 * new one takes over (privacy.rotateAt): every replica switches at that instant whatever order they
 * were redeployed in; before it they all keep the previous key. `pseudonymsOf` gives an id's
 * pseudonym under each configured key, to link the two sides of a rotation.
 */
export const PSEUDONYM_HEX_CHARS = 32;

export interface PseudonymKey {
  /** Key id carried in the pseudonym ('' = none: the bare-hex format). */
  id: string;
  key: string | Buffer;
}

export interface PseudonymKeys {
  current: PseudonymKey;
  /** The key in use before a rotation; active until `rotateAtMs`. */
  previous?: PseudonymKey;
  /** When `current` takes over from `previous` (epoch ms, wall clock). */
  rotateAtMs?: number;
  now?: () => number;
}

const KEY_ID = /^[A-Za-z0-9_-]{1,16}$/;

function keyBytes(key: string | Buffer): Buffer {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : Buffer.from(key);
  // A short key makes the HMAC guessable; 16 bytes is the floor NIST SP 800-107 suggests for HMAC keys.
  if (bytes.length < 16) throw new Error('privacy.authorKey must be at least 16 bytes long');
  return bytes;
}

class KeyedHash {
  readonly id: string;
  private readonly key: Buffer;

  constructor({ id, key }: PseudonymKey) {
    if (id !== '' && !KEY_ID.test(id))
      throw new Error(`invalid pseudonym key id "${id}" (1-16 of A-Z a-z 0-9 _ -)`);
    this.id = id;
    this.key = keyBytes(key);
  }

  /** `domain` separates uses of one key (author ids, person names) so their pseudonyms never coincide. */
  hash(value: string, domain = ''): string {
    const h = createHmac('sha256', this.key);
    if (domain) h.update(`${domain}\u0000`, 'utf8');
    const hex = h.update(value, 'utf8').digest('hex').slice(0, PSEUDONYM_HEX_CHARS);
    return this.id ? `${this.id}:${hex}` : hex;
  }
}

export class AuthorPseudonymiser {
  private readonly current: KeyedHash;
  private readonly previous: KeyedHash | null;
  private readonly rotateAtMs: number;
  private readonly now: () => number;

  constructor(keys: string | Buffer | PseudonymKeys) {
    const k: PseudonymKeys =
      typeof keys === 'string' || Buffer.isBuffer(keys) ? { current: { id: '', key: keys } } : keys;
    this.current = new KeyedHash(k.current);
    this.previous = k.previous ? new KeyedHash(k.previous) : null;
    if (this.previous && this.previous.id === this.current.id)
      throw new Error('privacy: the previous and the current author key need different key ids');
    this.rotateAtMs = k.rotateAtMs ?? 0;
    this.now = k.now ?? Date.now;
  }

  /** The key pseudonyms are made with now: the previous one until the rotation instant. */
  private active(): KeyedHash {
    return this.previous && this.now() < this.rotateAtMs ? this.previous : this.current;
  }

  pseudonymise(authorId: string): string {
    return this.active().hash(authorId);
  }

  /** A person's name (a PER entity) as a pseudonym, domain-separated from author ids. */
  person(name: string): string {
    return this.active().hash(name.normalize('NFC'), 'PER');
  }

  /** The id's pseudonym under every configured key, current first (joins across a rotation). */
  pseudonymsOf(authorId: string): string[] {
    return [this.current, ...(this.previous ? [this.previous] : [])].map((k) => k.hash(authorId));
  }
}

/** The key id of a pseudonym (`<keyId>:<hex>`); '' for the bare-hex format. */
export function pseudonymKeyId(pseudonym: string): string {
  const colon = pseudonym.indexOf(':');
  return colon > 0 ? pseudonym.slice(0, colon) : '';
}
