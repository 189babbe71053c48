import type { Command } from 'commander';
import { stringify } from 'yaml';
import { ConfigError, loadConfig } from '../../config/load.js';

export function registerConfigCommand(program: Command): void {
  const config = program.command('config').description('Inspect and validate configuration');
  config
    .command('check')
    .argument('<file>', 'config file (YAML or JSON)')
    .option('--print', 'print the effective config (defaults and env overrides applied)')
    .description('Validate a config file; exits 1 naming each bad field')
    .action((file: string, opts: { print?: boolean }) => {
      try {
        const cfg = loadConfig(file);
        process.stdout.write(`${file}: OK\n`);
        if (opts.print) process.stdout.write(stringify(cfg));
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(`${err.message}\n`);
          process.exit(1);
        }
        throw err;
      }
    });
}
