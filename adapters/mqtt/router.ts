import { createDecoder, type Decoded, type Decoder, type TopicConfig } from './decoders/index.js';
import { compileTopicTemplate, type TopicTemplate } from './topic-template.js';

interface Route {
  template: TopicTemplate;
  decode: Decoder;
  tags: Record<string, string>;
}

/**
 * Finds the first configured topic that a message's topic matches and decodes the payload with
 * that topic's decoder. Shared by the embedded broker and client connections.
 */
export class TopicRouter {
  private readonly routes: Route[];

  constructor(topics: readonly TopicConfig[]) {
    this.routes = topics.map((t) => ({
      template: compileTopicTemplate(t.topic),
      decode: createDecoder(t),
      tags: t.tags,
    }));
  }

  /** Subscription filters, in configuration order. */
  filters(): string[] {
    return this.routes.map((r) => r.template.filter);
  }

  /** `undefined` when no configured topic matches. */
  route(topic: string, payload: Buffer, receivedAt: number, source: string): Decoded | undefined {
    for (const r of this.routes) {
      const vars = r.template.match(topic);
      if (vars) return r.decode(payload, { topic, vars, tags: r.tags, receivedAt, source });
    }
    return undefined;
  }
}
