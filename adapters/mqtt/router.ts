import { createDecoder, type Decoded, type Decoder, type TopicConfig } from './decoders/index.js';
import { tagsFrom } from './decoders/types.js';
import { compileTopicTemplate, type TopicTemplate } from './topic-template.js';

interface Route {
  template: TopicTemplate;
  decode: Decoder;
  tags: Record<string, string>;
}

/** What a topic resolved to: its route, placeholder values and reading tags (frozen: shared). */
interface Match {
  route: Route;
  vars: Readonly<Record<string, string>>;
  readingTags: Readonly<Record<string, string>> | null;
}

/** Topics remembered at most (then forgotten all at once), and the longest one remembered. */
const MAX_TOPICS = 20_000;
const MAX_TOPIC_CHARS = 256;

/**
 * Finds the first configured topic that a message's topic matches and decodes the payload with
 * that topic's decoder. Shared by the embedded broker and client connections.
 */
export class TopicRouter {
  private readonly routes: Route[];
  /**
   * Devices publish to the same topics again and again: each topic's match (null: none) is kept,
   * so that a message costs a lookup instead of splitting and matching its topic (issue 19).
   */
  private readonly matches = new Map<string, Match | null>();

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
    let m = this.matches.get(topic);
    if (m === undefined) {
      m = this.match(topic);
      if (topic.length <= MAX_TOPIC_CHARS) {
        if (this.matches.size >= MAX_TOPICS) this.matches.clear();
        this.matches.set(topic, m);
      }
    }
    if (m === null) return undefined;
    const { route, vars, readingTags } = m;
    return route.decode(payload, { topic, vars, tags: route.tags, readingTags, receivedAt, source });
  }

  private match(topic: string): Match | null {
    for (const route of this.routes) {
      const vars = route.template.match(topic);
      if (!vars) continue;
      const readingTags = tagsFrom({ vars, tags: route.tags });
      return {
        route,
        vars: Object.freeze(vars),
        readingTags: readingTags ? Object.freeze(readingTags) : null,
      };
    }
    return null;
  }
}
