import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { api } from '../api.js';
import { dateTime } from '../format.js';
import { t } from '../i18n.js';

export interface TelemetryPoint {
  t: string;
  min: number;
  max: number;
  mean: number;
  last: number;
  count: number;
}

/** The steps the history API offers, and how many points a chart asks for at most. */
const MINUTE = 60_000;
const MAX_POINTS = 600;

/** A step for a range: whole minutes, at most MAX_POINTS of them (rollups are per minute). */
export function stepFor(fromMs: number, toMs: number): number {
  return Math.max(1, Math.ceil((toMs - fromMs) / MAX_POINTS / MINUTE)) * MINUTE;
}

/**
 * A metric's history as a uPlot chart (mean, with the min and max of each step), from the local
 * per-minute rollups (`GET /devices/:id/telemetry`). Drag across it to zoom in (the range is asked
 * again at a finer step); `onRange` tells the page. A caption names the range and the extremes in
 * words, and a marker shows `mark` (the fault's time).
 */
export function TelemetryChart(props: {
  deviceId: string;
  metric: string;
  from: number;
  to: number;
  mark?: number;
  onRange?: (from: number, to: number) => void;
}) {
  const box = useRef<HTMLDivElement>(null);
  const [points, setPoints] = useState<TelemetryPoint[] | null>(null);
  const [source, setSource] = useState<{ name: string; fallback?: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const { deviceId, metric, from, to } = props;

  useEffect(() => {
    let cancelled = false;
    const q = new URLSearchParams({
      metric,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      step: `${stepFor(from, to) / MINUTE}m`,
    });
    api<{ points: TelemetryPoint[]; source: string; fallback?: string }>(
      'GET',
      `/devices/${encodeURIComponent(deviceId)}/telemetry?${q}`,
    )
      .then((r) => {
        if (cancelled) return;
        setPoints(r.points);
        setSource({ name: r.source, ...(r.fallback ? { fallback: r.fallback } : {}) });
        setError(null);
      })
      .catch((err: unknown) => {
        if (!cancelled) setError(err instanceof Error ? err.message : String(err));
      });
    return () => {
      cancelled = true;
    };
  }, [deviceId, metric, from, to]);

  useEffect(() => {
    const el = box.current;
    if (!el || !points) return;
    const xs = points.map((p) => Date.parse(p.t) / 1000);
    const mark = props.mark;
    const plot = new uPlot(
      {
        width: Math.max(280, el.clientWidth),
        height: 220,
        scales: { x: { time: true } },
        series: [
          {},
          { label: t('chart.max'), stroke: '#bc4c00', width: 1, dash: [4, 4] },
          { label: t('chart.mean'), stroke: '#0b5cad', width: 2 },
          { label: t('chart.min'), stroke: '#1a7f37', width: 1, dash: [4, 4] },
        ],
        cursor: { drag: { x: true, y: false } },
        hooks: {
          setSelect: [
            (u) => {
              if (u.select.width < 4 || !props.onRange) return;
              const a = u.posToVal(u.select.left, 'x') * 1000;
              const b = u.posToVal(u.select.left + u.select.width, 'x') * 1000;
              props.onRange(Math.floor(a), Math.ceil(b));
            },
          ],
          draw:
            mark === undefined
              ? []
              : [
                  (u) => {
                    const x = u.valToPos(mark / 1000, 'x', true);
                    const ctx = u.ctx;
                    ctx.save();
                    ctx.strokeStyle = '#cf222e';
                    ctx.lineWidth = 2;
                    ctx.beginPath();
                    ctx.moveTo(x, u.bbox.top);
                    ctx.lineTo(x, u.bbox.top + u.bbox.height);
                    ctx.stroke();
                    ctx.restore();
                  },
                ],
        },
      },
      [xs, points.map((p) => p.max), points.map((p) => p.mean), points.map((p) => p.min)],
      el,
    );
    return () => plot.destroy();
  }, [points, props.mark, props.onRange]);

  const lo = points?.length ? Math.min(...points.map((p) => p.min)) : null;
  const hi = points?.length ? Math.max(...points.map((p) => p.max)) : null;
  return (
    <figure class="chart">
      <figcaption>
        {metric} · {dateTime(from)} – {dateTime(to)}
        {lo !== null && hi !== null ? ` · ${t('chart.range', { lo: round(lo), hi: round(hi) })}` : ''}
        {source ? ` · ${source.name === 'influxdb' ? t('chart.fromInflux') : t('chart.fromRollups')}` : ''}
      </figcaption>
      {source?.fallback ? <p class="hint">{source.fallback}</p> : null}
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      {points && points.length === 0 ? <p>{t('chart.empty')}</p> : null}
      <div ref={box} class="chart-plot" aria-hidden="true" />
    </figure>
  );
}

const round = (x: number) => Math.round(x * 100) / 100;
