// Pseudonym key ids, the dual-key rotation window and PER entity pseudonyms (src/privacy/pseudonymise.ts,
// src/pipeline/enriched-output.ts; docs/security.md "Pseudonym keys and rotation").
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Enrichment } from '../../../src/domain/enrichment.js';
import { withPersonsPseudonymised } from '../../../src/pipeline/enriched-output.js';
import { AuthorPseudonymiser, pseudonymKeyId } from '../../../src/privacy/pseudonymise.js';

const OLD = 'old-author-key-0123456789abcdef';
const NEW = 'new-author-key-fedcba9876543210';
const hex = (key: string, value: string) =>
  createHmac('sha256', key).update(value, 'utf8').digest('hex').slice(0, 32);

describe('author pseudonyms', () => {
  it('keeps the bare-hex format without a key id (pseudonyms made before key ids do not change)', () => {
    expect(new AuthorPseudonymiser(OLD).pseudonymise('alice.pii@example.com')).toBe(
      hex(OLD, 'alice.pii@example.com'),
    );
  });

  it('carries the key id: a rotation never changes pseudonyms silently', () => {
    const p = new AuthorPseudonymiser({ current: { id: 'k2', key: NEW } });
    const alias = p.pseudonymise('alice');
    expect(alias).toBe(`k2:${hex(NEW, 'alice')}`);
    expect(pseudonymKeyId(alias)).toBe('k2');
    expect(pseudonymKeyId(hex(NEW, 'alice'))).toBe('');
  });

  it('switches from the previous key to the new one at the rotation instant, on every replica alike', () => {
    let now = 1_000;
    const keys = {
      current: { id: 'k2', key: NEW },
      previous: { id: 'k1', key: OLD },
      rotateAtMs: 2_000,
      now: () => now,
    };
    const replicaA = new AuthorPseudonymiser(keys);
    const replicaB = new AuthorPseudonymiser({ ...keys });
    expect(replicaA.pseudonymise('bob')).toBe(`k1:${hex(OLD, 'bob')}`);
    expect(replicaB.pseudonymise('bob')).toBe(replicaA.pseudonymise('bob'));
    now = 2_000;
    expect(replicaA.pseudonymise('bob')).toBe(`k2:${hex(NEW, 'bob')}`);
    // Both sides of the rotation, to link an author's history across it.
    expect(replicaA.pseudonymsOf('bob')).toEqual([`k2:${hex(NEW, 'bob')}`, `k1:${hex(OLD, 'bob')}`]);
  });

  it('refuses short keys, bad key ids and two keys with one id', () => {
    expect(() => new AuthorPseudonymiser('short')).toThrow(/16 bytes/);
    expect(() => new AuthorPseudonymiser({ current: { id: 'k:1', key: NEW } })).toThrow(/key id/);
    expect(
      () => new AuthorPseudonymiser({ current: { id: 'k1', key: NEW }, previous: { id: 'k1', key: OLD } }),
    ).toThrow(/different key ids/);
  });

  it('person pseudonyms are domain-separated from author pseudonyms', () => {
    const p = new AuthorPseudonymiser({ current: { id: 'k2', key: NEW } });
    expect(p.person('jane doe')).not.toBe(p.pseudonymise('jane doe'));
    expect(p.person('jane doe')).toMatch(/^k2:[0-9a-f]{32}$/);
  });
});

describe('PER entities on the enriched topic', () => {
  const enrichment = {
    entities: [
      { type: 'PER', text: 'Jane Doe', normalized: 'jane doe', start: 0, end: 8, score: 0.9 },
      { type: 'ORG', text: 'Acme', normalized: 'acme', start: 14, end: 18, score: 0.95 },
    ],
  } as unknown as Enrichment;

  it('replaces the text of PER entities only, when asked', () => {
    const p = new AuthorPseudonymiser({ current: { id: 'k2', key: NEW } });
    const out = withPersonsPseudonymised(enrichment, (n) => p.person(n));
    expect(out.entities[0]).toMatchObject({ type: 'PER', text: p.person('jane doe'), start: 0, end: 8 });
    expect(JSON.stringify(out)).not.toContain('Jane');
    expect(out.entities[1]).toEqual(enrichment.entities[1]);
    expect(withPersonsPseudonymised(enrichment, undefined)).toBe(enrichment);
  });
});
