import { Environment } from '@marcbachmann/cel-js';

/**
 * `expr` conditions: CEL (the Common Expression Language of Kubernetes and Envoy) over one device's
 * latest metric values, by @marcbachmann/cel-js — a sandboxed, non-Turing-complete evaluator with
 * size limits; never `eval`. `matches()` is refused: it runs a JavaScript regular expression, which
 * a careless pattern can make run for minutes.
 */
export interface CompiledExpr {
  source: string;
  /** Metric names the expression reads (besides `errorCodes` and `device`). */
  variables: string[];
  /** True/false, or an error message (a metric of the wrong type, a division by zero, …). */
  evaluate(context: Record<string, unknown>): boolean | { error: string };
}

/** Names the engine provides besides metrics. */
export const EXPR_BUILTINS = ['errorCodes', 'device'] as const;

const env = new Environment({
  unlistedVariablesAreDyn: true,
  homogeneousAggregateLiterals: false,
  limits: { maxAstNodes: 500, maxDepth: 32, maxListElements: 200, maxMapEntries: 100, maxCallArguments: 16 },
});

const FORBIDDEN_FUNCTIONS = new Set(['matches']);

interface AstNode {
  op: string;
  args: unknown;
}

const isNode = (v: unknown): v is AstNode => typeof v === 'object' && v !== null && 'op' in v && 'args' in v;

/** Walks the AST: identifiers read, and calls of forbidden functions. */
function inspect(node: unknown, ids: Set<string>, calls: Set<string>): void {
  if (Array.isArray(node)) {
    for (const n of node) inspect(n, ids, calls);
    return;
  }
  if (!isNode(node)) return;
  if (node.op === 'id' && typeof node.args === 'string') ids.add(node.args);
  if ((node.op === 'call' || node.op === 'rcall') && Array.isArray(node.args)) {
    const [name] = node.args as [unknown];
    if (typeof name === 'string') calls.add(name);
  }
  inspect(node.args, ids, calls);
}

export function compileExpr(source: string): CompiledExpr | { error: string } {
  let parsed: ReturnType<typeof env.parse>;
  try {
    parsed = env.parse(source);
  } catch (err) {
    return { error: `CEL: ${firstLine((err as Error).message)}` };
  }
  const ids = new Set<string>();
  const calls = new Set<string>();
  inspect(parsed.ast, ids, calls);
  const forbidden = [...calls].filter((c) => FORBIDDEN_FUNCTIONS.has(c));
  if (forbidden.length)
    return {
      error: `CEL: ${forbidden.join(', ')}() is not allowed (regular expressions could stall the gateway); compare strings, or use startsWith/endsWith/contains`,
    };
  const checked = env.check(source);
  if (!checked.valid) return { error: `CEL: ${firstLine(String(checked.error?.message ?? checked.error))}` };
  if (checked.type !== 'bool' && checked.type !== 'dyn')
    return { error: `CEL: the expression must be true or false, it gives ${checked.type}` };
  const variables = [...ids].filter((v) => !(EXPR_BUILTINS as readonly string[]).includes(v)).sort();
  return {
    source,
    variables,
    evaluate(context) {
      try {
        const v: unknown = parsed(context);
        return typeof v === 'boolean' ? v : { error: `CEL: gave ${typeof v}, not true or false` };
      } catch (err) {
        return { error: `CEL: ${firstLine((err as Error).message)}` };
      }
    },
  };
}

function firstLine(s: string): string {
  return s.split('\n')[0]?.trim() ?? s;
}
