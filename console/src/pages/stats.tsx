import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { duration } from '../format.js';
import { type Key, t, useLanguage } from '../i18n.js';

interface Summary {
  count: number;
  meanMs: number | null;
  medianMs: number | null;
  p90Ms: number | null;
}
interface Group {
  key: string;
  tickets: number;
  open: number;
  resolved: number;
  stages: Record<Stage, Summary>;
  compliance: Record<string, { met: number; breached: number; rate: number | null }>;
  lateStage: { target: string; tickets: number } | null;
  satisfaction: { count: number; mean: number | null };
}
interface Stats {
  from: string;
  to: string;
  overall: Group;
  groups: Group[];
  satisfactionByResponse: { bucket: string; count: number; meanScore: number | null }[];
}

type Stage = 'respond' | 'onsite' | 'remoteFix' | 'resolve';
const STAGES: Stage[] = ['respond', 'onsite', 'remoteFix', 'resolve'];
const GROUP_BY = ['faultType', 'priority', 'site', 'team', 'technician', 'customer'] as const;
const PERIODS = [7, 30, 90, 365];
const DAY = 86_400_000;

/**
 * Where the time goes (issue 21): per group, the time to respond, arrive, fix remotely and resolve
 * (median and 90th percentile as a bar, the numbers beside it), compliance per target, the stage
 * that makes tickets late, and satisfaction against the time to respond; the same as CSV.
 */
export function StatsPage() {
  useLanguage();
  const [groupBy, setGroupBy] = useState<(typeof GROUP_BY)[number]>('faultType');
  const [days, setDays] = useState(30);
  const [stats, setStats] = useState<Stats | null>(null);
  const [error, setError] = useState<string | null>(null);
  const query = () => {
    const to = Date.now();
    return new URLSearchParams({
      groupBy,
      from: new Date(to - days * DAY).toISOString(),
      to: new Date(to).toISOString(),
    });
  };
  useEffect(() => {
    api<Stats>('GET', `/stats/sla?${query()}`)
      .then(setStats)
      .catch((err: unknown) => setError(err instanceof Error ? err.message : String(err)));
  }, [groupBy, days]);
  const longest = Math.max(
    1,
    ...(stats?.groups ?? []).flatMap((g) => STAGES.map((s) => g.stages[s].p90Ms ?? 0)),
  );
  return (
    <section aria-labelledby="stats-title" class="stats">
      <h1 id="stats-title">{t('stats.title')}</h1>
      <div class="filters">
        <label class="filter" for="stats-group">
          <span>{t('stats.groupBy')}</span>
          <select
            id="stats-group"
            value={groupBy}
            onChange={(e) => setGroupBy(e.currentTarget.value as typeof groupBy)}
          >
            {GROUP_BY.map((g) => (
              <option key={g} value={g}>
                {g}
              </option>
            ))}
          </select>
        </label>
        <label class="filter" for="stats-period">
          <span>{t('stats.period')}</span>
          <select
            id="stats-period"
            value={String(days)}
            onChange={(e) => setDays(Number(e.currentTarget.value))}
          >
            {PERIODS.map((d) => (
              <option key={d} value={d}>
                {d} d
              </option>
            ))}
          </select>
        </label>
        <a class="button" href={`/api/v1/stats/sla?${query()}&format=csv`} download>
          {t('stats.csv')}
        </a>
      </div>
      {error ? (
        <p class="error" role="alert">
          {t('error.generic', { m: error })}
        </p>
      ) : null}
      {stats && stats.groups.length === 0 ? <p>{t('stats.none')}</p> : null}
      {(stats?.groups ?? []).map((g) => (
        <section key={g.key} class="stat-group" aria-labelledby={`g-${g.key}`}>
          <h2 id={`g-${g.key}`}>
            {g.key}{' '}
            <small>
              · {t('stats.tickets')} {g.tickets}
            </small>
          </h2>
          <table class="grid">
            <thead>
              <tr>
                <th scope="col">
                  <span class="sr-only">{t('stats.stage')}</span>
                </th>
                <th scope="col">{t('stats.median')}</th>
                <th scope="col">{t('stats.p90')}</th>
                <th scope="col">
                  <span class="sr-only">
                    {t('stats.median')} – {t('stats.p90')}
                  </span>
                </th>
              </tr>
            </thead>
            <tbody>
              {STAGES.filter((s) => g.stages[s].count > 0).map((s) => (
                <tr key={s}>
                  <th scope="row">
                    {t(`stats.stage.${s}` as Key)} <small>(n={g.stages[s].count})</small>
                  </th>
                  <td>{duration(g.stages[s].medianMs ?? 0)}</td>
                  <td>{duration(g.stages[s].p90Ms ?? 0)}</td>
                  <td aria-hidden="true" class="dist">
                    <span
                      class="dist-range"
                      style={{
                        left: `${((g.stages[s].medianMs ?? 0) / longest) * 100}%`,
                        width: `${(((g.stages[s].p90Ms ?? 0) - (g.stages[s].medianMs ?? 0)) / longest) * 100}%`,
                      }}
                    />
                    <span
                      class="dist-median"
                      style={{ left: `${((g.stages[s].medianMs ?? 0) / longest) * 100}%` }}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <p>
            {t('stats.compliance')}:{' '}
            {Object.entries(g.compliance)
              .map(
                ([k, c]) =>
                  `${t(`clock.${k}` as Key)} ${c.rate === null ? '—' : `${Math.round(c.rate * 100)}%`}`,
              )
              .join(' · ')}
            {g.lateStage
              ? ` · ${t('stats.late')}: ${t(`clock.${g.lateStage.target}` as Key)} (${g.lateStage.tickets})`
              : ''}
          </p>
        </section>
      ))}
      {stats ? (
        <section aria-labelledby="sat-title">
          <h2 id="sat-title">{t('stats.satisfaction')}</h2>
          <table class="grid">
            <tbody>
              {stats.satisfactionByResponse.map((b) => (
                <tr key={b.bucket}>
                  <th scope="row">{b.bucket}</th>
                  <td>{b.meanScore === null ? '—' : `${b.meanScore.toFixed(1)} / 5`}</td>
                  <td>n={b.count}</td>
                  <td aria-hidden="true" class="dist">
                    <span class="dist-bar" style={{ width: `${((b.meanScore ?? 0) / 5) * 100}%` }} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ) : null}
    </section>
  );
}
