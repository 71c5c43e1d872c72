import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redactUrl } from '../../lib/redact.js';
import './node-opcua-log.js'; // before node-opcua speaks: keep its messages off stdout
import {
  AttributeIds,
  ClientMonitoredItemGroup,
  type ClientSession,
  type ClientSubscription,
  DataChangeFilter,
  DataChangeTrigger,
  DataType,
  type DataValue,
  DeadbandType,
  LocalizedText,
  MessageSecurityMode,
  makeBrowsePath,
  type NodeId,
  OPCUACertificateManager,
  OPCUAClient,
  QualifiedName,
  resolveNodeId,
  SecurityPolicy,
  StatusCodes,
  TimestampsToReturn,
  type UserIdentityInfo,
  UserTokenType,
  VariantArrayType,
} from 'node-opcua';
import { keyOperationsFromPrivateKey, readCertificate, readPrivateKey } from 'node-opcua-crypto';
import { connectivityPoint, type FieldValue, type Point } from '../../ingest/point.js';
import { backoffDelay } from '../../lib/backoff.js';
import { RateLimitedLog } from '../../lib/log.js';
import type { Adapter, AdapterContext, AdapterStatus } from '../types.js';
import type { OpcuaAdapterConfig } from './config.js';
import { listCertificates, pkiRoot, type ServerCertificate } from './pki.js';

type OpcuaItem = OpcuaAdapterConfig['items'][number];

interface DeviceStats {
  readings: number;
  badQuality: number;
  lastValueAt: number | null;
  /** Periods without data because the server was unreachable: from, to (ms). */
  gaps: { from: number; to: number }[];
  failedItems: string[];
}

const MAX_GAPS = 20; // per device, newest kept

/**
 * Subscribes to OPC UA variables and turns each data-change batch into one reading per device. The
 * adapter owns the connection's life: node-opcua's own reconnection is switched off, and after any
 * loss (the server restarted, the network dropped, the publish keep-alive stopped) a fresh client,
 * session, subscription and monitored items are made, with capped exponential backoff — so that a
 * subscription cannot silently stop after a server restart (node-opcua #1059, #678). Each item whose
 * re-creation failed is reported, and the gap (from, to) is recorded on every device of the adapter.
 */
export class OpcuaAdapter implements Adapter {
  readonly protocol = 'opcua' as const;
  readonly id: string;
  private ctx: AdapterContext | undefined;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private client: OPCUAClient | undefined;
  private connected = false;
  private lostAt: number | null = null;
  private attempts = 0;
  private warn: RateLimitedLog | undefined;
  private readonly stats = new Map<string, DeviceStats>();
  private readonly counters = {
    connects: 0,
    losses: 0,
    lastError: null as string | null,
    lastRecoveryMs: null as number | null,
  };
  private pending = new Map<string, Point>();
  /** Current error codes per device and item (items with `errorCodes`). */
  private readonly codes = new Map<string, Map<number, string[]>>();
  private flushScheduled = false;
  private certificates: OPCUACertificateManager | undefined;
  /** The PKI folder made for a run without a data dir, removed at stop. */
  private tempPki: string | undefined;

  /**
   * The PKI folder (`<data dir>/pki/opcua`): the client's own certificate, and the servers it trusts.
   * An unknown server certificate is refused and lands in `rejected/` until it is moved to
   * `trusted/certs/` (`faultline opcua certs` — or by hand).
   */
  pkiFolder(): string | undefined {
    return this.certificates?.rootDir;
  }

  /** Server certificates refused so far (in `rejected/`), with subject and thumbprint. */
  rejectedCertificates(): ServerCertificate[] {
    const root = this.certificates?.rootDir;
    return root ? listCertificates(root).filter((c) => c.status === 'rejected') : [];
  }

  /** Trusts every refused server certificate (after an operator checked them) and reconnects at once. */
  async trustRejected(): Promise<ServerCertificate[]> {
    const cm = this.certificates;
    if (!cm) return [];
    const rejected = this.rejectedCertificates();
    for (const c of rejected) await cm.trustCertificate(readCertificate(join(cm.rejectedFolder, c.file)));
    this.wake?.();
    return rejected;
  }

  constructor(private readonly cfg: OpcuaAdapterConfig) {
    this.id = cfg.id;
    for (const item of cfg.items) {
      if (!this.stats.has(item.device))
        this.stats.set(item.device, {
          readings: 0,
          badQuality: 0,
          lastValueAt: null,
          gaps: [],
          failedItems: [],
        });
    }
  }

  async start(ctx: AdapterContext): Promise<void> {
    this.ctx = ctx;
    this.stopping = false;
    this.warn = new RateLimitedLog(ctx.logger);
    if (!ctx.dataDir) this.tempPki = mkdtempSync(join(tmpdir(), 'faultline-opcua-'));
    const root = pkiRoot(ctx.dataDir ?? (this.tempPki as string));
    this.certificates = new OPCUACertificateManager({
      rootFolder: root,
      automaticallyAcceptUnknownCertificate: false,
    });
    await this.certificates.initialize();
    this.loop = this.run();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(t);
        self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }

  private async run(): Promise<void> {
    const ctx = this.ctx as AdapterContext;
    while (!this.stopping) {
      let reason = 'connection closed';
      try {
        reason = await this.session();
      } catch (err) {
        reason = (err as Error).message;
      }
      this.connected = false;
      await this.client?.disconnect().catch(() => undefined);
      this.client = undefined;
      if (this.stopping) break;
      this.counters.lastError = reason;
      if (this.lostAt === null) {
        this.lostAt = ctx.now();
        this.counters.losses++;
        ctx.logger.warn(
          { endpoint: redactUrl(this.cfg.endpointUrl), reason },
          'OPC UA server lost; reconnecting',
        );
        const points = [...this.stats.keys()].map((d) =>
          connectivityPoint(d, 'offline', `OPC UA: ${reason}`, this.lostAt as number, ctx.now(), this.id),
        );
        await ctx.sink.accept(points).catch(() => undefined);
      }
      this.attempts++;
      await this.sleep(
        backoffDelay(this.attempts, this.cfg.reconnect.min, this.cfg.reconnect.max, Math.random()),
      );
    }
  }

  /** One connection: resolves with the reason it ended. */
  private async session(): Promise<string> {
    const ctx = this.ctx as AdapterContext;
    const client = OPCUAClient.create({
      applicationName: 'Faultline',
      endpointMustExist: false,
      securityMode: MessageSecurityMode[this.cfg.securityMode],
      securityPolicy: SecurityPolicy[this.cfg.securityPolicy],
      clientCertificateManager: this.certificates as OPCUACertificateManager,
      keepSessionAlive: true,
      // Reconnection is ours: node-opcua gives up at once and we start afresh (see the class comment).
      connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
    });
    this.client = client;
    await client.connect(this.cfg.endpointUrl);
    const ended = new Promise<string>((resolve) => {
      client.once('close', () => resolve('connection closed'));
      client.once('connection_lost', () => resolve('connection lost'));
    });
    const session: ClientSession = await client.createSession(this.identity());
    const subscription: ClientSubscription = await session.createSubscription2({
      requestedPublishingInterval: this.cfg.publishingInterval,
      requestedLifetimeCount: 60,
      requestedMaxKeepAliveCount: Math.max(
        2,
        Math.ceil(this.cfg.keepAliveTimeout / this.cfg.publishingInterval / 3),
      ),
      maxNotificationsPerPublish: 0,
      publishingEnabled: true,
      priority: 10,
    });
    // One monitored-item group per distinct sampling interval, queue size and deadband, so that each
    // item gets its own settings; `indices` maps a group's items back to the configuration.
    for (const s of this.stats.values()) s.failedItems = [];
    const nodeIds = await this.resolveNodeIds(session);
    for (const { settings, indices: all } of this.groups()) {
      const indices = all.filter((i) => nodeIds[i] !== undefined);
      if (indices.length === 0) continue;
      const group = ClientMonitoredItemGroup.create(
        subscription,
        indices.map((i) => ({ nodeId: nodeIds[i] as NodeId, attributeId: AttributeIds.Value })),
        { ...settings, discardOldest: true },
        TimestampsToReturn.Both,
      );
      await new Promise<void>((resolve) => group.once('initialized', () => resolve()));
      this.reportFailedItems(group, indices);
      group.on('changed', (_item, value: DataValue, local: number) =>
        this.onChange(indices[local] as number, value),
      );
    }

    this.counters.connects++;
    this.connected = true;
    this.attempts = 0;
    if (this.lostAt !== null) {
      const to = ctx.now();
      for (const s of this.stats.values()) {
        s.gaps.push({ from: this.lostAt, to });
        if (s.gaps.length > MAX_GAPS) s.gaps.shift();
      }
      this.counters.lastRecoveryMs = to - this.lostAt;
      ctx.logger.info(
        { endpoint: redactUrl(this.cfg.endpointUrl), gapMs: to - this.lostAt },
        'OPC UA subscriptions re-created',
      );
      this.lostAt = null;
    } else {
      ctx.logger.info(
        { endpoint: redactUrl(this.cfg.endpointUrl), items: this.cfg.items.length },
        'OPC UA subscriptions created',
      );
    }

    // Watch the subscription itself too: no publish response (data or keep-alive) for too long = lost.
    let lastPublish = ctx.now();
    subscription.on('keepalive', () => {
      lastPublish = ctx.now();
    });
    subscription.on('received_notifications', () => {
      lastPublish = ctx.now();
    });
    const stalled = new Promise<string>((resolve) => {
      const t = setInterval(
        () => {
          if (this.stopping) {
            clearInterval(t);
            resolve('stopping');
          } else if (ctx.now() - lastPublish > this.cfg.keepAliveTimeout) {
            clearInterval(t);
            resolve(`no publish response for ${this.cfg.keepAliveTimeout} ms`);
          }
        },
        Math.min(1_000, this.cfg.publishingInterval),
      );
      void ended.then(() => clearInterval(t));
    });
    const stopped = new Promise<string>((resolve) => {
      const check = setInterval(() => {
        if (this.stopping) {
          clearInterval(check);
          resolve('stopping');
        }
      }, 100);
      void ended.then(() => clearInterval(check));
    });
    const why = await Promise.race([ended, stalled, stopped]);
    await subscription.terminate().catch(() => undefined);
    await session.close().catch(() => undefined);
    return why;
  }

  /** The user identity token: anonymous, user name, or an X.509 user certificate signed with its key. */
  private identity(): UserIdentityInfo {
    const user = this.cfg.user;
    if (!user) return { type: UserTokenType.Anonymous };
    if ('username' in user)
      return { type: UserTokenType.UserName, userName: user.username, password: user.password };
    return {
      type: UserTokenType.Certificate,
      certificateData: readCertificate(user.certificate),
      keyOperations: keyOperationsFromPrivateKey(readPrivateKey(user.privateKey)),
    };
  }

  /**
   * NodeIds for every item, browse paths translated on this session (a restarted server may have
   * renumbered its nodes). An item that cannot be resolved is reported and left out.
   */
  private async resolveNodeIds(session: ClientSession): Promise<(NodeId | undefined)[]> {
    const ctx = this.ctx as AdapterContext;
    const out: (NodeId | undefined)[] = this.cfg.items.map((item) =>
      item.nodeId !== undefined ? resolveNodeId(item.nodeId) : undefined,
    );
    const byPath = this.cfg.items.flatMap((item, i) =>
      item.browsePath !== undefined ? [{ i, path: item.browsePath }] : [],
    );
    if (byPath.length === 0) return out;
    const results = await session.translateBrowsePath(
      byPath.map((b) => makeBrowsePath('RootFolder', b.path)),
    );
    byPath.forEach(({ i, path }, k) => {
      const r = results[k];
      const target = r?.statusCode.isGood() ? r.targets?.[0]?.targetId : undefined;
      if (target) {
        out[i] = target as NodeId;
        return;
      }
      const item = this.cfg.items[i] as OpcuaItem;
      const status = r?.statusCode.name ?? 'no answer';
      this.stats.get(item.device)?.failedItems.push(`${path}: ${status}`);
      ctx.logger.error(
        { browsePath: path, device: item.device, status },
        'OPC UA browse path could not be resolved',
      );
    });
    return out;
  }

  /** Items grouped by their effective monitoring settings. */
  private groups(): {
    settings: { samplingInterval: number; queueSize: number; filter?: DataChangeFilter };
    indices: number[];
  }[] {
    const byKey = new Map<
      string,
      {
        settings: { samplingInterval: number; queueSize: number; filter?: DataChangeFilter };
        indices: number[];
      }
    >();
    this.cfg.items.forEach((item, index) => {
      const samplingInterval = item.samplingInterval ?? this.cfg.samplingInterval;
      const queueSize = item.queueSize ?? this.cfg.queueSize;
      const key = JSON.stringify([samplingInterval, queueSize, item.deadband ?? null]);
      let g = byKey.get(key);
      if (!g) {
        g = { settings: { samplingInterval, queueSize }, indices: [] };
        if (item.deadband) {
          g.settings.filter = new DataChangeFilter({
            trigger: DataChangeTrigger.StatusValue,
            deadbandType: item.deadband.type === 'absolute' ? DeadbandType.Absolute : DeadbandType.Percent,
            deadbandValue: item.deadband.value,
          });
        }
        byKey.set(key, g);
      }
      g.indices.push(index);
    });
    return [...byKey.values()];
  }

  private reportFailedItems(group: ClientMonitoredItemGroup, indices: readonly number[]): void {
    const ctx = this.ctx as AdapterContext;
    group.monitoredItems.forEach((m, local) => {
      const status = (m as unknown as { statusCode?: { isGood(): boolean; name: string } }).statusCode;
      const item = this.cfg.items[indices[local] as number];
      if (!item || !status || status.isGood()) return;
      const name = item.nodeId ?? item.browsePath;
      this.stats.get(item.device)?.failedItems.push(`${name}: ${status.name}`);
      ctx.logger.error(
        { item: name, device: item.device, status: status.name },
        'OPC UA monitored item could not be created',
      );
    });
  }

  /** One data change: collected per device and flushed once per event-loop turn (one reading per device). */
  private onChange(index: number, dv: DataValue): void {
    const ctx = this.ctx as AdapterContext;
    const item = this.cfg.items[index];
    if (!item) return;
    const stamp =
      this.cfg.timestamps === 'source'
        ? (dv.sourceTimestamp ?? dv.serverTimestamp)
        : (dv.serverTimestamp ?? dv.sourceTimestamp);
    const ts = stamp ? stamp.getTime() : ctx.now();
    let p = this.pending.get(item.device);
    if (!p) {
      p = { deviceId: item.device, ts, receivedAt: ctx.now(), fields: {}, source: this.id };
      this.pending.set(item.device, p);
    }
    p.ts = Math.max(p.ts, ts);
    const good = dv.statusCode.equals(StatusCodes.Good) || dv.statusCode.isGood();
    const s = this.stats.get(item.device);
    if (good || dv.statusCode.isGoodish?.()) {
      const v =
        dv.value && dv.value.arrayType === VariantArrayType.Scalar
          ? toField(dv.value.value, dv.value.dataType)
          : undefined; // arrays and matrices are not readings (yet)
      if (v !== undefined) {
        p.fields[item.metric] = v;
        // A good value after a bad one in the same turn: the item is good again.
        delete p.fields[`${item.metric}_quality`];
      }
      if (v !== undefined && item.errorCodes) {
        // The reading carries every code of the device, from all of its code items.
        let byItem = this.codes.get(item.device);
        if (!byItem) {
          byItem = new Map();
          this.codes.set(item.device, byItem);
        }
        byItem.set(index, codesOf(item.errorCodes, v));
        p.errorCodes = [...new Set([...byItem.values()].flat())];
      }
    }
    if (!good) {
      // A bad value is not a value: the reading says what the quality was instead — also when a
      // good value of the same item came earlier in this turn (several changes in one publish, under
      // load): the reading is the item's latest state, never a value beside a bad quality.
      if (!dv.statusCode.isGoodish?.()) delete p.fields[item.metric];
      p.fields[`${item.metric}_quality`] = dv.statusCode.name;
      if (s) s.badQuality++;
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    const ctx = this.ctx as AdapterContext;
    this.flushScheduled = false;
    const points = [...this.pending.values()];
    this.pending = new Map();
    for (const p of points) {
      const s = this.stats.get(p.deviceId);
      if (s) {
        s.readings++;
        s.lastValueAt = p.ts;
      }
    }
    // A data change counts as received once spooled.
    ctx.sink.accept(points).catch((err: unknown) => {
      this.warn?.warn(`${this.id}:spool`, { err }, 'OPC UA readings could not be made durable');
    });
  }

  deviceStats(): Record<string, Record<string, unknown>> {
    return Object.fromEntries(
      [...this.stats].map(([d, s]) => [d, { ...s, gaps: [...s.gaps], connected: this.connected }]),
    );
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.wake?.();
    await this.loop;
    await this.certificates?.dispose().catch(() => undefined); // its folder watchers
    if (this.tempPki) rmSync(this.tempPki, { recursive: true, force: true });
    this.tempPki = undefined;
  }

  status(): AdapterStatus {
    return {
      id: this.id,
      protocol: this.protocol,
      state: this.stopping || !this.loop ? 'stopped' : this.connected ? 'running' : 'degraded',
      details: {
        endpoint: redactUrl(this.cfg.endpointUrl),
        connected: this.connected,
        ...this.counters,
        lostSince: this.lostAt,
      },
    };
  }
}

/** The error codes a value stands for (see the item option `errorCodes`). */
export function codesOf(table: true | Record<string, string>, v: FieldValue): string[] {
  if (table === true) return v === '' || v === 0 || v === false ? [] : [String(v)];
  const code = table[String(v)];
  return code ? [code] : [];
}

/**
 * An OPC UA value as a reading field: numbers, booleans and strings as they are (an enumeration is
 * its Int32 value), LocalizedText as its text, a QualifiedName as its name, a 64-bit integer as a
 * number, anything else (arrays, structures) left out.
 */
export function toField(v: unknown, dataType?: DataType): FieldValue | undefined {
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof LocalizedText) return v.text ?? undefined;
  if (v instanceof QualifiedName) return v.name ?? undefined;
  if (
    (dataType === DataType.Int64 || dataType === DataType.UInt64) &&
    Array.isArray(v) &&
    v.length === 2 &&
    v.every((x) => typeof x === 'number')
  ) {
    // node-opcua's [high, low] 32-bit words of a scalar Int64/UInt64.
    const [high, low] = v as [number, number];
    return dataType === DataType.Int64 && high >= 0x80000000
      ? (high - 2 ** 32) * 2 ** 32 + low
      : high * 2 ** 32 + low;
  }
  if (
    v &&
    typeof (v as { toString(): string }).toString === 'function' &&
    typeof v === 'object' &&
    'value' in v
  ) {
    return toField((v as { value: unknown }).value);
  }
  return undefined;
}
