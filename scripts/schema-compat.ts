// `npm run schemas:check`: every schemas/*.avsc BACKWARD and FORWARD compatible with the previous
// release's (schemas/released/), by avsc's resolver; with `-- --registry URL` (a Confluent API base
// URL) also by that registry's compatibility API, which must agree. Exits 1 naming each incompatible
// pair or disagreement (docs/schemas.md).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfluentRegistryClient } from '../src/io/http/schema-registry.js';
import type { CompatResult } from '../src/tools/schemas/compat.js';
import { checkSchemaDir } from '../src/tools/schemas/compat.js';
import { checkWithRegistry } from '../src/tools/schemas/registry-compat.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const schemasDir = path.join(root, 'schemas');

function print(by: string, results: CompatResult[]): number {
  for (const r of results)
    process.stdout.write(
      `${r.accepted ? 'BREAK' : r.ok ? 'ok  ' : 'FAIL'} ${r.direction.padEnd(8)} ${r.schema}${r.problem ? `: ${r.problem}` : ''}${r.accepted ? ` (accepted: ${r.accepted})` : ''} [${by}]\n`,
    );
  return results.filter((r) => !r.ok).length;
}

const local = checkSchemaDir(schemasDir);
let failed = print('avsc', local);
const at = process.argv.indexOf('--registry');
if (at > 0) {
  const url = process.argv[at + 1];
  if (!url) throw new Error('--registry needs the registry URL (its Confluent API base)');
  const client = new ConfluentRegistryClient({ url, timeoutMs: 10_000 });
  const remote = await checkWithRegistry(client, schemasDir, `finsentry-compat-${process.pid}`);
  failed += print(url, remote);
  const key = (r: CompatResult) => `${r.schema} ${r.direction}`;
  const verdict = new Map(local.map((r) => [key(r), r.problem === undefined]));
  for (const r of remote)
    if (verdict.get(key(r)) !== (r.problem === undefined)) {
      process.stderr.write(`schemas: avsc and the registry disagree on ${key(r)}\n`);
      failed++;
    }
}
if (failed > 0) {
  process.stderr.write(
    `schemas: ${failed} incompatible change(s) or disagreement(s) against schemas/released/\n`,
  );
  process.exit(1);
}
