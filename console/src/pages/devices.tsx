import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, type Page } from '../api.js';
import { TelemetryChart } from '../components/lazy-chart.js';
import { dateTime } from '../format.js';
import { t, useLanguage } from '../i18n.js';

interface Device {
  id: string;
  name: string | null;
  site: string | null;
  model: string | null;
  lastSeenAt: string | null;
  lastValues: Record<string, { value: unknown; ts: string }>;
  connectivity: { state: 'online' | 'offline' | 'unknown'; since: string | null };
}

const connectivity = (d: Device) =>
  d.connectivity.state === 'online'
    ? `● ${t('devices.online')}`
    : d.connectivity.state === 'offline'
      ? `○ ${t('devices.offline')}`
      : `– ${t('devices.unknown')}`;

const shown = (v: unknown) => (typeof v === 'number' ? String(Math.round(v * 100) / 100) : String(v));

/** Devices with connectivity and last values (issue 21). */
export function Devices() {
  useLanguage();
  const [devices, setDevices] = useState<Device[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api<Page<Device>>('GET', '/devices?limit=500')
      .then((p) => setDevices(p.items))
      .catch((err: unknown) => setError(err instanceof Error ? err.message : String(err)));
  }, []);
  return (
    <section aria-labelledby="devices-title">
      <h1 id="devices-title">{t('devices.title')}</h1>
      {error ? (
        <p class="error" role="alert">
          {t('error.generic', { m: error })}
        </p>
      ) : null}
      <table class="grid">
        <thead>
          <tr>
            <th scope="col">{t('col.device')}</th>
            <th scope="col">{t('col.site')}</th>
            <th scope="col">{t('col.state')}</th>
            <th scope="col">{t('devices.lastSeen')}</th>
            <th scope="col">{t('col.value')}</th>
          </tr>
        </thead>
        <tbody>
          {(devices ?? []).map((d) => (
            <tr key={d.id} data-device={d.id}>
              <td>
                <a href={`/devices/${encodeURIComponent(d.id)}`}>{d.name ?? d.id}</a>
              </td>
              <td>{d.site ?? '—'}</td>
              <td class={`conn conn-${d.connectivity.state}`}>{connectivity(d)}</td>
              <td>{d.lastSeenAt ? dateTime(d.lastSeenAt) : '—'}</td>
              <td>
                {Object.entries(d.lastValues)
                  .slice(0, 4)
                  .map(([k, v]) => `${k} ${shown(v.value)}`)
                  .join(' · ')}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

const RANGES = [
  { label: '1h', ms: 3_600_000 },
  { label: '6h', ms: 6 * 3_600_000 },
  { label: '24h', ms: 86_400_000 },
  { label: '7d', ms: 7 * 86_400_000 },
  { label: '30d', ms: 30 * 86_400_000 },
  { label: '90d', ms: 90 * 86_400_000 },
];

/** One device: its last values and a telemetry chart of a chosen metric, over hours to months. */
export function DevicePage(props: { id?: string }) {
  useLanguage();
  const id = props.id ?? '';
  const [device, setDevice] = useState<Device | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [metric, setMetric] = useState<string | null>(null);
  const [range, setRange] = useState(() => ({ from: Date.now() - 3_600_000, to: Date.now() }));
  const zoom = useCallback((from: number, to: number) => setRange({ from, to }), []);
  useEffect(() => {
    api<Device>('GET', `/devices/${encodeURIComponent(id)}`)
      .then((d) => {
        setDevice(d);
        const numeric = Object.entries(d.lastValues).find(([, v]) => typeof v.value === 'number');
        setMetric((m) => m ?? numeric?.[0] ?? null);
      })
      .catch((err: unknown) => setError(err instanceof Error ? err.message : String(err)));
  }, [id]);
  if (error)
    return (
      <p class="error" role="alert">
        {t('error.generic', { m: error })}
      </p>
    );
  if (!device) return <p>{t('queue.loading')}</p>;
  const metrics = Object.entries(device.lastValues)
    .filter(([, v]) => typeof v.value === 'number')
    .map(([k]) => k);
  return (
    <article aria-labelledby="device-title">
      <h1 id="device-title">{device.name ?? device.id}</h1>
      <p class={`conn conn-${device.connectivity.state}`}>
        {connectivity(device)}
        {device.lastSeenAt ? ` · ${t('devices.lastSeen')} ${dateTime(device.lastSeenAt)}` : ''}
      </p>
      <dl class="facts">
        {Object.entries(device.lastValues).map(([k, v]) => (
          <>
            <dt key={`${k}-t`}>{k}</dt>
            <dd key={`${k}-d`}>
              {shown(v.value)} <small>({dateTime(v.ts)})</small>
            </dd>
          </>
        ))}
      </dl>
      {metric ? (
        <>
          <div class="filters">
            <label class="filter" for="device-metric">
              <span>{t('devices.metric')}</span>
              <select id="device-metric" value={metric} onChange={(e) => setMetric(e.currentTarget.value)}>
                {metrics.map((m) => (
                  <option key={m} value={m}>
                    {m}
                  </option>
                ))}
              </select>
            </label>
            <fieldset class="ranges">
              <legend>{t('devices.range')}</legend>
              {RANGES.map((r) => (
                <button
                  key={r.label}
                  type="button"
                  aria-pressed={Math.abs(range.to - range.from - r.ms) < 1000}
                  onClick={() => setRange({ from: Date.now() - r.ms, to: Date.now() })}
                >
                  {r.label}
                </button>
              ))}
            </fieldset>
          </div>
          <TelemetryChart
            deviceId={device.id}
            metric={metric}
            from={range.from}
            to={range.to}
            onRange={zoom}
          />
          <p class="hint">{t('chart.zoom')}</p>
        </>
      ) : null}
    </article>
  );
}
