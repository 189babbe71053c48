import { trace, type Span } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  extractContext,
  injectHeaders,
  linksFromHeaders,
  outputHeaders,
  startTracing,
  withStageSpan,
} from '../../../src/telemetry/tracing.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('finsentry-test');

const TRACE_A = '0af7651916cd43dd8448eb211c80319c';
const TRACE_B = '4bf92f3577b34da6a3ce929d0e0e4736';
const header = (traceId: string, spanId: string) => ({
  traceparent: Buffer.from(`00-${traceId}-${spanId}-01`),
  tracestate: Buffer.from('vendor=x'),
});

describe('tracing', () => {
  afterEach(() => exporter.reset());

  it('extracts W3C trace context from Kafka headers (Buffer or string values)', () => {
    const ctx = extractContext(header(TRACE_A, 'b7ad6b7169203331'));
    expect(trace.getSpanContext(ctx)).toMatchObject({
      traceId: TRACE_A,
      spanId: 'b7ad6b7169203331',
      traceFlags: 1,
      isRemote: true,
    });
    expect(trace.getSpanContext(extractContext({ traceparent: 'garbage' }))).toBeUndefined();
    expect(trace.getSpanContext(extractContext(undefined))).toBeUndefined();
    expect(injectHeaders(ctx)).toEqual({
      traceparent: `00-${TRACE_A}-b7ad6b7169203331-01`,
      tracestate: 'vendor=x',
    });
  });

  it('a stage span links every input message context and records failures', async () => {
    const inputs = [
      header(TRACE_A, 'b7ad6b7169203331'),
      undefined,
      header(TRACE_B, '00f067aa0ba902b7'),
      { traceparent: 'bad' },
    ];
    expect(linksFromHeaders(inputs)).toHaveLength(2);
    const result = await withStageSpan('infer', inputs, () => 42, {
      tracer,
      attributes: { 'finsentry.model': 'sentiment' },
    });
    expect(result).toBe(42);
    await expect(
      withStageSpan('produce', inputs, () => Promise.reject(new Error('broker down')), { tracer }),
    ).rejects.toThrow('broker down');
    const [infer, produce] = exporter.getFinishedSpans();
    expect(infer!.name).toBe('finsentry.infer');
    expect(infer!.links.map((l) => l.context.traceId)).toEqual([TRACE_A, TRACE_B]);
    expect(infer!.attributes).toMatchObject({
      'finsentry.stage': 'infer',
      'messaging.batch.message_count': 4,
      'finsentry.model': 'sentiment',
    });
    expect(infer!.parentSpanContext).toBeUndefined(); // a batch span is a root linked to its messages
    expect(produce!.status.code).toBe(2);
    expect(produce!.events[0]!.name).toBe('exception');
  });

  it('output headers continue the input trace through a child span linked to the stage spans', async () => {
    let stage: Span | undefined;
    await withStageSpan(
      'stats',
      [header(TRACE_A, 'b7ad6b7169203331')],
      (span) => {
        stage = span;
      },
      { tracer },
    );
    const out = outputHeaders(header(TRACE_A, 'b7ad6b7169203331'), [stage!], { tracer });
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(out.traceparent ?? '');
    expect(m?.[1]).toBe(TRACE_A);
    expect(m?.[2]).not.toBe('b7ad6b7169203331');
    expect(out.tracestate).toBe('vendor=x');
    const process = exporter.getFinishedSpans().find((s) => s.name === 'finsentry.process')!;
    expect(process.spanContext().spanId).toBe(m?.[2]);
    expect(process.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(process.links[0]!.context.spanId).toBe(stage!.spanContext().spanId);
    // no input context → no trace headers invented
    expect(outputHeaders(undefined, [], { tracer })).toEqual({});
  });

  it('with tracing off (no SDK), the input trace context is forwarded unchanged', async () => {
    expect(
      await startTracing({ enabled: false, endpoint: 'http://127.0.0.1:4318/v1/traces', serviceName: 'x' }),
    ).toBeUndefined();
    const out = outputHeaders(header(TRACE_B, '00f067aa0ba902b7'));
    expect(out.traceparent).toBe(`00-${TRACE_B}-00f067aa0ba902b7-01`);
  });

  it('with tracing on, spans are exported over OTLP/HTTP to the configured endpoint', async () => {
    const requests: Array<{ url: string; type: string; bytes: number }> = [];
    const server = createServer((req, res) => {
      let bytes = 0;
      req.on('data', (c: Buffer) => (bytes += c.length));
      req.on('end', () => {
        requests.push({ url: req.url ?? '', type: String(req.headers['content-type']), bytes });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const handle = await startTracing({
        enabled: true,
        endpoint: `http://127.0.0.1:${port}/v1/traces`,
        serviceName: 'finsentry-test',
      });
      expect(handle).toBeDefined();
      await withStageSpan('decode', [header(TRACE_A, 'b7ad6b7169203331')], () => undefined);
      await handle!.shutdown(); // flushes the batch processor
      expect(requests.length).toBeGreaterThan(0);
      expect(requests[0]!.url).toBe('/v1/traces');
      expect(requests[0]!.bytes).toBeGreaterThan(0);
    } finally {
      server.close();
    }
  });
});
