import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Extracts every panel query of the shipped Grafana dashboards (grafana/dashboards/*.json), with the
 * dashboard variables replaced by their default (current) values and Grafana's built-in interval
 * variables by fixed durations, so each query can be sent as-is to the Prometheus HTTP API
 * (/api/v1/query). Used by the dashboard unit test and by end-to-end tests after a demo run.
 */

export interface PanelQuery {
  dashboard: string;
  dashboardUid: string;
  panel: string;
  refId: string;
  /** The expression as written in the dashboard. */
  rawExpr: string;
  /** The expression with variables substituted: ready for /api/v1/query. */
  expr: string;
}

interface GrafanaPanel {
  title: string;
  targets?: Array<{ refId: string; expr?: string }>;
  panels?: GrafanaPanel[];
}

interface GrafanaDashboard {
  uid: string;
  title: string;
  templating?: {
    list: Array<{
      name: string;
      current?: { value?: string | string[] };
      includeAll?: boolean;
      allValue?: string;
    }>;
  };
  panels: GrafanaPanel[];
}

export const DASHBOARD_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'grafana',
  'dashboards',
);

/** Grafana's built-in variables with the values used when a query is run outside Grafana. */
export const BUILTIN_VARIABLES: Record<string, string> = {
  __rate_interval: '1m',
  __interval: '15s',
  __range: '1h',
};

export function substituteVariables(expr: string, variables: Record<string, string>): string {
  return expr.replace(
    /\$\{(\w+)(?::[^}]*)?\}|\$(\w+)/g,
    (whole, braced: string | undefined, plain: string | undefined) => {
      const name = braced ?? plain!;
      const value = variables[name];
      return value === undefined ? whole : value;
    },
  );
}

function flatten(panels: readonly GrafanaPanel[]): GrafanaPanel[] {
  return panels.flatMap((p) => [p, ...flatten(p.panels ?? [])]);
}

export function loadDashboards(
  dir: string = DASHBOARD_DIR,
): Array<{ file: string; dashboard: GrafanaDashboard }> {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({
      file,
      dashboard: JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as GrafanaDashboard,
    }));
}

/** Every query of every panel; `overrides` replace dashboard variable defaults (e.g. { window: '1h' }). */
export function dashboardQueries(
  overrides: Record<string, string> = {},
  dir: string = DASHBOARD_DIR,
): PanelQuery[] {
  const out: PanelQuery[] = [];
  for (const { file, dashboard } of loadDashboards(dir)) {
    const variables: Record<string, string> = { ...BUILTIN_VARIABLES };
    for (const v of dashboard.templating?.list ?? []) {
      const value = v.current?.value;
      // "All" of a variable with includeAll resolves to its allValue, as Grafana does.
      const all = (x: string) => x === 'All' || x === '$__all';
      if (v.includeAll && (Array.isArray(value) ? value.some(all) : value !== undefined && all(value)))
        variables[v.name] = v.allValue ?? '.*';
      else if (typeof value === 'string') variables[v.name] = value;
      else if (Array.isArray(value) && value.length > 0) variables[v.name] = value.join('|');
    }
    Object.assign(variables, overrides);
    for (const panel of flatten(dashboard.panels)) {
      for (const target of panel.targets ?? []) {
        if (!target.expr) continue;
        out.push({
          dashboard: file,
          dashboardUid: dashboard.uid,
          panel: panel.title,
          refId: target.refId,
          rawExpr: target.expr,
          expr: substituteVariables(target.expr, variables),
        });
      }
    }
  }
  return out;
}
