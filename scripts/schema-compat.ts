// `npm run schemas:check`: every schemas/*.avsc BACKWARD and FORWARD compatible with the previous
// release's (schemas/released/); exits 1 naming each incompatible pair (docs/schemas.md).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkSchemaDir } from '../src/tools/schemas/compat.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const results = checkSchemaDir(path.join(root, 'schemas'));
for (const r of results)
  process.stdout.write(
    `${r.accepted ? 'BREAK' : r.ok ? 'ok  ' : 'FAIL'} ${r.direction.padEnd(8)} ${r.schema}${r.problem ? `: ${r.problem}` : ''}${r.accepted ? ` (accepted: ${r.accepted})` : ''}\n`,
  );
const failed = results.filter((r) => !r.ok);
if (failed.length > 0) {
  process.stderr.write(`schemas: ${failed.length} incompatible change(s) against schemas/released/\n`);
  process.exit(1);
}
