import { type FSWatcher, watch } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import picomatch from 'picomatch';
import type { Device } from '../ingest/devices.js';
import type { Logger } from '../lib/log.js';
import { formatIssue } from '../lib/source-errors.js';
import type { RuleEngine } from './engine.js';
import { type LoadOptions, loadRuleFiles } from './load.js';

export type ReloadTrigger = 'api' | 'signal' | 'file' | 'start';

export type ReloadResult =
  | { ok: true; rules: number; files: string[]; added: string[]; removed: string[]; changed: string[] }
  | { ok: false; errors: string[] };

export interface RuleSetStatus {
  files: string[];
  rules: number;
  loadedAt: number;
  lastAttempt: { at: number; trigger: ReloadTrigger; ok: boolean; errors: string[] } | null;
}

/**
 * Reloads the rule files without a restart — on a file change, SIGHUP, or `POST /api/v1/rules/reload`.
 * Every file is validated first; if any has an error, the running rules stay as they are and every
 * error is reported (`file:line:col: rule "id": message`). Reloads run one at a time.
 */
export class RuleReloader {
  private chain: Promise<unknown> = Promise.resolve();
  private watchers: FSWatcher[] = [];
  private debounce: NodeJS.Timeout | undefined;
  private state: RuleSetStatus;

  constructor(
    private readonly patterns: readonly string[],
    private readonly baseDir: string,
    private readonly engine: RuleEngine,
    private readonly logger: Logger,
    files: string[],
    private readonly opts: LoadOptions & {
      /** Known devices: a new no-data rule starts watching them at once. */
      devices?: () => readonly Device[];
    } = {},
    private readonly now: () => number = Date.now,
  ) {
    this.state = { files, rules: engine.rules().length, loadedAt: now(), lastAttempt: null };
  }

  status(): RuleSetStatus {
    return { ...this.state, files: [...this.state.files] };
  }

  reload(trigger: ReloadTrigger): Promise<ReloadResult> {
    const run = this.chain.then(() => this.load(trigger));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async load(trigger: ReloadTrigger): Promise<ReloadResult> {
    const at = this.now();
    const r = await loadRuleFiles(this.patterns, this.baseDir, this.opts);
    if (r.issues.length) {
      const errors = r.issues.map(formatIssue);
      this.state.lastAttempt = { at, trigger, ok: false, errors };
      this.logger.error(
        { trigger, errors },
        `rules not reloaded: ${errors.length} error(s); the previous rules keep running`,
      );
      return { ok: false, errors };
    }
    const before = new Map(this.engine.rules().map((x) => [x.id, JSON.stringify({ ...x, source: '' })]));
    this.engine.setRules(r.rules);
    if (this.opts.devices) this.engine.watch(this.opts.devices(), this.now());
    const after = new Map(this.engine.rules().map((x) => [x.id, JSON.stringify({ ...x, source: '' })]));
    const added = [...after.keys()].filter((id) => !before.has(id));
    const removed = [...before.keys()].filter((id) => !after.has(id));
    const changed = [...after.keys()].filter((id) => before.has(id) && before.get(id) !== after.get(id));
    this.state = {
      files: r.files,
      rules: r.rules.length,
      loadedAt: at,
      lastAttempt: { at, trigger, ok: true, errors: [] },
    };
    this.logger.info({ trigger, rules: r.rules.length, added, removed, changed }, 'rules reloaded');
    // A new file matching the globs needs watching too.
    if (this.watchers.length) this.watch();
    return { ok: true, rules: r.rules.length, files: r.files, added, removed, changed };
  }

  /** Watches the folders of the rule globs; a change to a YAML file there reloads (debounced). */
  watch(debounceMs = 300): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
    const dirs = new Set<string>();
    for (const p of this.patterns) {
      const abs = isAbsolute(p) ? p : resolve(this.baseDir, p);
      const scan = picomatch.scan(abs);
      dirs.add(scan.isGlob ? scan.base : dirname(abs));
    }
    for (const f of this.state.files) dirs.add(dirname(f));
    for (const dir of dirs) {
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => {
          if (name && !/\.ya?ml$/.test(String(name))) return;
          clearTimeout(this.debounce);
          this.debounce = setTimeout(() => void this.reload('file'), debounceMs);
        });
        w.on('error', (err) => this.logger.warn({ err, dir }, 'cannot watch rule folder'));
        this.watchers.push(w);
      } catch (err) {
        this.logger.warn({ err, dir }, 'cannot watch rule folder');
      }
    }
  }

  async stop(): Promise<void> {
    clearTimeout(this.debounce);
    for (const w of this.watchers) w.close();
    this.watchers = [];
    await this.chain;
  }
}
