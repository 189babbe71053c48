// Operations as users run them (docs/operations.md): the kustomize base ships the Grafana dashboards and
// the example Alertmanager config as ConfigMaps, KEDA alone sets the replica count, and both
// Alertmanager configs pass `amtool check-config` and route by severity with inhibition.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderOverlay } from '../helpers/kustomize.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const AM_CONFIGS = ['scripts/stack/alertmanager.yml', 'k8s/base/alertmanager/alertmanager.yml'];
const DASHBOARDS = ['pipeline', 'sentiment', 'fairness', 'drift', 'alerts'];

interface K8sObject {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: { replicas?: number };
  data?: Record<string, string>;
}

function kustomize(overlay: string): K8sObject[] {
  return renderOverlay<K8sObject>(overlay);
}

describe('kustomize base', () => {
  for (const overlay of ['cpu', 'gpu']) {
    it(`${overlay}: dashboards and Alertmanager config as ConfigMaps, no replicas under KEDA`, () => {
      const objects = kustomize(overlay);
      for (const name of DASHBOARDS) {
        const cm = objects.find(
          (o) => o.kind === 'ConfigMap' && o.metadata.name === `finsentry-dashboard-${name}`,
        );
        expect(cm?.metadata.labels?.grafana_dashboard, name).toBe('1');
        expect(cm!.data![`finsentry-${name}.json`]).toBe(
          readFileSync(path.join(root, `grafana/dashboards/finsentry-${name}.json`), 'utf8'),
        );
      }
      const am = objects.find(
        (o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('finsentry-alertmanager'),
      );
      expect(am!.data!['alertmanager.yml']).toBe(readFileSync(path.join(root, AM_CONFIGS[1]!), 'utf8'));
      expect(objects.find((o) => o.kind === 'ScaledObject')).toBeDefined();
      expect(objects.find((o) => o.kind === 'Deployment')!.spec!.replicas).toBeUndefined();
    });
  }
});

describe('GPU overlay', () => {
  it('refuses to run on CPU: models.allowCpuFallback false with the cuda provider', () => {
    const deployment = kustomize('gpu').find((o) => o.kind === 'Deployment') as unknown as {
      spec: { template: { spec: { containers: Array<{ env: Array<{ name: string; value?: string }> }> } } };
    };
    const env = Object.fromEntries(
      deployment.spec.template.spec.containers[0]!.env.map((e) => [e.name, e.value]),
    );
    expect(env.FINSENTRY_MODELS__EXECUTION_PROVIDER).toBe('cuda');
    expect(env.FINSENTRY_MODELS__ALLOW_CPU_FALLBACK).toBe('false');
  });
});

describe('Grafana dashboards', () => {
  it('take dimension, window, job and namespace from label_values(...)', () => {
    for (const name of DASHBOARDS) {
      const dash = JSON.parse(
        readFileSync(path.join(root, `grafana/dashboards/finsentry-${name}.json`), 'utf8'),
      ) as { templating: { list: Array<{ name: string; type: string; definition?: string }> } };
      const vars = dash.templating.list.filter((v) => v.type !== 'datasource');
      expect(
        vars.map((v) => v.name),
        name,
      ).toEqual(expect.arrayContaining(['job', 'namespace']));
      for (const v of vars) expect(v.definition, `${name} $${v.name}`).toMatch(/^label_values\(finsentry_/);
    }
  });
});

describe('Alertmanager configs', () => {
  it.each(AM_CONFIGS)('%s passes amtool check-config', (file) => {
    const res = spawnSync(process.env.AMTOOL ?? 'amtool', ['check-config', path.join(root, file)], {
      encoding: 'utf8',
    });
    if (res.error)
      throw new Error(`amtool not found: install Debian's prometheus-alertmanager (${res.error.message})`);
    expect(res.stdout + res.stderr).toContain('SUCCESS');
    expect(res.status).toBe(0);
  });

  it.each(AM_CONFIGS)(
    '%s routes by severity and lets a critical alert inhibit warnings on the same group',
    (file) => {
      const cfg = parse(readFileSync(path.join(root, file), 'utf8')) as {
        route: { routes: Array<{ matchers: string[] }> };
        inhibit_rules: Array<{ source_matchers: string[]; target_matchers: string[]; equal: string[] }>;
      };
      expect(cfg.route.routes.map((r) => r.matchers)).toEqual([
        ['severity="critical"'],
        ['severity="warning"'],
        ['severity="info"'],
      ]);
      expect(cfg.inhibit_rules).toContainEqual({
        source_matchers: ['severity="critical"'],
        target_matchers: ['severity="warning"'],
        equal: ['dimension', 'group'],
      });
    },
  );
});
