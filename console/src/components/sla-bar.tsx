import type { Clock, SlaTarget } from '../api.js';
import { duration } from '../format.js';
import { t } from '../i18n.js';

/** The level a clock has reached: below the first warning share, past one, past the last, over. */
export type Level = 'ok' | 'warn' | 'late' | 'over' | 'met' | 'paused';

/**
 * Working time used now: as answered, plus the time since the answer while the clock runs (a
 * business-hours clock is re-read when its ticket changes; the queue refreshes them now and then).
 */
export function elapsedNow(c: Clock, receivedAt: number, now: number): number {
  if (c.metAt !== null || c.pausedAt !== null) return c.elapsedMs;
  return c.elapsedMs + Math.max(0, now - receivedAt);
}

export function levelOf(c: Clock, share: number, warnAt: readonly number[]): Level {
  if (c.metAt !== null) return c.state === 'breached' ? 'over' : 'met';
  if (share >= 100 || c.state === 'breached') return 'over';
  if (c.pausedAt !== null) return 'paused';
  const sorted = [...warnAt].sort((a, b) => a - b);
  if (sorted.length > 1 && share >= (sorted.at(-1) as number)) return 'late';
  if (sorted.length > 0 && share >= (sorted[0] as number)) return 'warn';
  return 'ok';
}

const SYMBOL: Record<Level, string> = { ok: '', warn: '!', late: '!!', over: '✕', met: '✓', paused: '⏸' };

/**
 * One SLA clock as a bar: the share of its working time used, coloured at the warning levels, and —
 * never by colour alone — a symbol and the words (state, time left or over).
 */
export function SlaBar(props: {
  target: SlaTarget;
  clock: Clock;
  receivedAt: number;
  now: number;
  warnAt: readonly number[];
}) {
  const { clock: c, target, now } = props;
  const share = c.targetMs > 0 ? (elapsedNow(c, props.receivedAt, now) / c.targetMs) * 100 : 100;
  const level = levelOf(c, share, props.warnAt);
  const left = Date.parse(c.dueAt) - now;
  const when =
    c.metAt !== null
      ? t('clock.metIn')
      : c.pausedAt !== null
        ? t('clock.pausedAt')
        : left >= 0
          ? t('clock.left', { d: duration(left) })
          : t('clock.over', { d: duration(left) });
  const name = t(`clock.${target}`);
  const label = `${name}: ${Math.min(999, Math.round(share))}%, ${t(`clockState.${c.state}`)}, ${when}`;
  return (
    <div class={`sla sla-${level}`} title={label}>
      <span class="sla-name">{name}</span>
      <meter class="sr-only" min={0} max={100} value={Math.min(100, Math.round(share))} aria-label={label} />
      <div class="sla-track" aria-hidden="true">
        <div class="sla-fill" style={{ width: `${Math.min(100, share)}%` }} />
        {props.warnAt.map((w) => (
          <span key={w} class="sla-mark" style={{ left: `${w}%` }} />
        ))}
      </div>
      <span class="sla-when" aria-hidden="true">
        {SYMBOL[level] ? <b class="sla-symbol">{SYMBOL[level]}</b> : null} {when}
      </span>
    </div>
  );
}
