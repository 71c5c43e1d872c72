import { readFile } from 'node:fs/promises';
import { type Document, isMap, isSeq, LineCounter, parseDocument, visit } from 'yaml';

/** Alias expansions a YAML file may use (more is a resource-exhaustion attempt). */
const MAX_ALIASES = 100;

import type { z } from 'zod';

/** One problem found in a YAML source, with its location (1-based line and column). */
export interface SourceIssue {
  file: string;
  line: number;
  col: number;
  /** Dotted path inside the document, `adapters[2].registers[0].address`; empty for the whole file. */
  path: string;
  message: string;
  /** The rule the issue belongs to, for rule files. */
  rule?: string;
}

export type PathSegment = string | number;

/** A parsed YAML file that can answer "where is this path?" for error messages. */
export class YamlSource {
  readonly file: string;
  readonly doc: Document;
  private readonly lines: LineCounter;

  constructor(file: string, text: string) {
    this.file = file;
    this.lines = new LineCounter();
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true });
  }

  /**
   * YAML syntax errors, already located — and tags the safe core schema does not know (`!!js/function`,
   * `!custom`): they are refused rather than read as plain strings.
   */
  syntaxIssues(): SourceIssue[] {
    const tags = this.doc.warnings.filter((w) => w.code === 'TAG_RESOLVE_FAILED');
    const issues = [...this.doc.errors, ...tags].map((e) => {
      const pos = this.lines.linePos(e.pos[0]);
      return {
        file: this.file,
        line: pos.line,
        col: pos.col,
        path: '',
        message: e.message.split('\n')[0] ?? e.message,
      };
    });
    if (issues.length) return issues;
    // Aliases that expand without end (a "billion laughs" file) are refused, not expanded.
    try {
      this.toJS();
    } catch (err) {
      let at = 0;
      visit(this.doc, {
        Alias(_k, node) {
          at = node.range?.[0] ?? 0;
          return visit.BREAK;
        },
      });
      const pos = this.lines.linePos(at);
      issues.push({
        file: this.file,
        line: pos.line,
        col: pos.col,
        path: '',
        message: `cannot be read: ${(err as Error).message} (at most ${MAX_ALIASES} alias expansions)`,
      });
    }
    return issues;
  }

  /** 1-based line and column of a character offset. */
  positionOf(offset: number): { line: number; col: number } {
    const pos = this.lines.linePos(offset);
    return { line: pos.line, col: pos.col };
  }

  toJS(): unknown {
    return this.doc.toJS({ maxAliasCount: MAX_ALIASES });
  }

  /**
   * Location of the deepest node that exists along `path`. For an unknown key the key itself is
   * pointed at; for a missing key, its parent.
   */
  locate(path: readonly PathSegment[], pointAtKey = false): { line: number; col: number } {
    let node: unknown = this.doc.contents;
    let offset = (node as { range?: [number] } | null)?.range?.[0] ?? 0;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i];
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) => keyOf(p.key) === String(seg));
        if (!pair) break;
        const keyRange = (pair.key as { range?: [number] } | null)?.range;
        const valueRange = (pair.value as { range?: [number] } | null)?.range;
        offset = (last && pointAtKey ? keyRange?.[0] : (valueRange?.[0] ?? keyRange?.[0])) ?? offset;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg];
        if (item === undefined) break;
        offset = (item as { range?: [number] } | null)?.range?.[0] ?? offset;
        node = item;
      } else {
        break;
      }
    }
    const pos = this.lines.linePos(offset);
    return { line: pos.line, col: pos.col };
  }

  /** Turns zod issues into located source issues. `prefix` is prepended to each path. */
  zodIssues(error: z.ZodError, prefix: readonly PathSegment[] = []): SourceIssue[] {
    const out: SourceIssue[] = [];
    for (const issue of error.issues) {
      const base = [...prefix, ...(issue.path as PathSegment[])];
      if (issue.code === 'unrecognized_keys') {
        // The message (zod-messages.ts) has one part per key, with the nearest known key.
        const parts = issue.message.split('; ');
        for (const key of issue.keys) {
          const path = [...base, key];
          const own = parts.find((m) => m.startsWith(`unknown key ${JSON.stringify(key)}`));
          const hint = own?.match(/\(did you mean "[^"]*"\?\)$/)?.[0];
          out.push({
            file: this.file,
            ...this.locate(path, true),
            path: formatPath(path),
            message: hint ? `unknown key ${hint}` : 'unknown key',
          });
        }
        continue;
      }
      out.push({ file: this.file, ...this.locate(base), path: formatPath(base), message: issue.message });
    }
    return out;
  }
}

function keyOf(key: unknown): string {
  if (key && typeof key === 'object' && 'value' in key) return String((key as { value: unknown }).value);
  return String(key);
}

export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out;
}

/**
 * Reads a YAML file: the parsed source, or the problems — an unreadable file, syntax errors — already
 * located, so that every loader reports them the same way.
 */
export async function readYamlSource(file: string): Promise<{ src?: YamlSource; issues: SourceIssue[] }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    return { issues: [{ file, line: 1, col: 1, path: '', message: `cannot read: ${why}` }] };
  }
  const src = new YamlSource(file, text);
  const issues = src.syntaxIssues();
  return issues.length ? { issues } : { src, issues: [] };
}

/** `file:line:col: path: message`, the format every validation error is printed in. */
export function formatIssue(issue: SourceIssue): string {
  let out = `${issue.file}:${issue.line}:${issue.col}:`;
  if (issue.rule !== undefined) out += ` rule "${issue.rule}":`;
  if (issue.path) out += ` ${issue.path}:`;
  return `${out} ${issue.message}`;
}
