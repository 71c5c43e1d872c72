import { z } from 'zod';
import { connectivityPoint, isValidDeviceId } from '../../../ingest/point.js';
import { type Decoder, fail, withTags } from './types.js';

export const statusOptionsSchema = z
  .object({
    /** Payload texts that mean online; compared case-insensitively. */
    online: z.array(z.string()).default(['online', 'true', '1', 'connected', 'up']),
    /** Payload texts that mean offline (a last will usually says this). */
    offline: z.array(z.string()).default(['offline', 'false', '0', 'disconnected', 'down', 'lost']),
  })
  .strict();

export type StatusOptions = z.output<typeof statusOptionsSchema>;

/**
 * A device's status message — typically its MQTT last will (`offline`) and its first message after
 * connecting (`online`) — as a connectivity change. Plain text, or JSON `{"online": false}` /
 * `{"status": "offline"}`.
 */
export function statusDecoder(o: StatusOptions): Decoder {
  const online = new Set(o.online.map((s) => s.toLowerCase()));
  const offline = new Set(o.offline.map((s) => s.toLowerCase()));
  return (payload, ctx) => {
    const deviceId = ctx.vars.device;
    if (!deviceId || !isValidDeviceId(deviceId)) return fail(`no valid device id in topic "${ctx.topic}"`);
    let text = payload.toString('utf8').trim();
    if (text.startsWith('{')) {
      try {
        const j = JSON.parse(text) as { online?: unknown; status?: unknown; state?: unknown };
        text = String(j.online ?? j.status ?? j.state ?? '');
      } catch {
        return fail('status payload is not valid JSON', deviceId);
      }
    }
    const key = text.toLowerCase();
    const state = online.has(key) ? 'online' : offline.has(key) ? 'offline' : undefined;
    if (!state) return fail(`"${text.slice(0, 40)}" is neither an online nor an offline status`, deviceId);
    const p = connectivityPoint(
      deviceId,
      state,
      `status message "${text.slice(0, 40)}"`,
      ctx.receivedAt,
      ctx.receivedAt,
      ctx.source,
    );
    return { points: [withTags(p, ctx)], problems: [] };
  };
}
