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
  const top = ruleFileSchema.safeParse(src.toJS());
  if (!top.success) return { rules: [], issues: src.zodIssues(top.error) };

  const rules: Rule[] = [];
  const issues: SourceIssue[] = [];
  top.data.rules.forEach((raw, i) => {
    const base: PathSegment[] = ['rules', i];
    const ruleId =
      raw && typeof raw === 'object' && typeof (raw as { id?: unknown }).id === 'string'
        ? (raw as { id: string }).id
        : `#${i + 1}`;
    const parsed = ruleSchema.safeParse(raw);
    const here: SourceIssue[] = [];
    if (!parsed.success) {
      for (const issue of src.zodIssues(parsed.error, base)) {
        here.push({ ...issue, rule: ruleId, path: issue.path.replace(/^rules\[\d+\]\.?/, '') });
      }
    } else {
      const known = (path: PathSegment[], type: string | undefined) => {
        if (type === undefined || faultTypes.includes(type)) return;
        here.push({
          file,
          ...src.locate([...base, ...path]),
          rule: ruleId,
          path: formatPath(path),
          message: `unknown fault type "${type}" (rules.faultTypes: ${faultTypes.join(', ')})`,
        });
      };
      known(['ticket', 'faultType'], parsed.data.ticket.faultType);
      const ec = parsed.data.errorCode;
      if (ec && !Array.isArray(ec))
        for (const [code, entry] of Object.entries(ec.table ?? {}))
          known(['errorCode', 'table', code, 'faultType'], entry.faultType);
      for (const key of ['title', 'description'] as const) {
        const t = parsed.data.ticket[key];
        if (t === undefined) continue;
        for (const name of unknownVariables(t)) {
          const path = [...base, 'ticket', key];
          here.push({
            file,
            ...src.locate(path),
            rule: ruleId,
            path: formatPath(['ticket', key]),
            message: `unknown template variable "{{${name}}}"`,
          });
        }
      }
    }
    if (here.length || !parsed.success) {
      issues.push(...here);
      return;
    }
    const at = src.locate(base);
    rules.push(toRule(parsed.data, `${file}:${at.line}:${at.col}`));
  });
  return { rules, issues };
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
