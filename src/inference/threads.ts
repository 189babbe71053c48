import { availableParallelism } from 'node:os';
import type { ExecutionProvider } from './ort-session.js';

/**
 * How ONNX Runtime is run on this machine (docs/inference.md "Threads"): how many inference worker
 * threads the process has, how many intra-op threads each session uses, and whether those threads
 * spin between runs. `0`/`auto` in the config means "derived from the cores this process may use".
 */
export interface ThreadingConfig {
  executionProvider: ExecutionProvider;
  /** Intra-op threads per session; 0 = auto. */
  intraOpThreads: number;
  /** Inter-op threads per session; 0 = auto (1: the graphs run sequentially). */
  interOpThreads: number;
  /** Spin-wait of ORT's thread pools between runs. */
  spinning: 'auto' | 'on' | 'off';
  /** Inference worker threads per process; 0 = auto. */
  inferenceWorkers: number;
}

export interface Threading {
  workers: number;
  intraOpThreads: number;
  interOpThreads: number;
  spinning: boolean;
}

/** Cores this process may use (cgroup/affinity aware in Node ≥ 18.14). */
export function usableCores(): number {
  return Math.max(1, availableParallelism());
}

/**
 * Resolves the configured threading against the cores: intra-op threads split the cores between the
 * workers (at least one each); spinning is off unless asked for, because a service alternates runs
 * with waits for input and spinning threads burn the cores the event loop and the other worker need
 * (measured: the same runs with 10 ms gaps cost 1.9× the CPU time with spinning on, docs/benchmarks.md).
 */
export function resolveThreading(config: ThreadingConfig, cores = usableCores()): Threading {
  // One restartable inference thread per process (src/inference/session.ts); models.inferenceWorkers ≤ 1.
  const workers = 1;
  const intraAuto = config.executionProvider === 'cuda' ? 1 : Math.max(1, Math.floor(cores / workers));
  return {
    workers,
    intraOpThreads: config.intraOpThreads > 0 ? config.intraOpThreads : intraAuto,
    interOpThreads: config.interOpThreads > 0 ? config.interOpThreads : 1,
    spinning: config.spinning === 'on',
  };
}
