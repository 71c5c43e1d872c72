import { useEffect, useState } from 'preact/hooks';
import type { TelemetryChart as Chart } from './chart.js';

type Props = Parameters<typeof Chart>[0];
let loaded: typeof Chart | undefined;

/**
 * The telemetry chart, loaded with the first page that draws one: uPlot is most of the console's
 * weight, and the queue — the page people keep open — does not need it.
 */
export function TelemetryChart(props: Props) {
  const [C, setC] = useState<typeof Chart | undefined>(() => loaded);
  useEffect(() => {
    if (C) return;
    void import('./chart.js').then((m) => {
      loaded = m.TelemetryChart;
      setC(() => m.TelemetryChart);
    });
  }, [C]);
  return C ? <C {...props} /> : <figure class="chart" aria-busy="true" />;
}
