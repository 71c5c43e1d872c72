import { useEffect, useState } from 'preact/hooks';

export interface LiveEvent {
  id: string;
  type: string;
  subject: string;
  data: unknown;
}

/**
 * Follows the gateway's event stream (`GET /api/v1/events`, Server-Sent Events; the session cookie
 * goes with it). EventSource reconnects by itself and resumes with Last-Event-ID, so nothing is
 * missed across a drop. Resolves whether the stream is up, for the "live" badge.
 */
export function useEvents(types: readonly string[], onEvent: (e: LiveEvent) => void): boolean {
  const [up, setUp] = useState(false);
  useEffect(() => {
    const source = new EventSource(`/api/v1/events?types=${encodeURIComponent(types.join(','))}`);
    const handle = (m: MessageEvent<string>) => {
      try {
        onEvent(JSON.parse(m.data) as LiveEvent);
      } catch {
        // An event this console cannot read is skipped; the next refresh shows its effect.
      }
    };
    // SSE frames carry `event: <type>`: one listener per type.
    for (const k of types) source.addEventListener(k, handle as EventListener);
    source.onopen = () => setUp(true);
    source.onerror = () => setUp(source.readyState === EventSource.OPEN);
    return () => source.close();
  }, [types, onEvent]);
  return up;
}

/** The current time, ticking every `ms` (SLA bars and "time left"). */
export function useNow(ms = 1_000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}
