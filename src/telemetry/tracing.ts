import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { PipelineStage } from './metrics.js';

/**
 * OpenTelemetry tracing (design §9), off by default (config `tracing.enabled`).
 *
 * - startTracing() starts @opentelemetry/sdk-node with an OTLP/HTTP trace exporter; nothing else
 *   is instrumented automatically (the pipeline creates its own spans, cheaply, per batch stage).
 * - A batch is many messages, each possibly with its own trace: a stage span (decode, tokenize,
 *   infer, stats, produce) is a root span *linked* to every input message's context (the OTel
 *   messaging convention for batch processing), not a child of one arbitrary message.
 * - Each output record continues its input's trace: outputHeaders() starts a short
 *   `finsentry.process` span as a child of the input message's context (linked to the batch's
 *   stage spans) and injects that span's context as `traceparent`/`tracestate`. With tracing off the
 *   API is a no-op, and the input's trace context is still forwarded unchanged, so downstream
 *   consumers keep the producer's trace.
 * Trace context is read and written with the W3C propagator directly, independent of the globally
 * configured one.
 */

export interface TracingConfig {
  enabled: boolean;
  endpoint: string;
  serviceName: string;
}

export interface TracingHandle {
  shutdown(): Promise<void>;
}

export const TRACER_NAME = 'finsentry';

const w3c = new W3CTraceContextPropagator();

type HeaderValue = Buffer | string | Array<Buffer | string> | undefined;
export type MessageHeaders = Record<string, HeaderValue>;

const headerGetter: TextMapGetter<MessageHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const value = carrier[key] ?? carrier[Object.keys(carrier).find((k) => k.toLowerCase() === key) ?? ''];
    const first = Array.isArray(value) ? value[0] : value;
    return first === undefined ? undefined : Buffer.isBuffer(first) ? first.toString('utf8') : first;
  },
};

const headerSetter: TextMapSetter<Record<string, string>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/** Starts the OpenTelemetry Node SDK with an OTLP/HTTP exporter; returns undefined when disabled. */
export async function startTracing(config: TracingConfig): Promise<TracingHandle | undefined> {
  if (!config.enabled) return undefined;
  // Imported lazily: the SDK is only loaded when tracing is on.
  const [{ NodeSDK }, { OTLPTraceExporter }] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/exporter-trace-otlp-http'),
  ]);
  const sdk = new NodeSDK({
    serviceName: config.serviceName,
    traceExporter: new OTLPTraceExporter({ url: config.endpoint }),
    instrumentations: [],
    textMapPropagator: w3c,
  });
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}

export function defaultTracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

/** The context carried by a message's `traceparent`/`tracestate` headers (ROOT_CONTEXT when none). */
export function extractContext(headers: MessageHeaders | undefined): Context {
  return w3c.extract(ROOT_CONTEXT, headers ?? {}, headerGetter);
}

/** Links to the (valid) trace contexts of a batch's input messages. */
export function linksFromHeaders(inputs: ReadonlyArray<MessageHeaders | undefined>, maxLinks = 128): Link[] {
  const links: Link[] = [];
  for (const headers of inputs) {
    if (links.length >= maxLinks) break;
    const spanContext = trace.getSpanContext(extractContext(headers));
    if (spanContext && trace.isSpanContextValid(spanContext)) links.push({ context: spanContext });
  }
  return links;
}

/** `traceparent` (and `tracestate`) for the given context. */
export function injectHeaders(ctx: Context): Record<string, string> {
  const carrier: Record<string, string> = {};
  w3c.inject(ctx, carrier, headerSetter);
  return carrier;
}

/**
 * Runs `fn` inside a span for one pipeline stage of a batch, linked to the input messages' trace
 * contexts; records an exception and error status when `fn` throws.
 */
export async function withStageSpan<T>(
  stage: PipelineStage,
  inputs: ReadonlyArray<MessageHeaders | undefined>,
  fn: (span: Span) => Promise<T> | T,
  options: { tracer?: Tracer; attributes?: Attributes } = {},
): Promise<T> {
  const tracer = options.tracer ?? defaultTracer();
  const span = tracer.startSpan(
    `finsentry.${stage}`,
    {
      kind: stage === 'produce' ? SpanKind.PRODUCER : SpanKind.INTERNAL,
      links: linksFromHeaders(inputs),
      attributes: {
        'finsentry.stage': stage,
        'messaging.batch.message_count': inputs.length,
        ...options.attributes,
      },
    },
    ROOT_CONTEXT,
  );
  try {
    return await context.with(trace.setSpan(context.active(), span), () => fn(span));
  } catch (err) {
    span.recordException(err instanceof Error ? err : new Error(String(err)));
    span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    throw err;
  } finally {
    span.end();
  }
}

/**
 * Headers that continue an input message's trace on its output record: a `finsentry.process` span,
 * child of the input context and linked to the batch's stage spans, is started and ended, and its
 * context injected. Without a valid input context the output starts no new trace (empty headers).
 */
export function outputHeaders(
  input: MessageHeaders | undefined,
  stageSpans: readonly Span[] = [],
  options: { tracer?: Tracer; attributes?: Attributes } = {},
): Record<string, string> {
  const parent = extractContext(input);
  const parentSpan = trace.getSpanContext(parent);
  if (!parentSpan || !trace.isSpanContextValid(parentSpan)) return {};
  const tracer = options.tracer ?? defaultTracer();
  const links: Link[] = stageSpans
    .map((s) => ({ context: s.spanContext() }))
    .filter((l) => trace.isSpanContextValid(l.context));
  const span = tracer.startSpan(
    'finsentry.process',
    { kind: SpanKind.CONSUMER, links, ...(options.attributes ? { attributes: options.attributes } : {}) },
    parent,
  );
  span.end();
  return injectHeaders(trace.setSpan(parent, span));
}

/** Registers the W3C propagator globally too, for libraries that use the global API. */
export function useW3CPropagation(): void {
  propagation.setGlobalPropagator(w3c);
}
