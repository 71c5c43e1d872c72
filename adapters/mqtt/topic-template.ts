/**
 * Topic templates: MQTT topic levels where `{name}` captures one level, `{_}` matches one level and
 * ignores it, and a final `#` matches the rest. `plant/{site}/{line}/{device}/{_}` subscribes to
 * `plant/+/+/+/+` and turns `plant/north/l2/press-7/data` into `{ site: 'north', line: 'l2',
 * device: 'press-7' }`. `{device}` becomes the device id, `{metric}` the metric name (for single-value
 * payloads); other names become tags of the reading.
 */
export interface TopicTemplate {
  readonly template: string;
  /** The subscription filter (`+` for every placeholder). */
  readonly filter: string;
  readonly names: readonly string[];
  match(topic: string): Record<string, string> | undefined;
}

const PLACEHOLDER = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

export function compileTopicTemplate(template: string): TopicTemplate {
  const levels = template.split('/');
  const names: string[] = [];
  const parts: (
    | { kind: 'literal'; text: string }
    | { kind: 'var'; name: string }
    | { kind: 'any' }
    | { kind: 'rest' }
  )[] = [];
  levels.forEach((level, i) => {
    if (level === '#') {
      if (i !== levels.length - 1) throw new Error(`"#" must be the last level of "${template}"`);
      parts.push({ kind: 'rest' });
      return;
    }
    if (level === '+') {
      parts.push({ kind: 'any' });
      return;
    }
    const m = PLACEHOLDER.exec(level);
    if (m) {
      const name = m[1] as string;
      if (name === '_') {
        parts.push({ kind: 'any' });
        return;
      }
      if (names.includes(name)) throw new Error(`"{${name}}" appears twice in "${template}"`);
      names.push(name);
      parts.push({ kind: 'var', name });
      return;
    }
    if (/[{}+#]/.test(level))
      throw new Error(`level "${level}" of "${template}" must be a literal, {name}, {_}, + or a final #`);
    parts.push({ kind: 'literal', text: level });
  });
  const filter = parts.map((p) => (p.kind === 'literal' ? p.text : p.kind === 'rest' ? '#' : '+')).join('/');
  const hasRest = parts[parts.length - 1]?.kind === 'rest';
  return {
    template,
    filter,
    names,
    match(topic) {
      const t = topic.split('/');
      if (hasRest ? t.length < parts.length - 1 : t.length !== parts.length) return undefined;
      const vars: Record<string, string> = {};
      for (let i = 0; i < parts.length; i++) {
        const p = parts[i] as (typeof parts)[number];
        if (p.kind === 'rest') break;
        const level = t[i] as string;
        if (p.kind === 'literal' && p.text !== level) return undefined;
        if (p.kind === 'var') {
          if (level === '') return undefined;
          vars[p.name] = level;
        }
      }
      return vars;
    },
  };
}
