import type { AlertEvent } from '../../alerts/events.js';

/**
 * The alert events the demo has read from the alerts topic, in arrival order. The evaluator publishes
 * at least once (a retried send or a leader change may repeat an event); repeats carry the same
 * `event_id` label and are dropped here, so every state change is counted once.
 */
export class AlertLog {
  private readonly seen = new Set<string>();
  private readonly list: AlertEvent[] = [];
  private readonly latest = new Map<string, AlertEvent>();

  /** Adds an event; false when it is a repeat. */
  add(event: AlertEvent): boolean {
    const id = event.labels.event_id ?? `${event.fingerprint}:${event.started_at}:${event.state}`;
    if (this.seen.has(id)) return false;
    this.seen.add(id);
    this.list.push(event);
    this.latest.set(event.fingerprint, event);
    return true;
  }

  get events(): readonly AlertEvent[] {
    return this.list;
  }

  /** Alerts whose latest state is pending or firing, firing first. */
  active(): AlertEvent[] {
    return [...this.latest.values()]
      .filter((e) => e.state === 'pending' || e.state === 'firing')
      .sort((a, b) => (a.state === b.state ? a.started_at - b.started_at : a.state === 'firing' ? -1 : 1));
  }

  count(state: AlertEvent['state']): number {
    let n = 0;
    for (const e of this.latest.values()) if (e.state === state) n++;
    return n;
  }
}
