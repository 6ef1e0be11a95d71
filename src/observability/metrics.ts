// Prometheus metrics (GET /metrics). Labels never carry a key, a hint or a team name.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export type RequestOutcome = 'ok' | 'error' | 'unauthenticated' | 'rate_limited' | 'quota_exceeded';

const SOURCE_HELP = {
  verification_cache_hits: 'Authentications answered from the verification cache since start',
  verification_cache_misses: 'Authentications that read the database since start',
  open_subscriptions: 'Subscriptions currently open (graphql-ws and SSE)',
  subscription_events_delivered: 'Subscription events delivered to subscribers since start',
  subscription_executions: 'Executions of subscription selections since start (shared by subscribers)',
  emails_sent: 'Outbox emails sent over SMTP since start',
  email_send_failures: 'Failed SMTP send attempts since start (each is retried)',
  webhook_deliveries_succeeded: 'Webhook deliveries answered with a 2xx since start',
  webhook_delivery_failures: 'Failed webhook delivery attempts since start (retried on the schedule, then FAILED)',
};

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

  constructor(sources: Record<keyof typeof SOURCE_HELP, () => number>) {
    collectDefaultMetrics({ register: this.registry, prefix: 'keyplane_process_' });
    // Read at scrape time from the counters the services keep anyway (no extra work per request).
    for (const [name, help] of Object.entries(SOURCE_HELP) as [keyof typeof SOURCE_HELP, string][]) {
      new Gauge({
        name: `keyplane_${name}`,
        help,
        registers: [this.registry],
        collect() {
          this.set(sources[name]());
        },
      });
    }
  }
}
