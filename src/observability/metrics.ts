// Prometheus metrics (GET /metrics). Labels never carry a key, a hint or a team name.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export type RequestOutcome = 'ok' | 'error' | 'unauthenticated' | 'rate_limited' | 'quota_exceeded';

export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'keyplane_requests_total',
    help: 'GraphQL operations by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly authFailures = new Counter({
    name: 'keyplane_auth_failures_total',
    help: 'Failed authentications by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'keyplane_http_request_duration_seconds',
    help: 'HTTP request latency',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  constructor(sources: { cacheHits: () => number; cacheMisses: () => number; openSubscriptions: () => number }) {
    collectDefaultMetrics({ register: this.registry, prefix: 'keyplane_process_' });
    // Read at scrape time from the counters the hot path keeps anyway (no extra work per request).
    new Gauge({
      name: 'keyplane_verification_cache_hits',
      help: 'Authentications answered from the verification cache since start',
      registers: [this.registry],
      collect() {
        this.set(sources.cacheHits());
      },
    });
    new Gauge({
      name: 'keyplane_verification_cache_misses',
      help: 'Authentications that read the database since start',
      registers: [this.registry],
      collect() {
        this.set(sources.cacheMisses());
      },
    });
    new Gauge({
      name: 'keyplane_open_subscriptions',
      help: 'Subscriptions currently open (graphql-ws and SSE)',
      registers: [this.registry],
      collect() {
        this.set(sources.openSubscriptions());
      },
    });
  }
}
