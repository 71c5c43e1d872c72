import { describe, expect, it } from 'vitest';
import { auth, gatewayFixture, postJson, waitFor } from './helpers.js';

/** Issue 18: ticket and SLA figures in /metrics, beside the ingest ones (open per class, notices). */
const CONFIG = `
sites: [{ id: north }]
sla:
  warnAt: [50]
  emergency: { response: 1s, onsite: 1h }
`;

describe('ticket and SLA metrics', () => {
  const g = gatewayFixture(CONFIG);

  it('counts open tickets per class and the warnings and breaches of their clocks', async () => {
    const filed = await postJson(g.api('/tickets'), {
      title: 'Safety door open',
      priority: 'emergency',
      source: 'phone',
      reporter: { name: 'Operator' },
      faultType: 'safety',
    });
    expect(filed.status).toBe(201);
    const scrape = async () =>
      (await (await fetch(`${g.gw.apiUrl}/metrics`, { headers: auth() })).text()).split('\n');
    const lines = await waitFor(async () => {
      const l = await scrape();
      return l.includes('faultline_sla_notices_total{stage="breach",target="response"} 1') ? l : undefined;
    }, 10_000);
    expect(lines).toContain('faultline_tickets_open{priority="emergency"} 1');
    expect(lines.find((l) => l.startsWith('faultline_instance_info{'))).toMatch(
      /storage="sqlite",role="single"} 1$/,
    );
    expect(lines.some((l) => l.startsWith('faultline_devices_evaluated'))).toBe(false);
    expect(lines).toContain('faultline_tickets_open{priority="general"} 0');
    expect(lines).toContain('faultline_sla_notices_total{stage="warning",target="response"} 1');
  });
});
