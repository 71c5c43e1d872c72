import { language } from './i18n.js';

/** A time in the user's time zone and language (`Intl`), short. */
export function dateTime(iso: string | number): string {
  return new Intl.DateTimeFormat(language(), { dateStyle: 'short', timeStyle: 'short' }).format(
    new Date(iso),
  );
}

const unit = (n: number, u: 'day' | 'hour' | 'minute' | 'second') =>
  new Intl.NumberFormat(language(), { style: 'unit', unit: u, unitDisplay: 'narrow' }).format(n);

/** A duration as the two largest units that matter (`2d 4h`, `35m`, `40s`). */
export function duration(ms: number): string {
  // Down to the second below: "59m left" until the hour is really left.
  const s = Math.max(0, Math.floor(Math.abs(ms) / 1000));
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3_600);
  const m = Math.floor((s % 3_600) / 60);
  if (d > 0) return h > 0 ? `${unit(d, 'day')} ${unit(h, 'hour')}` : unit(d, 'day');
  if (h > 0) return m > 0 ? `${unit(h, 'hour')} ${unit(m, 'minute')}` : unit(h, 'hour');
  if (m > 0) return unit(m, 'minute');
  return unit(s, 'second');
}
