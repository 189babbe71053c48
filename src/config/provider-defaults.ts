/**
 * Batching defaults per execution provider (docs/inference.md "Batch sizes"). On a CPU the cost of a
 * batch grows with its padded tokens and the int8 GEMMs gain little from rows beyond a few windows:
 * length-sorted, one thread, the committed models do 101 docs per CPU-second at 4 windows, 96 at 8,
 * 92 at 16, 79 at 32 and 66 at 64, so small batches with a tight padding cap. A GPU needs large
 * length-bucketed batches and several in flight to stay busy (design §5; not yet run on a GPU).
 */
export type Provider = 'cpu' | 'cuda';

export interface ProviderBatching {
  maxBatchSize: number;
  maxBatchTokens: number;
  maxPaddingRatio: number;
  maxInFlightBatches: number;
}

export const BATCHING_DEFAULTS: Readonly<Record<Provider, ProviderBatching>> = {
  cpu: { maxBatchSize: 8, maxBatchTokens: 8192, maxPaddingRatio: 0.1, maxInFlightBatches: 2 },
  cuda: { maxBatchSize: 256, maxBatchTokens: 65_536, maxPaddingRatio: 0.2, maxInFlightBatches: 4 },
};

/** Fills the batching fields the config left out with the provider's defaults. */
export function withProviderBatching<T extends Partial<ProviderBatching>>(
  batching: T,
  provider: Provider,
): T & ProviderBatching {
  const d = BATCHING_DEFAULTS[provider];
  return {
    ...batching,
    maxBatchSize: batching.maxBatchSize ?? d.maxBatchSize,
    maxBatchTokens: batching.maxBatchTokens ?? d.maxBatchTokens,
    maxPaddingRatio: batching.maxPaddingRatio ?? d.maxPaddingRatio,
    maxInFlightBatches: batching.maxInFlightBatches ?? d.maxInFlightBatches,
  };
}
