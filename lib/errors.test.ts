import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERRORS, FaultlineError } from './errors.js';
import { packageRoot } from './package-root.js';

describe('error catalogue', () => {
  it('docs/errors.md lists every code with its status, and nothing else', () => {
    const doc = readFileSync(join(packageRoot(), 'docs', 'errors.md'), 'utf8');
    const rows = [...doc.matchAll(/^\| `(FL_ERR_[A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]);
    expect(rows).toEqual(Object.entries(ERRORS).map(([code, e]) => [code, e.status]));
  });

  it('errors carry code, status and cause', () => {
    const cause = new Error('low level');
    const e = new FaultlineError('FL_ERR_TICKET_NOT_FOUND', 'ticket "T-1" does not exist', { cause });
    expect(e).toMatchObject({
      code: 'FL_ERR_TICKET_NOT_FOUND',
      status: 404,
      title: 'Ticket not found',
      cause,
    });
  });
});
