// Renders a k8s/overlays/<name> overlay the way users do: `kubectl kustomize` when kubectl is
// installed, else kustomize (scripts/tools/ensure-kustomize.sh puts a pinned one into .stack/bin;
// the README's test command runs it on machines without kubectl).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from './finsentry-cli.js';

function renderer(): string[] {
  if (spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0)
    return ['kubectl', 'kustomize'];
  const local = path.join(repoRoot, '.stack/bin/kustomize');
  if (existsSync(local)) return [local, 'build'];
  if (spawnSync('kustomize', ['version'], { encoding: 'utf8' }).status === 0) return ['kustomize', 'build'];
  throw new Error(
    'no kustomize renderer: run scripts/tools/ensure-kustomize.sh (installs a pinned kustomize into .stack/bin) or install kubectl',
  );
}

/** The objects an overlay renders to, parsed. */
export function renderOverlay<T>(overlay: string): T[] {
  const [bin, ...args] = renderer();
  const res = spawnSync(bin!, [...args, path.join(repoRoot, 'k8s/overlays', overlay)], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`${bin} ${args.join(' ')} ${overlay} failed: ${res.stderr}`);
  return parseAllDocuments(res.stdout).map((d) => d.toJS() as T);
}
