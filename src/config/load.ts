import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { alertRuleIssues, fairnessIssues } from './rules.js';
import { configSchema, type FinsentryConfig, type SecretRef } from './schema.js';

export class ConfigError extends Error {
  constructor(
    message: string,
    readonly issues: string[],
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * Environment overrides: FINSENTRY_<SECTION>__<FIELD>[__<FIELD>…]=value, e.g.
 * FINSENTRY_KAFKA__BROKERS=10.0.0.1:9092,10.0.0.2:9092 or FINSENTRY_REDIS__URL=redis://r:6379.
 * Values are parsed as JSON when they parse, as comma lists for array fields, else as strings.
 */
export function applyEnvOverrides(
  raw: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): Record<string, unknown> {
  const out = structuredClone(raw);
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('FINSENTRY_') || !name.includes('__') || value === undefined) continue;
    const path = name
      .slice('FINSENTRY_'.length)
      .split('__')
      .map((part) => part.toLowerCase().replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()));
    let node: Record<string, unknown> = out;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1]!] = parseEnvValue(value, path);
  }
  return out;
}

const ARRAY_FIELDS = new Set(['brokers', 'cluster', 'windows']);

function parseEnvValue(value: string, path: string[]): unknown {
  try {
    return JSON.parse(value);
  } catch {
    if (ARRAY_FIELDS.has(path[path.length - 1]!))
      return value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    return value;
  }
}

function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.length
      ? issue.path
          .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
          .join('')
          .replace(/^\./, '')
      : '(root)';
    return `${path}: ${issue.message}`;
  });
}

export function parseConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env): FinsentryConfig {
  const base = raw === null || raw === undefined ? {} : raw;
  if (typeof base !== 'object' || Array.isArray(base)) {
    throw new ConfigError('config: the top level must be a mapping', ['(root): expected a mapping']);
  }
  const result = configSchema.safeParse(applyEnvOverrides(base as Record<string, unknown>, env));
  if (!result.success) {
    const issues = formatIssues(result.error);
    throw new ConfigError(`invalid config:\n  ${issues.join('\n  ')}`, issues);
  }
  const ruleIssues = [...alertRuleIssues(result.data), ...fairnessIssues(result.data)];
  if (ruleIssues.length > 0)
    throw new ConfigError(`invalid config:\n  ${ruleIssues.join('\n  ')}`, ruleIssues);
  return result.data;
}

export function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): FinsentryConfig {
  if (!file) return parseConfig({}, env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`, []);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text); // YAML is a superset of JSON, so .json files parse too.
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid YAML/JSON: ${(err as Error).message}`, []);
  }
  try {
    return parseConfig(raw, env);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`${file}: ${err.message}`, err.issues);
    throw err;
  }
}

/** Resolve a secret reference; secrets only come from the environment or from files. */
export function resolveSecret(
  ref: SecretRef | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (!ref) return undefined;
  if (ref.env) return env[ref.env];
  if (ref.file) return readFileSync(ref.file, 'utf8').trim();
  return undefined;
}
