import { createHash } from 'node:crypto';
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
import { causeMessage } from '../../io/unreachable.js';

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

export async function pullModel(options: PullOptions): Promise<PullResult> {
  if (!/^[\w.-]+(\/[\w.-]+)?$/.test(options.repo))
    throw new HubError(`invalid repo id "${options.repo}" (expected owner/name)`);
  const endpoint = (options.endpoint ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(
    /\/+$/,
    '',
  );
  const revision = options.revision ?? 'main';
  const cacheRoot =
    options.cache ?? process.env.FINSENTRY_HUB_CACHE ?? join(homedir(), '.cache', 'finsentry', 'hub');
  const repoCache = join(cacheRoot, `models--${options.repo.replace('/', '--')}`);
  const token = options.token ?? process.env.HF_TOKEN;
  const rawFetch = options.fetchImpl ?? fetch;
  /** A network failure (no HTTP answer) names the URL and the setting, not just "fetch failed". */
  const doFetch = async (url: string, init: RequestInit): Promise<Response> => {
    try {
      return await rawFetch(url, init);
    } catch (err) {
      throw new HubError(
        `cannot reach ${url} (${causeMessage(err)}); check the network or set --endpoint (HF_ENDPOINT)`,
      );
    }
  };
  const headers: Record<string, string> = {
    'user-agent': 'finsentry',
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  };
  const log = options.log ?? (() => undefined);

  const resolveUrl = (file: string) =>
    `${endpoint}/${options.repo}/resolve/${encodeURIComponent(revision)}/${file}`;

  /** HEAD without following redirects, to read the Hub's etag headers. */
  const head = async (file: string): Promise<Remote | undefined> => {
    const url = resolveUrl(file);
    const res = await doFetch(url, { method: 'HEAD', headers, redirect: 'manual' });
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
  };

  const download = async (file: string, remote: Remote): Promise<PulledFile> => {
    const lfsSha =
      remote.linkedEtag && /^[0-9a-f]{64}$/.test(remote.linkedEtag) ? remote.linkedEtag : undefined;
    const gitSha = !lfsSha && remote.etag && /^[0-9a-f]{40}$/.test(remote.etag) ? remote.etag : undefined;
    const key = lfsSha ?? gitSha;
    const blob = key ? join(repoCache, 'blobs', key) : undefined;
    const target = join(options.out, file);
    mkdirSync(dirname(target), { recursive: true });
    if (blob && existsSync(blob)) {
      copyFileSync(blob, target);
      log(`${file}: cached (${key})`);
      const bytes = readFileSync(blob).length;
      return { file, bytes, digest: key ?? '', algorithm: lfsSha ? 'sha256' : 'git-sha1', cached: true };
    }
    const res = await doFetch(remote.url, { headers, redirect: 'follow' });
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
    let digest = '';
    let algorithm: PulledFile['algorithm'] = 'none';
    if (lfsSha) {
      digest = sha256.digest('hex');
      algorithm = 'sha256';
      if (digest !== lfsSha) {
        rmSync(tmp, { force: true });
        throw new HubError(`${file}: sha256 mismatch: Hub says ${lfsSha}, downloaded ${digest}`);
      }
    } else if (gitSha) {
      digest = gitBlobSha1(Buffer.concat(chunks));
      algorithm = 'git-sha1';
      if (digest !== gitSha) {
        rmSync(tmp, { force: true });
        throw new HubError(`${file}: git blob sha1 mismatch: Hub says ${gitSha}, downloaded ${digest}`);
      }
    } else {
      log(`${file}: the Hub sent no verifiable etag; stored unverified`);
    }
    renameSync(tmp, target);
    if (blob) {
      mkdirSync(dirname(blob), { recursive: true });
      copyFileSync(target, blob);
    }
    log(`${file}: ${bytes} bytes, ${algorithm} ${digest}`);
    return { file, bytes, digest, algorithm, cached: false };
  };

  mkdirSync(options.out, { recursive: true });
  const files: PulledFile[] = [];
  let commit: string | undefined;
  for (const file of REQUIRED) {
    const remote = await head(file);
    if (!remote) throw new HubError(`${options.repo}@${revision} has no ${file}`);
    commit ??= remote.commit;
    files.push(await download(file, remote));
  }
  for (const file of OPTIONAL) {
    const remote = await head(file);
    if (remote) files.push(await download(file, remote));
  }
  let onnx: PulledFile | undefined;
  for (const file of ONNX_FILES) {
    const remote = await head(file);
    if (!remote) continue;
    // The engine looks for model.onnx / onnx/model.onnx alike; keep the Hub's path.
    onnx = await download(file, remote);
    break;
  }
  if (!onnx)
    throw new HubError(
      `${options.repo}@${revision} has no ONNX export (looked for ${ONNX_FILES.join(', ')})`,
    );
  files.push(onnx);
  if (commit) {
    mkdirSync(join(repoCache, 'refs'), { recursive: true });
    writeFileSync(join(repoCache, 'refs', revision.replace(/\//g, '_')), commit);
  }
  return { dir: options.out, commit, files };
}
