import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderOverlay } from '../helpers/kustomize.js';
import { defaultAlertRules } from '../../src/alerts/default-rules.js';
import { loadConfig } from '../../src/config/load.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

interface Container {
  name: string;
  image: string;
  args: string[];
  env: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
  resources: { requests: Record<string, string | number>; limits: Record<string, string | number> };
  securityContext: {
    readOnlyRootFilesystem: boolean;
    allowPrivilegeEscalation: boolean;
    runAsNonRoot: boolean;
    capabilities: { drop: string[] };
  };
  livenessProbe: { httpGet: { path: string } };
  readinessProbe: { httpGet: { path: string } };
}

function render(overlay: string): K8sObject[] {
  return renderOverlay<K8sObject>(overlay);
}

function deploymentContainer(objects: K8sObject[]): { pod: Record<string, unknown>; container: Container } {
  const deployment = objects.find((o) => o.kind === 'Deployment')!;
  const pod = (deployment.spec as { template: { spec: Record<string, unknown> } }).template.spec;
  return { pod, container: (pod.containers as Container[])[0]! };
}

describe('k8s manifests', () => {
  const cpu = render('cpu');
  const gpu = render('gpu');

  it('both overlays render every required kind', () => {
    for (const objects of [cpu, gpu]) {
      const kinds = objects.map((o) => o.kind).sort();
      for (const k of [
        'ConfigMap',
        'Deployment',
        'NetworkPolicy',
        'PodDisruptionBudget',
        'PrometheusRule',
        'ScaledObject',
        'Service',
        'ServiceAccount',
        'ServiceMonitor',
        'TriggerAuthentication',
      ]) {
        expect(kinds).toContain(k);
      }
      for (const o of objects) expect(o.metadata.namespace).toBe('finsentry');
    }
  });

  it('the Deployment is non-root, read-only, probed and references secrets', () => {
    for (const objects of [cpu, gpu]) {
      const { pod, container } = deploymentContainer(objects);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
      expect(container.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        runAsNonRoot: true,
      });
      expect(container.securityContext.capabilities.drop).toEqual(['ALL']);
      expect(container.livenessProbe.httpGet.path).toBe('/healthz');
      expect(container.readinessProbe.httpGet.path).toBe('/readyz');
      expect(container.resources.requests.cpu).toBeDefined();
      expect(container.resources.limits.memory).toBeDefined();
      const secretKeys = container.env
        .filter((e) => e.valueFrom?.secretKeyRef)
        .map((e) => e.valueFrom!.secretKeyRef!.key)
        .sort();
      expect(secretKeys).toEqual(['author-hmac-key', 'kafka-sasl-password', 'redis-password']);
      expect(container.image).toMatch(/^ghcr\.io\/finsentry\/finsentry:/);
    }
  });

  it('the GPU overlay requests a GPU and selects the CUDA execution provider; CPU does neither', () => {
    const g = deploymentContainer(gpu).container;
    expect(g.resources.limits['nvidia.com/gpu']).toBe(1);
    expect(g.env.find((e) => e.name === 'FINSENTRY_MODELS__EXECUTION_PROVIDER')?.value).toBe('cuda');
    const c = deploymentContainer(cpu).container;
    expect(c.resources.limits['nvidia.com/gpu']).toBeUndefined();
    expect(c.env.find((e) => e.name === 'FINSENTRY_MODELS__EXECUTION_PROVIDER')?.value).toBe('cpu');
  });

  it('the config in the ConfigMap is valid and the overlay env turns on CUDA', () => {
    const configMap = gpu.find(
      (o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('finsentry-config'),
    )!;
    const text = configMap.data!['finsentry.yaml']!;
    expect(text).toBe(readFileSync(path.join(root, 'k8s/base/finsentry.yaml'), 'utf8'));
    const file = path.join(root, 'k8s/base/finsentry.yaml');
    const env = Object.fromEntries(
      deploymentContainer(gpu)
        .container.env.filter((e) => e.value !== undefined)
        .map((e) => [e.name, e.value!]),
    );
    const config = loadConfig(file, env);
    expect(config.models.executionProvider).toBe('cuda');
    expect(config.kafka.sasl?.password).toEqual({ env: 'FINSENTRY_KAFKA_SASL_PASSWORD' });
    expect(loadConfig(file, {}).models.executionProvider).toBe('cpu');
    // the Deployment mounts that ConfigMap (name hashed by the generator)
    const volumes = deploymentContainer(gpu).pod.volumes as Array<{
      name: string;
      configMap?: { name: string };
    }>;
    expect(volumes.find((v) => v.configMap)?.configMap?.name).toBe(configMap.metadata.name);
  });

  it('autoscales on the consumer lag of the input topics with KEDA', () => {
    const scaled = cpu.find((o) => o.kind === 'ScaledObject')!;
    const triggers = (
      scaled.spec as { triggers: Array<{ type: string; metadata: { topic: string; consumerGroup: string } }> }
    ).triggers;
    expect(triggers.map((t) => [t.type, t.metadata.topic])).toEqual([
      ['kafka', 'news.raw'],
      ['kafka', 'chat.raw'],
    ]);
    expect(
      (gpu.find((o) => o.kind === 'ScaledObject')!.spec as { maxReplicaCount: number }).maxReplicaCount,
    ).toBe(4);
  });

  it('config/finsentry.example.yaml is valid and ships the default alert rules', () => {
    const example = loadConfig(path.join(root, 'config/finsentry.example.yaml'), {});
    expect(example.alerts?.rules).toEqual(defaultAlertRules());
  });

  it('the Dockerfile builds from paths that exist and the build context keeps, and runs as non-root', () => {
    const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    const ignored = readFileSync(path.join(root, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(?:--\S+ )*(.+) \S+$/gm)].flatMap((m) =>
      m[1]!.split(/\s+/),
    );
    expect(sources.length).toBeGreaterThan(5);
    for (const src of sources) {
      expect(existsSync(path.join(root, src)), `${src} exists`).toBe(true);
      expect(ignored, `${src} is not excluded by .dockerignore`).not.toContain(src);
    }
    expect(dockerfile).toMatch(/^FROM \$\{NODE_IMAGE\} AS build$/m);
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20-slim$/m);
    expect(dockerfile).toMatch(/^USER 10001:10001$/m);
    expect(dockerfile).toContain('ENTRYPOINT ["node", "/app/dist/cli/main.js"]');
    // the Deployment runs as the image's user
    expect(deploymentContainer(cpu).pod.securityContext).toMatchObject({
      runAsUser: 10001,
      runAsGroup: 10001,
    });
  });
});
