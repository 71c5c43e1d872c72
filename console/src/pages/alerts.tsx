import { useCallback, useContext, useEffect, useState } from 'preact/hooks';
import { api, type Page } from '../api.js';
import { ActionForm, bodyOf, type FieldSpec } from '../components/action-form.js';
import { dateTime } from '../format.js';
import { t, useLanguage } from '../i18n.js';
import { type LiveEvent, useEvents } from '../live.js';
import { SessionContext } from '../session.js';

interface Alert {
  id: string;
  ruleId: string;
  deviceId: string;
  state: 'pending' | 'firing' | 'resolved' | 'inactive';
  priority: string;
  value: number | string | boolean | null;
  activeAt: string | null;
  firedAt: string | null;
  flapping: boolean;
  silencedBy: string | null;
  ticketId: string | null;
}

interface Silence {
  id: string;
  devices: string[];
  to: string;
  state: 'planned' | 'active' | 'over';
  recurring: boolean;
}

const EVENTS = ['alert.firing', 'alert.resolved'];
const SILENCE: FieldSpec[] = [
  { path: 'duration', label: 'field.duration', kind: 'text', required: true },
  { path: 'reason', label: 'field.reason', kind: 'textarea', required: true },
];

/**
 * Firing and pending alerts (issue 21), live; a dispatcher silences a device for a while (a
 * maintenance window: alerts recorded, no tickets) or ends the window that silences it.
 */
export function Alerts() {
  useLanguage();
  const { user } = useContext(SessionContext);
  const mayWrite = user.role === 'dispatcher' || user.role === 'admin';
  const [alerts, setAlerts] = useState<Alert[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  /** Active maintenance windows by device (those a dispatcher opened for one device here or elsewhere). */
  const [windows, setWindows] = useState<Map<string, { id: string; to: string }>>(new Map());
  const load = useCallback(() => {
    api<Page<Alert>>('GET', '/alerts?state=firing,pending&limit=500')
      .then((p) => setAlerts(p.items))
      .catch((err: unknown) => setError(err instanceof Error ? err.message : String(err)));
    api<{ items: Silence[] }>('GET', '/silences')
      .then((r) => {
        const m = new Map<string, { id: string; to: string }>();
        for (const w of r.items)
          if (w.state === 'active' && !w.recurring)
            for (const d of w.devices) m.set(d, { id: w.id, to: w.to });
        setWindows(m);
      })
      .catch(() => setWindows(new Map()));
  }, []);
  useEffect(load, [load]);
  const onEvent = useCallback((_e: LiveEvent) => load(), [load]);
  useEvents(EVENTS, onEvent);

  return (
    <section aria-labelledby="alerts-title">
      <h1 id="alerts-title">{t('alerts.title')}</h1>
      {error ? (
        <p class="error" role="alert">
          {t('error.generic', { m: error })}
        </p>
      ) : null}
      {alerts && alerts.length === 0 ? <p>{t('alerts.empty')}</p> : null}
      {alerts && alerts.length > 0 ? (
        <table class="grid">
          <thead>
            <tr>
              <th scope="col">{t('col.device')}</th>
              <th scope="col">{t('col.rule')}</th>
              <th scope="col">{t('col.state')}</th>
              <th scope="col">{t('col.value')}</th>
              <th scope="col">{t('col.since')}</th>
              <th scope="col">{t('col.ticket')}</th>
              {mayWrite ? <th scope="col">{t('action.title')}</th> : null}
            </tr>
          </thead>
          <tbody>
            {alerts.map((a) => (
              <tr key={a.id} data-alert={a.id}>
                <td>
                  <a href={`/devices/${encodeURIComponent(a.deviceId)}`}>{a.deviceId}</a>
                </td>
                <td>{a.ruleId}</td>
                <td>
                  <span class={`state state-${a.state}`}>{a.state}</span>
                  {a.flapping ? ` · ${t('alerts.flapping')}` : ''}
                  {a.silencedBy || windows.has(a.deviceId)
                    ? ` · ${t('alerts.silenced')}${windows.has(a.deviceId) ? ` → ${dateTime(windows.get(a.deviceId)?.to as string)}` : ''}`
                    : ''}
                </td>
                <td>{a.value === null ? '—' : String(a.value)}</td>
                <td>{(a.firedAt ?? a.activeAt) ? dateTime((a.firedAt ?? a.activeAt) as string) : '—'}</td>
                <td>
                  {a.ticketId ? <a href={`/tickets/${encodeURIComponent(a.ticketId)}`}>{a.ticketId}</a> : '—'}
                </td>
                {mayWrite ? (
                  <td>
                    {windows.has(a.deviceId) ? (
                      <button
                        type="button"
                        onClick={() =>
                          api(
                            'DELETE',
                            `/silences/${encodeURIComponent(windows.get(a.deviceId)?.id as string)}`,
                          ).then(load, (e: Error) => setError(e.message))
                        }
                      >
                        {t('alerts.unsilence')}
                      </button>
                    ) : open === a.id ? (
                      <ActionForm
                        id={`silence-${a.deviceId}`}
                        fields={SILENCE}
                        submit={t('alerts.silence')}
                        onSubmit={(v) =>
                          api('POST', '/silences', bodyOf(SILENCE, v, { devices: [a.deviceId] }))
                        }
                        onDone={() => {
                          setOpen(null);
                          load();
                        }}
                        onCancel={() => setOpen(null)}
                      />
                    ) : (
                      <button type="button" onClick={() => setOpen(a.id)}>
                        {t('alerts.silence')}
                      </button>
                    )}
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
