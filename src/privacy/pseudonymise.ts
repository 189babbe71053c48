import { createHmac } from 'node:crypto';

/**
 * Chat author ids are personal data (design §10): they are replaced by a keyed hash on arrival, before
 * anything else (enrichment, Redis, output topics, logs) sees them. HMAC-SHA256 with a secret key
 * (config privacy.authorKey, from env or file) so that pseudonyms cannot be reversed by hashing
 * guessed ids; the same id always maps to the same pseudonym under one key, so per-author grouping
 * still works. The output is the first 128 bits as lower-case hex (32 chars): collisions are
 * negligible at any realistic author count and the value stays short in records.
 */
export const PSEUDONYM_HEX_CHARS = 32;

export class AuthorPseudonymiser {
  private readonly key: Buffer;

  constructor(key: string | Buffer) {
    const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
    // A short key makes the HMAC guessable; 16 bytes is the floor NIST SP 800-107 suggests for HMAC keys.
    if (bytes.length < 16) throw new Error('privacy.authorKey must be at least 16 bytes long');
    this.key = Buffer.from(bytes);
  }

  pseudonymise(authorId: string): string {
    return createHmac('sha256', this.key)
      .update(authorId, 'utf8')
      .digest('hex')
      .slice(0, PSEUDONYM_HEX_CHARS);
  }
}
