import { Option, type Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { formatDuration } from '../../config/duration.js';
import { connectRedis } from '../../io/redis/client.js';
import { openWindowStore, type BaselineSnapshot } from '../../io/redis/window-store.js';
import { configOption, durationArg } from '../options.js';
import { ALL_DIMENSION } from '../../stats/grouping.js';

/** `finsentry baseline capture|show|list`: persisted drift references in Redis (design §6). */

function summary(b: BaselineSnapshot): string {
  const iso = (ms: number) => new Date(ms).toISOString();
  const lines = [
    `baseline "${b.name}": window ${formatDuration(b.windowMs)} [${iso(b.windowStartMs)} .. ${iso(b.windowEndMs)}), captured ${iso(b.capturedAtMs)}, watermark ${iso(b.watermarkMs)}`,
    `documents: ${(b.dimensions[ALL_DIMENSION] ?? []).reduce((s, g) => s + g.count, 0)}`,
  ];
  for (const [dim, groups] of Object.entries(b.dimensions).sort()) {
    if (dim === ALL_DIMENSION) continue;
    const top = groups.slice(0, 5).map((g) => `${g.group}=${g.count}`);
    lines.push(
      `  ${dim}: ${groups.length} groups${top.length ? ` (${top.join(', ')}${groups.length > 5 ? ', …' : ''})` : ''}`,
    );
  }
  return lines.join('\n');
}

export function registerBaselineCommand(program: Command): void {
  const baseline = program
    .command('baseline')
    .description('Capture and inspect drift reference baselines (persisted in Redis)');
  baseline
    .command('capture')
    .description('Persist the window ending at the current watermark (all dimensions) as a named baseline')
    .addOption(
      new Option('-w, --window <duration>', 'window length')
        .argParser(durationArg)
        .default(86_400_000, '24h'),
    )
    .option('-n, --name <name>', 'baseline name', 'default')
    .option('--json', 'print the captured baseline as JSON')
    .addOption(configOption())
    .action(async (opts: { window: number; name: string; json?: boolean; config?: string }) => {
      const cfg = loadConfig(opts.config);
      const { store, close } = openWindowStore(cfg, await connectRedis(cfg.redis));
      try {
        const b = await store.captureBaseline(opts.name, opts.window);
        process.stdout.write(opts.json ? `${JSON.stringify(b, null, 2)}\n` : `captured ${summary(b)}\n`);
      } finally {
        await close();
      }
    });
  baseline
    .command('show')
    .description('Print a captured baseline')
    .option('-n, --name <name>', 'baseline name', 'default')
    .option('--json', 'print as JSON')
    .addOption(configOption())
    .action(async (opts: { name: string; json?: boolean; config?: string }) => {
      const cfg = loadConfig(opts.config);
      const { store, close } = openWindowStore(cfg, await connectRedis(cfg.redis));
      try {
        const b = await store.readBaseline(opts.name);
        if (!b) {
          const names = await store.listBaselines();
          throw Object.assign(
            new Error(`no baseline "${opts.name}"${names.length ? ` (have: ${names.join(', ')})` : ''}`),
            { exitCode: 1 },
          );
        }
        process.stdout.write(opts.json ? `${JSON.stringify(b, null, 2)}\n` : `${summary(b)}\n`);
      } finally {
        await close();
      }
    });
  baseline
    .command('list')
    .description('List captured baselines')
    .addOption(configOption())
    .action(async (opts: { config?: string }) => {
      const cfg = loadConfig(opts.config);
      const { store, close } = openWindowStore(cfg, await connectRedis(cfg.redis));
      try {
        for (const name of await store.listBaselines()) process.stdout.write(`${name}\n`);
      } finally {
        await close();
      }
    });
}
