/** Table formatting for the bench's output (Markdown, so that it pastes into docs/benchmarks.md). */

export const int = (x: number) => Math.round(x).toLocaleString('en-US');
export const fixed = (x: number, d = 1) =>
  x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });

export function table(head: string[], rows: (string | number)[][], align?: ('l' | 'r')[]): string {
  const a = align ?? head.map((_, i) => (i === 0 ? 'l' : 'r'));
  const sep = a.map((x) => (x === 'r' ? '---:' : '---'));
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return `${[line(head), line(sep), ...rows.map(line)].join('\n')}\n`;
}

/** Percentile (nearest rank) of unsorted values. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((x, y) => x - y);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}
