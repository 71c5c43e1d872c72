/**
 * Matches a topic against a filter with one `+` that captures the device id, e.g.
 * `devices/+/telemetry`. Returns the device id, or undefined when the topic does not match.
 */
export function compileDeviceTopic(filter: string): (topic: string) => string | undefined {
  const parts = filter.split('/');
  const at = parts.indexOf('+');
  if (at < 0 || parts.indexOf('+', at + 1) >= 0 || parts.includes('#')) {
    throw new Error(`telemetry topic "${filter}" must have exactly one "+" (the device id) and no "#"`);
  }
  return (topic) => {
    const t = topic.split('/');
    if (t.length !== parts.length) return undefined;
    for (let i = 0; i < parts.length; i++) if (i !== at && parts[i] !== t[i]) return undefined;
    const id = t[at];
    return id === '' ? undefined : id;
  };
}
