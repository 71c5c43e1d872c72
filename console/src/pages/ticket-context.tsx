import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, OPEN_STATUSES, type Page, type Ticket } from '../api.js';
import { TelemetryChart } from '../components/lazy-chart.js';
import { dateTime } from '../format.js';
import { t } from '../i18n.js';

const HOUR = 3_600_000;

interface Alert {
  id: string;
  ruleId: string;
  state: string;
  value: number | string | boolean | null;
  firedAt: string | null;
  resolvedAt: string | null;
  fireCount: number;
}

/**
 * What a ticket came from: the triggering alert, a chart of its rule's metric around the fault
 * (an hour either side; drag to zoom), and the device's other open tickets.
 */
export function TicketContext(props: { ticket: Ticket }) {
  const tk = props.ticket;
  const [alert, setAlert] = useState<Alert | null>(null);
  const [metric, setMetric] = useState<string | null>(null);
  const [others, setOthers] = useState<Ticket[] | null>(null);
  const at = Date.parse(tk.reportedAt);
  const [range, setRange] = useState({ from: at - HOUR, to: Math.min(Date.now(), at + HOUR) });
  const zoom = useCallback((from: number, to: number) => setRange({ from, to }), []);

  useEffect(() => {
    if (tk.alertId)
      api<Alert>('GET', `/alerts/${encodeURIComponent(tk.alertId)}`)
        .then(setAlert)
        .catch(() => setAlert(null));
    if (tk.ruleId)
      api<{ match?: { metric?: string } }>('GET', `/rules/${encodeURIComponent(tk.ruleId)}`)
        .then((r) => setMetric(r.match?.metric ?? null))
        .catch(() => setMetric(null));
    if (tk.deviceId) {
      const q = new URLSearchParams({ deviceId: tk.deviceId, status: OPEN_STATUSES.join(','), limit: '50' });
      api<Page<Ticket>>('GET', `/tickets?${q}`)
        .then((p) => setOthers(p.items.filter((o) => o.id !== tk.id)))
        .catch(() => setOthers(null));
    }
  }, [tk.alertId, tk.ruleId, tk.deviceId, tk.id]);

  return (
    <>
      {alert ? (
        <section class="alert-context" aria-labelledby="alert-title">
          <h2 id="alert-title">{t('ticket.alert')}</h2>
          <p>
            <code>{alert.id}</code> · {alert.state}
            {alert.value !== null ? ` · ${String(alert.value)}` : ''}
            {alert.firedAt ? ` · ${dateTime(alert.firedAt)}` : ''}
            {alert.fireCount > 1 ? ` · ×${alert.fireCount}` : ''}
          </p>
        </section>
      ) : null}
      {metric && tk.deviceId ? (
        <section aria-label={metric}>
          <TelemetryChart
            deviceId={tk.deviceId}
            metric={metric}
            from={range.from}
            to={range.to}
            mark={at}
            onRange={zoom}
          />
          <p class="hint">{t('chart.zoom')}</p>
        </section>
      ) : null}
      {others ? (
        <section aria-labelledby="others-title">
          <h2 id="others-title">{t('ticket.others')}</h2>
          {others.length === 0 ? (
            <p>{t('ticket.noOthers')}</p>
          ) : (
            <ul>
              {others.map((o) => (
                <li key={o.id}>
                  <a href={`/tickets/${encodeURIComponent(o.id)}`}>
                    {o.id} {o.title}
                  </a>{' '}
                  — {t(`status.${o.status}` as 'status.open')}
                </li>
              ))}
            </ul>
          )}
        </section>
      ) : null}
    </>
  );
}
