import picomatch from 'picomatch';
import type { Device } from '../ingest/devices.js';
import type { Rule } from './schema.js';

export type DeviceMatcher = (device: Device) => boolean;

const list = (v: string | string[] | undefined): string[] | undefined =>
  v === undefined ? undefined : Array.isArray(v) ? v : [v];

/** Compiles a rule's `match` (device ids/globs, model glob, site, tags) into one predicate. */
export function compileMatcher(rule: Rule): DeviceMatcher {
  const m = rule.match;
  const devices = list(m.devices);
  const sites = list(m.site);
  const idMatch = devices ? picomatch(devices) : undefined;
  const siteMatch = sites ? picomatch(sites) : undefined;
  const modelMatch = m.model ? picomatch(m.model) : undefined;
  const tags = m.tags ? Object.entries(m.tags) : undefined;
  return (d) => {
    if (idMatch && !idMatch(d.id)) return false;
    if (siteMatch && !siteMatch(d.site)) return false;
    if (modelMatch && (d.model === null || !modelMatch(d.model))) return false;
    if (tags) for (const [k, v] of tags) if (d.tags[k] !== v) return false;
    return true;
  };
}
