import { z } from 'zod';
import { compileTopicTemplate } from '../topic-template.js';
import { jsonDecoder, jsonOptionsSchema } from './json.js';
import { lineOptionsSchema, lineProtocolDecoder } from './line-protocol.js';
import { sparkplugDecoder, sparkplugOptionsSchema } from './sparkplug.js';
import { statusDecoder, statusOptionsSchema } from './status.js';
import type { Decoder } from './types.js';
import { valueDecoder, valueOptionsSchema } from './value.js';

export type { DecodeContext, Decoded, DecodeProblem, Decoder } from './types.js';

export const PAYLOAD_FORMATS = ['json', 'value', 'line', 'status', 'sparkplug'] as const;

/** The keys of a topic (template) and how its payloads are read. */
export const topicShape = {
  /** Topic template: `{device}`, `{metric}`, other `{name}`s become tags, `{_}` or `+` one ignored level, final `#`. */
  topic: z.string().min(1),
  payload: z.enum(PAYLOAD_FORMATS).default('json'),
  json: jsonOptionsSchema.prefault({}),
  value: valueOptionsSchema.prefault({}),
  line: lineOptionsSchema.prefault({}),
  status: statusOptionsSchema.prefault({}),
  sparkplug: sparkplugOptionsSchema.prefault({}),
  /** Tags added to every reading of this topic. */
  tags: z.record(z.string(), z.string()).default({}),
};

export function checkTemplate(t: { topic: string }, ctx: z.RefinementCtx): void {
  try {
    compileTopicTemplate(t.topic);
  } catch (err) {
    ctx.addIssue({ code: 'custom', path: ['topic'], message: (err as Error).message });
  }
}

export const topicSchema = z.object(topicShape).strict().superRefine(checkTemplate);

export type TopicConfig = z.output<typeof topicSchema>;

const BUILDERS: Record<(typeof PAYLOAD_FORMATS)[number], (t: TopicConfig) => Decoder> = {
  json: (t) => jsonDecoder(t.json),
  value: (t) => valueDecoder(t.value),
  line: (t) => lineProtocolDecoder(t.line),
  status: (t) => statusDecoder(t.status),
  sparkplug: (t) => sparkplugDecoder(t.sparkplug),
};

export function createDecoder(t: TopicConfig): Decoder {
  return BUILDERS[t.payload](t);
}
