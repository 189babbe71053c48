import { createHash, type Hash } from 'node:crypto';
import {
  copyFileSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * `finsentry models pull`: download a model from the Hugging Face Hub by repo id, with the Hub's
 * own integrity data. The Hub answers `GET {endpoint}/{repo}/resolve/{revision}/{file}`; for LFS
 * files (the ONNX weights) the response carries `X-Linked-Etag: "<sha256>"` (and usually redirects
 * to a CDN), for small git files `ETag: "<git blob sha1>"`. Both are verified. Blobs are cached by
 * etag under `{cache}/models--{owner}--{name}/blobs/` (as huggingface_hub does), so a second pull
 * of the same revision downloads nothing.
 */

export interface PullOptions {
  repo: string;
  out: string;
  revision?: string;
  /** Default: HF_ENDPOINT or https://huggingface.co */
  endpoint?: string;
  /** Default: FINSENTRY_HUB_CACHE or ~/.cache/finsentry/hub */
  cache?: string;
  /** Bearer token; default HF_TOKEN. */
  token?: string;
  fetchImpl?: typeof fetch;
  log?: (line: string) => void;
}

export interface PulledFile {
  file: string;
  bytes: number;
  /** The verified digest: sha256 for LFS files, git blob sha1 otherwise. */
  digest: string;
  algorithm: 'sha256' | 'git-sha1' | 'none';
  cached: boolean;
}

export interface PullResult {
  dir: string;
  commit: string | undefined;
  files: PulledFile[];
}

export class HubError extends Error {
  override name = 'HubError';
}

const REQUIRED = ['config.json', 'tokenizer.json'];
const OPTIONAL = ['tokenizer_config.json', 'special_tokens_map.json'];
/** First one found is downloaded (Optimum exports put it under onnx/). */
const ONNX_FILES = ['onnx/model.onnx', 'model.onnx', 'onnx/model_quantized.onnx', 'model_quantized.onnx'];

interface Remote {
  url: string;
  etag: string | undefined;
  linkedEtag: string | undefined;
  commit: string | undefined;
}

const unquote = (v: string | null): string | undefined =>
  v ? v.replace(/^W\//, '').replace(/^"|"$/g, '') : undefined;

export function gitBlobSha1(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

/** One pull's settings: where from, with which credentials, and where the files and the blob cache go. */
interface HubSession {
  repo: string;
  revision: string;
  out: string;
  repoCache: string;
  headers: Record<string, string>;
  doFetch: typeof fetch;
  log: (line: string) => void;
  resolveUrl: (file: string) => string;
}

function hubSession(options: PullOptions): HubSession {
  if (!/^[\w.-]+(\/[\w.-]+)?$/.test(options.repo))
    throw new HubError(`invalid repo id "${options.repo}" (expected owner/name)`);
  const endpoint = (options.endpoint ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(
    /\/+$/,
    '',
  );
  const revision = options.revision ?? 'main';
  const cacheRoot =
    options.cache ?? process.env.FINSENTRY_HUB_CACHE ?? join(homedir(), '.cache', 'finsentry', 'hub');
  const token = options.token ?? process.env.HF_TOKEN;
  return {
    repo: options.repo,
    revision,
    out: options.out,
    repoCache: join(cacheRoot, `models--${options.repo.replace('/', '--')}`),
    headers: { 'user-agent': 'finsentry', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    doFetch: options.fetchImpl ?? fetch,
    log: options.log ?? (() => undefined),
    resolveUrl: (file) => `${endpoint}/${options.repo}/resolve/${encodeURIComponent(revision)}/${file}`,
  };
}

/** HEAD without following redirects, to read the Hub's etag headers; undefined when the file is absent. */
async function head(hub: HubSession, file: string): Promise<Remote | undefined> {
  const url = hub.resolveUrl(file);
  const res = await hub.doFetch(url, { method: 'HEAD', headers: hub.headers, redirect: 'manual' });
  if (res.status === 404) return undefined;
  if (res.status === 401 || res.status === 403)
    throw new HubError(`${url}: HTTP ${res.status} (private or gated repo? set HF_TOKEN)`);
  if (res.status >= 400) throw new HubError(`${url}: HTTP ${res.status}`);
  return {
    url,
    etag: unquote(res.headers.get('etag')),
    linkedEtag: unquote(res.headers.get('x-linked-etag')),
    commit: res.headers.get('x-repo-commit') ?? undefined,
  };
}

/**
 * Downloads one file into the output directory, verified against the Hub's etag: `X-Linked-Etag`
 * (sha256) for LFS files, the git blob sha1 `ETag` for small ones; a verified blob is cached by etag.
 */
async function download(hub: HubSession, file: string, remote: Remote): Promise<PulledFile> {
  const lfsSha = remote.linkedEtag && /^[0-9a-f]{64}$/.test(remote.linkedEtag) ? remote.linkedEtag : undefined;
  const gitSha = !lfsSha && remote.etag && /^[0-9a-f]{40}$/.test(remote.etag) ? remote.etag : undefined;
  const key = lfsSha ?? gitSha;
  const blob = key ? join(hub.repoCache, 'blobs', key) : undefined;
  const target = join(hub.out, file);
  mkdirSync(dirname(target), { recursive: true });
  if (blob && existsSync(blob)) {
    copyFileSync(blob, target);
    hub.log(`${file}: cached (${key})`);
    const bytes = readFileSync(blob).length;
    return { file, bytes, digest: key ?? '', algorithm: lfsSha ? 'sha256' : 'git-sha1', cached: true };
  }
  const res = await hub.doFetch(remote.url, { headers: hub.headers, redirect: 'follow' });
  if (!res.ok || !res.body) throw new HubError(`${remote.url}: HTTP ${res.status}`);
  const tmp = `${target}.part`;
  const sha256 = createHash('sha256');
  const chunks: Buffer[] = [];
  let bytes = 0;
  const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
  body.on('data', (chunk: Buffer) => {
    sha256.update(chunk);
    bytes += chunk.length;
    if (gitSha) chunks.push(chunk);
  });
  await pipeline(body, createWriteStream(tmp));
  const { digest, algorithm } = verify(hub, file, tmp, { lfsSha, gitSha, sha256, chunks });
  renameSync(tmp, target);
  if (blob) {
    mkdirSync(dirname(blob), { recursive: true });
    copyFileSync(target, blob);
  }
  hub.log(`${file}: ${bytes} bytes, ${algorithm} ${digest}`);
  return { file, bytes, digest, algorithm, cached: false };
}

/** Checks a downloaded file against the digest the Hub announced; removes it and throws on a mismatch. */
function verify(
  hub: HubSession,
  file: string,
  tmp: string,
  got: { lfsSha: string | undefined; gitSha: string | undefined; sha256: Hash; chunks: Buffer[] },
): { digest: string; algorithm: PulledFile['algorithm'] } {
  if (got.lfsSha) {
    const digest = got.sha256.digest('hex');
    if (digest !== got.lfsSha) {
      rmSync(tmp, { force: true });
      throw new HubError(`${file}: sha256 mismatch: Hub says ${got.lfsSha}, downloaded ${digest}`);
    }
    return { digest, algorithm: 'sha256' };
  }
  if (got.gitSha) {
    const digest = gitBlobSha1(Buffer.concat(got.chunks));
    if (digest !== got.gitSha) {
      rmSync(tmp, { force: true });
      throw new HubError(`${file}: git blob sha1 mismatch: Hub says ${got.gitSha}, downloaded ${digest}`);
    }
    return { digest, algorithm: 'git-sha1' };
  }
  hub.log(`${file}: the Hub sent no verifiable etag; stored unverified`);
  return { digest: '', algorithm: 'none' };
}

export async function pullModel(options: PullOptions): Promise<PullResult> {
  const hub = hubSession(options);
  const { repo, revision } = hub;
  mkdirSync(options.out, { recursive: true });
  const files: PulledFile[] = [];
  let commit: string | undefined;
  for (const file of REQUIRED) {
    const remote = await head(hub, file);
    if (!remote) throw new HubError(`${repo}@${revision} has no ${file}`);
    commit ??= remote.commit;
    files.push(await download(hub, file, remote));
  }
  for (const file of OPTIONAL) {
    const remote = await head(hub, file);
    if (remote) files.push(await download(hub, file, remote));
  }
  let onnx: PulledFile | undefined;
  for (const file of ONNX_FILES) {
    const remote = await head(hub, file);
    if (!remote) continue;
    // The engine looks for model.onnx / onnx/model.onnx alike; keep the Hub's path.
    onnx = await download(hub, file, remote);
    break;
  }
  if (!onnx)
    throw new HubError(`${repo}@${revision} has no ONNX export (looked for ${ONNX_FILES.join(', ')})`);
  files.push(onnx);
  if (commit) {
    mkdirSync(join(hub.repoCache, 'refs'), { recursive: true });
    writeFileSync(join(hub.repoCache, 'refs', revision.replace(/\//g, '_')), commit);
  }
  return { dir: options.out, commit, files };
}
