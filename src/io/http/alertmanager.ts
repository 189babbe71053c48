import { toAlertmanagerAlert } from '../../alerts/events.js';
import type { AlertPublisher } from '../../alerts/ports.js';

/** POSTs firing/resolved events to an Alertmanager API v2 endpoint (…/api/v2/alerts); best effort. */
export function alertmanagerWebhook(url: string, fetchImpl: typeof fetch = fetch): AlertPublisher {
  return {
    bestEffort: true,
    async publish(events) {
      const alerts = events.map((e) => toAlertmanagerAlert(e)).filter((a) => a !== undefined);
      if (alerts.length === 0) return;
      const res = await fetchImpl(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alerts),
      });
      if (!res.ok) throw new Error(`alertmanager webhook ${url}: HTTP ${res.status} ${await res.text()}`);
    },
  };
}
