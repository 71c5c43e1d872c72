import type { Point } from '../../../ingest/point.js';

export interface DecodeContext {
  topic: string;
  /** Values of the topic template's placeholders (`device`, `site`, `metric`, …). */
  vars: Record<string, string>;
  /** Static tags configured for the subscription. */
  tags: Record<string, string>;
  /**
   * `tagsFrom` of this context, worked out once per topic by the router (null: no tags); shared by
   * every reading of the topic, so never changed.
   */
  readingTags?: Readonly<Record<string, string>> | null;
  receivedAt: number;
  source: string;
}

export interface DecodeProblem {
  deviceId: string | null;
  reason: string;
  /** True when the rest of the payload was kept. */
  partial: boolean;
}

export interface Decoded {
  points: Point[];
  problems: DecodeProblem[];
  /** Things worth a log line that are not about this payload (a Sparkplug sequence gap). */
  warnings?: string[];
}

/** Turns one MQTT message into readings. Never throws: problems are returned with their reason. */
export type Decoder = (payload: Buffer, ctx: DecodeContext) => Decoded;

/** Tags of a reading: template placeholders other than device and metric, then static tags. */
export function tagsFrom(
  ctx: Pick<DecodeContext, 'vars' | 'tags' | 'readingTags'>,
): Readonly<Record<string, string>> | undefined {
  if (ctx.readingTags !== undefined) return ctx.readingTags ?? undefined;
  const tags: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx.vars)) if (k !== 'device' && k !== 'metric') tags[k] = v;
  Object.assign(tags, ctx.tags);
  return Object.keys(tags).length ? tags : undefined;
}

export function withTags(p: Point, ctx: DecodeContext): Point {
  const tags = tagsFrom(ctx);
  if (tags) p.tags = p.tags ? { ...tags, ...p.tags } : (tags as Record<string, string>);
  return p;
}

export const fail = (reason: string, deviceId: string | null = null): Decoded => ({
  points: [],
  problems: [{ deviceId, reason, partial: false }],
});
