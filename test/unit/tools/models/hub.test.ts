import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gitBlobSha1, pullModel } from '../../../../src/tools/models/hub.js';
import { readModelSpec } from '../../../../src/inference/model.js';
import { synthesizeModel } from '../../../../src/tools/models/synth/index.js';

/**
 * A stand-in for the Hugging Face Hub's file API, serving a synthesized model the way the Hub does:
 * `/{repo}/resolve/{rev}/{file}`; LFS files (the ONNX export) answer 302 to a CDN URL with
 * X-Linked-Etag = sha256 and X-Repo-Commit; git files answer 200 with ETag = git blob sha1;
 * missing files 404 with X-Error-Code: EntryNotFound.
 */
let root: string;
let server: Server;
let endpoint: string;
const COMMIT = 'a'.repeat(40);
const repoFiles = new Map<string, Buffer>();
let cdnGets = 0;
let corruptCdn = false;

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(url.pathname);
  if (cdn) {
    const body = [...repoFiles.values()].find((b) => createHash('sha256').update(b).digest('hex') === cdn[1]);
    if (!body) return void res.writeHead(404).end();
    if (req.method === 'GET') cdnGets++;
    const sent = corruptCdn
      ? Buffer.concat([body.subarray(0, body.length - 1), Buffer.from([body[body.length - 1]! ^ 1])])
      : body;
    res.writeHead(200, { 'content-length': String(sent.length) });
    return void res.end(req.method === 'HEAD' ? undefined : sent);
  }
  const m = /^\/acme\/fin-model\/resolve\/(main|v1)\/(.+)$/.exec(url.pathname);
  const body = m ? repoFiles.get(m[2] ?? '') : undefined;
  if (!m || !body) return void res.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end();
  if ((m[2] ?? '').endsWith('.onnx')) {
    const sha = createHash('sha256').update(body).digest('hex');
    res.writeHead(302, {
      location: `/cdn/${sha}`,
      'x-linked-etag': `"${sha}"`,
      'x-linked-size': String(body.length),
      'x-repo-commit': COMMIT,
      etag: `"${sha}"`,
    });
    return void res.end();
  }
  res.writeHead(200, {
    etag: `"${gitBlobSha1(body)}"`,
    'x-repo-commit': COMMIT,
    'content-length': String(body.length),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'finsentry-hub-'));
  const src = join(root, 'src');
  synthesizeModel({ task: 'sentiment', layers: 1, hidden: 32, heads: 2, vocabSize: 400, seed: 9, out: src });
  repoFiles.set('config.json', readFileSync(join(src, 'config.json')));
  repoFiles.set('tokenizer.json', readFileSync(join(src, 'tokenizer.json')));
  repoFiles.set('onnx/model.onnx', readFileSync(join(src, 'model.onnx')));
  server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(root, { recursive: true, force: true });
});

describe('models pull', () => {
  it('downloads config, tokenizer and the ONNX export, verifying sha256 and git etags, then serves repeats from the cache', async () => {
    const cache = join(root, 'cache');
    const out = join(root, 'pulled');
    const first = await pullModel({ repo: 'acme/fin-model', out, endpoint, cache });
    expect(first.commit).toBe(COMMIT);
    expect(first.files.map((f) => [f.file, f.algorithm, f.cached])).toEqual([
      ['config.json', 'git-sha1', false],
      ['tokenizer.json', 'git-sha1', false],
      ['onnx/model.onnx', 'sha256', false],
    ]);
    for (const [file, body] of repoFiles) expect(readFileSync(join(out, file)).equals(body)).toBe(true);
    const spec = await readModelSpec(out);
    expect(spec.sha256).toBe(createHash('sha256').update(repoFiles.get('onnx/model.onnx')!).digest('hex'));
    expect(cdnGets).toBe(1);

    const again = await pullModel({
      repo: 'acme/fin-model',
      out: join(root, 'pulled2'),
      endpoint,
      cache,
      revision: 'v1',
    });
    expect(again.files.every((f) => f.cached)).toBe(true);
    expect(cdnGets).toBe(1);
    expect(existsSync(join(root, 'pulled2', 'onnx', 'model.onnx'))).toBe(true);
  });

  it('rejects a download whose sha256 differs from the Hub etag and leaves no file behind', async () => {
    corruptCdn = true;
    try {
      const out = join(root, 'corrupt');
      await expect(
        pullModel({ repo: 'acme/fin-model', out, endpoint, cache: join(root, 'cache-corrupt') }),
      ).rejects.toThrow(/sha256 mismatch/);
      expect(existsSync(join(out, 'onnx', 'model.onnx'))).toBe(false);
    } finally {
      corruptCdn = false;
    }
  });

  it('names what is missing', async () => {
    await expect(
      pullModel({ repo: 'acme/other', out: join(root, 'x'), endpoint, cache: join(root, 'c2') }),
    ).rejects.toThrow(/has no config.json/);
    await expect(pullModel({ repo: 'bad repo id', out: join(root, 'y'), endpoint })).rejects.toThrow(
      /invalid repo id/,
    );
  });
});
