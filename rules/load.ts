import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { glob } from 'tinyglobby';
import { formatPath, type PathSegment, type SourceIssue, YamlSource } from '../lib/source-errors.js';
import '../lib/zod-messages.js';
import { DEFAULT_FAULT_TYPES, type Rule, ruleFileSchema, ruleSchema, toRule } from './schema.js';
import { unknownVariables } from './template.js';

export interface LoadResult {
  rules: Rule[];
  files: string[];
  issues: SourceIssue[];
}

/** A rule file larger than this is refused (a mistake, or an attempt to exhaust memory). */
export const MAX_RULE_FILE_BYTES = 1_048_576;

/**
 * Validates one rule file's text. Every problem is reported at once with its location; rules
 * without problems are returned even when others in the file have some (the caller decides).
 */
export interface LoadOptions {
  /** Fault types tickets may have (`rules.faultTypes`); default DEFAULT_FAULT_TYPES. */
  faultTypes?: readonly string[];
}

export function parseRuleSource(
  file: string,
  text: string,
  opts: LoadOptions = {},
): { rules: Rule[]; issues: SourceIssue[] } {
  const faultTypes = opts.faultTypes ?? DEFAULT_FAULT_TYPES;
  const src = new YamlSource(file, text);
  const syntax = src.syntaxIssues();
  if (syntax.length) return { rules: [], issues: syntax };
  const js = src.toJS();
  const top = ruleFileSchema.safeParse(js);
  const issues: SourceIssue[] = top.success ? [] : src.zodIssues(top.error);
  // An unknown top-level key does not hide the errors of the rules themselves.
  const list = top.success ? top.data.rules : field(js, 'rules');
  if (!Array.isArray(list)) return { rules: [], issues };

  const rules: Rule[] = [];
  list.forEach((raw: unknown, i) => {
    const base: PathSegment[] = ['rules', i];
    const ruleId =
      raw && typeof raw === 'object' && typeof (raw as { id?: unknown }).id === 'string'
        ? (raw as { id: string }).id
        : `#${i + 1}`;
    const parsed = ruleSchema.safeParse(raw);
    const here: SourceIssue[] = [];
    if (!parsed.success)
      for (const issue of src.zodIssues(parsed.error, base))
        here.push({ ...issue, rule: ruleId, path: issue.path.replace(/^rules\[\d+\]\.?/, '') });
    // Fault types and template variables are checked on the raw rule, so that a schema error
    // elsewhere in it does not hide them (every error at once, issue 18).
    const report = (path: PathSegment[], message: string) =>
      here.push({ file, ...src.locate([...base, ...path]), rule: ruleId, path: formatPath(path), message });
    for (const [path, type] of faultTypesOf(raw))
      if (!faultTypes.includes(type))
        report(path, `unknown fault type "${type}" (rules.faultTypes: ${faultTypes.join(', ')})`);
    for (const key of ['title', 'description'] as const) {
      const t = field(field(raw, 'ticket'), key);
      if (typeof t === 'string')
        for (const name of unknownVariables(t))
          report(['ticket', key], `unknown template variable "{{${name}}}"`);
    }
    if (here.length || !parsed.success || !top.success) {
      issues.push(...here);
      return;
    }
    const at = src.locate(base);
    rules.push(toRule(parsed.data, `${file}:${at.line}:${at.col}`));
  });
  return { rules, issues };
}

function field(x: unknown, key: string): unknown {
  return x !== null && typeof x === 'object' ? (x as Record<string, unknown>)[key] : undefined;
}

/** The fault types a raw rule names: its ticket's, and those of its error-code table entries. */
function faultTypesOf(raw: unknown): [PathSegment[], string][] {
  const out: [PathSegment[], string][] = [];
  const t = field(field(raw, 'ticket'), 'faultType');
  if (typeof t === 'string') out.push([['ticket', 'faultType'], t]);
  const table = field(field(raw, 'errorCode'), 'table');
  if (table !== null && typeof table === 'object' && !Array.isArray(table))
    for (const [code, entry] of Object.entries(table)) {
      const f = field(entry, 'faultType');
      if (typeof f === 'string') out.push([['errorCode', 'table', code, 'faultType'], f]);
    }
  return out;
}

/** Loads every file matched by `patterns` (globs relative to `baseDir`), checking ids across files. */
export async function loadRuleFiles(
  patterns: readonly string[],
  baseDir: string,
  opts: LoadOptions = {},
): Promise<LoadResult> {
  const files: string[] = [];
  const issues: SourceIssue[] = [];
  for (const pattern of patterns) {
    const abs = isAbsolute(pattern) ? pattern : resolve(baseDir, pattern);
    // Rule unit tests (*.test.yaml) often sit beside the rules: a glob never takes them as rules.
    const isTest = (f: string) => /\.test\.ya?ml$/.test(f);
    const matched = (await glob(abs, { absolute: true, onlyFiles: true }))
      .filter((f) => isTest(pattern) || !isTest(f))
      .sort();
    if (matched.length === 0 && !/[*?[{]/.test(pattern)) {
      issues.push({ file: display(abs), line: 1, col: 1, path: '', message: 'rule file not found' });
    }
    for (const f of matched) if (!files.includes(f)) files.push(f);
  }
  const rules: Rule[] = [];
  const seen = new Map<string, string>();
  for (const f of files) {
    const name = display(f);
    let text: string;
    try {
      const size = (await stat(f)).size;
      if (size > MAX_RULE_FILE_BYTES) {
        issues.push({
          file: name,
          line: 1,
          col: 1,
          path: '',
          message: `file is ${size} bytes; rule files are limited to ${MAX_RULE_FILE_BYTES} bytes`,
        });
        continue;
      }
      text = await readFile(f, 'utf8');
    } catch (err) {
      issues.push({
        file: name,
        line: 1,
        col: 1,
        path: '',
        message: `cannot read: ${(err as Error).message}`,
      });
      continue;
    }
    const r = parseRuleSource(name, text, opts);
    issues.push(...r.issues);
    for (const rule of r.rules) {
      const first = seen.get(rule.id);
      if (first) {
        const [file, line, col] = splitSource(rule.source);
        issues.push({
          file,
          line,
          col,
          rule: rule.id,
          path: 'id',
          message: `duplicate rule id, first defined at ${first}`,
        });
        continue;
      }
      seen.set(rule.id, rule.source);
      rules.push(rule);
    }
  }
  return { rules, files, issues };
}

function splitSource(source: string): [string, number, number] {
  const m = /^(.*):(\d+):(\d+)$/.exec(source);
  return m ? [m[1] as string, Number(m[2]), Number(m[3])] : [source, 1, 1];
}

/** Paths in messages are relative to the working directory when that is shorter. */
function display(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && rel.length < file.length ? rel : file;
}
