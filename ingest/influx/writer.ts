import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { HttpError, InfluxDB } from '@influxdata/influxdb-client';
import { redactUrl } from '../../lib/redact.js';
import type { InfluxConfig } from './config.js';

const gzip = promisify(gzipCb);

/** Why a write failed, as the forwarder needs to know it. */
export type WriteFailure =
  /** The data was refused (400 partial write, 413 too large, 422): split the batch and retry its parts. */
  | { kind: 'rejected'; status: number; message: string }
  /** Try the same data again later: network error, timeout, 429, 5xx, or a setup problem (401, 403, 404). */
  | { kind: 'retry'; status: number | null; message: string; retryAfterMs?: number };

export class InfluxWriteError extends Error {
  constructor(readonly failure: WriteFailure) {
    super(failure.message);
    this.name = 'InfluxWriteError';
  }
}

/** Writes newline-separated line protocol (precision ms). Resolves on 2xx; throws InfluxWriteError. */
export interface InfluxWriter {
  readonly target: string;
  write(lines: string): Promise<void>;
}

/** Retry-After in seconds or as an HTTP date (RFC 9110 §10.2.3), in milliseconds from now. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export function classify(status: number, message: string, retryAfter?: string | null): WriteFailure {
  if (status === 400 || status === 413 || status === 422) return { kind: 'rejected', status, message };
  const f: WriteFailure = { kind: 'retry', status, message };
  const ms = parseRetryAfter(retryAfter);
  if (ms !== undefined) f.retryAfterMs = ms;
  return f;
}

function errorMessage(body: string): string {
  try {
    const j = JSON.parse(body) as { error?: string; message?: string };
    return j.error ?? j.message ?? body;
  } catch {
    return body;
  }
}

/** InfluxDB 1.x `/write` with database, retention policy and basic auth. */
export class V1Writer implements InfluxWriter {
  readonly target: string;
  private readonly url: string;
  private readonly headers: Record<string, string>;

  constructor(private readonly cfg: Extract<InfluxConfig, { api: 'v1' }>) {
    const u = new URL('write', cfg.url.endsWith('/') ? cfg.url : `${cfg.url}/`);
    u.searchParams.set('db', cfg.database);
    if (cfg.retentionPolicy) u.searchParams.set('rp', cfg.retentionPolicy);
    u.searchParams.set('precision', 'ms');
    this.url = u.toString();
    this.target = `${redactUrl(cfg.url)} (v1, db ${cfg.database})`;
    this.headers = { 'content-type': 'text/plain; charset=utf-8' };
    if (cfg.gzip) this.headers['content-encoding'] = 'gzip';
    if (cfg.username !== undefined) {
      this.headers.authorization = `Basic ${Buffer.from(`${cfg.username}:${cfg.password ?? ''}`).toString('base64')}`;
    }
  }

  async write(lines: string): Promise<void> {
    const body = this.cfg.gzip ? await gzip(lines, { level: 1 }) : lines;
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: 'POST',
        headers: this.headers,
        body,
        signal: AbortSignal.timeout(this.cfg.timeout),
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      throw new InfluxWriteError({ kind: 'retry', status: null, message: e.cause?.code ?? e.message });
    }
    if (res.ok) {
      await res.body?.cancel();
      return;
    }
    const text = await res.text().catch(() => '');
    throw new InfluxWriteError(
      classify(res.status, errorMessage(text) || res.statusText, res.headers.get('retry-after')),
    );
  }
}

/**
 * `/api/v2/write` through the official client's transport (InfluxDB 2.x, 3.x, Cloud, 1.8+). Its
 * WriteApi is not used: its retry buffer lives in memory and drops data when full; the spool owns
 * retries.
 */
export class V2Writer implements InfluxWriter {
  readonly target: string;
  private readonly client: InfluxDB;
  private readonly path: string;

  constructor(private readonly cfg: Extract<InfluxConfig, { api: 'v2' }>) {
    this.client = new InfluxDB({ url: cfg.url, token: cfg.token, timeout: cfg.timeout });
    const q = new URLSearchParams({ org: cfg.org, bucket: cfg.bucket, precision: 'ms' });
    this.path = `/api/v2/write?${q}`;
    this.target = `${redactUrl(cfg.url)} (v2, bucket ${cfg.bucket})`;
  }

  async write(lines: string): Promise<void> {
    try {
      await this.client.transport.request(this.path, lines, {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        ...(this.cfg.gzip ? { gzipThreshold: 0 } : {}),
      });
    } catch (err) {
      if (err instanceof HttpError) {
        const retryAfter = err.headers?.['retry-after'];
        throw new InfluxWriteError(
          classify(
            err.statusCode,
            errorMessage(err.body ?? '') || err.message,
            Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
          ),
        );
      }
      throw new InfluxWriteError({ kind: 'retry', status: null, message: (err as Error).message });
    }
  }
}

export function createWriter(cfg: InfluxConfig): InfluxWriter {
  return cfg.api === 'v1' ? new V1Writer(cfg) : new V2Writer(cfg);
}
