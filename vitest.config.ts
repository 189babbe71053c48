import { defineConfig } from 'vitest/config';

// Three projects behind one `npm test`: fast pure-logic unit tests, integration tests against the
// real local stack (Kafka, Redis, Prometheus started by scripts/stack), and the slower fault suite.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 60_000,
          // Some hooks load ONNX models; on a busy 2-core machine that can pass vitest's 10 s default.
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          globalSetup: ['test/helpers/global-setup.ts'],
          // Integration tests share one broker and one Redis; files run one at a time so that
          // timing-sensitive tests (rebalances, kills) are not starved on the 2-core CI machine.
          fileParallelism: false,
          // Tests marked `concurrent` (only the traffic scenarios, test/integration/scenarios.test.ts)
          // run two at a time: two inference threads for two cores.
          maxConcurrency: 2,
        },
      },
      {
        test: {
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          testTimeout: 900_000,
          hookTimeout: 300_000,
          globalSetup: ['test/helpers/global-setup.ts'],
          fileParallelism: false,
        },
      },
    ],
  },
});
